// Scaled softplus sigma(u) = (a / 5) softplus(5 u) and its derivative
// sigma'(u) = a logistic(5 u), elementwise, in `real`. real_f32.wgsl or real_f64.wgsl and
// functions.wgsl are prepended to this file.
//
// Dispatches are two-dimensional so that more than 65535 workgroups of 64 can be used.
// An invocation handles elements id.x + id.y * (workgroups along x) * 64 and every
// (invocations of the dispatch)-th element after it, so the host may dispatch fewer
// workgroups than elements / 64.

struct Params {
    a: real,
    count: u32,
    // Hidden units h and the width (cells x h) of a row of zhat; read by activate_offset.
    hidden: u32,
    width: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> zhat: array<real>;
@group(0) @binding(2) var<storage, read_write> z: array<real>;
@group(0) @binding(3) var<storage, read_write> dsigma: array<real>;
@group(0) @binding(4) var<storage, read_write> delta: array<real>;
@group(0) @binding(5) var<storage, read> derivative: array<real>;
// activate_offset: sigma(zhat) - sigma(zhat_0), laid out like z.
@group(0) @binding(6) var<storage, read_write> change: array<real>;
// activate_offset: zhat_0, logistic(beta zhat_0) and sigma(zhat_0), [row][hidden], shared by
// every cell.
@group(0) @binding(7) var<storage, read> zhat0: array<real>;
@group(0) @binding(8) var<storage, read> logistic0: array<real>;
@group(0) @binding(9) var<storage, read> z0: array<real>;

fn element_index(id: vec3<u32>, groups: vec3<u32>) -> u32 {
    return id.x + id.y * groups.x * 64u;
}

// Returns the number of invocations of the dispatch, the stride between the elements of
// one invocation.
fn element_stride(groups: vec3<u32>) -> u32 {
    return groups.x * groups.y * 64u;
}

// Writes z = sigma(zhat) and dsigma = sigma'(zhat).
@compute @workgroup_size(64)
fn activate(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = element_index(id, groups); i < params.count; i += element_stride(groups)) {
        let x = BETA * zhat[i];
        z[i] = params.a / BETA * softplus(x);
        dsigma[i] = params.a * logistic(x);
    }
}

// The offset formulation: zhat holds e = zhat - zhat_0. Writes the change
// sigma(zhat_0 + e) - sigma(zhat_0) without subtracting two values of sigma, then
// z = sigma(zhat_0) + change and dsigma = sigma'(zhat_0 + e).
@compute @workgroup_size(64)
fn activate_offset(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = element_index(id, groups); i < params.count; i += element_stride(groups)) {
        let start = (i / params.width) * params.hidden + i % params.hidden;
        let e = zhat[i];
        let u0 = zhat0[start];
        let sigma0 = z0[start];
        let dz = activation_change(params.a, u0, logistic0[start], sigma0, e);
        change[i] = dz;
        z[i] = sigma0 + dz;
        dsigma[i] = params.a * logistic(BETA * (u0 + e));
    }
}

// Multiplies delta by sigma'(zhat) in place, turning dL/dz into dL/dzhat.
@compute @workgroup_size(64)
fn apply_derivative(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = element_index(id, groups); i < params.count; i += element_stride(groups)) {
        delta[i] *= derivative[i];
    }
}
