// Elementwise evaluations of the functions in functions.wgsl and real_f32.wgsl or
// real_f64.wgsl, which the host prepends, so that tests can compare them with float64.

struct Params {
    count: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> first: array<real>;
@group(0) @binding(2) var<storage, read> second: array<real>;
@group(0) @binding(3) var<storage, read_write> result: array<real>;

fn check_index(id: vec3<u32>, groups: vec3<u32>) -> u32 {
    return id.x + id.y * groups.x * 64u;
}

// result = exp_real(first).
@compute @workgroup_size(64)
fn evaluate_exp(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = check_index(id, groups);
    if (i < params.count) {
        result[i] = exp_real(first[i]);
    }
}

// result = softplus(first).
@compute @workgroup_size(64)
fn evaluate_softplus(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = check_index(id, groups);
    if (i < params.count) {
        result[i] = softplus(first[i]);
    }
}

// result = expm1(first).
@compute @workgroup_size(64)
fn evaluate_expm1(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = check_index(id, groups);
    if (i < params.count) {
        result[i] = expm1(first[i]);
    }
}

// result = log1p(first).
@compute @workgroup_size(64)
fn evaluate_log1p(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = check_index(id, groups);
    if (i < params.count) {
        result[i] = log1p(first[i]);
    }
}

// result = soft_hinge_change(first, second): the outputs F and the targets y.
@compute @workgroup_size(64)
fn evaluate_soft_hinge_change(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = check_index(id, groups);
    if (i < params.count) {
        result[i] = soft_hinge_change(first[i], second[i]);
    }
}
