// Scaled softplus sigma(u) = (a / 5) softplus(5 u) and its derivative
// sigma'(u) = a logistic(5 u), elementwise.
//
// Dispatches are two-dimensional so that more than 65535 workgroups of 64 can be used:
// element index = id.x + id.y * (workgroups along x) * 64.

struct Params {
    count: u32,
    a: f32,
    _pad0: u32,
    _pad1: u32,
}

const BETA: f32 = 5.0;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> zhat: array<f32>;
@group(0) @binding(2) var<storage, read_write> z: array<f32>;
@group(0) @binding(3) var<storage, read_write> dsigma: array<f32>;
@group(0) @binding(4) var<storage, read_write> delta: array<f32>;
@group(0) @binding(5) var<storage, read> derivative: array<f32>;

// Returns ln(1 + e) for 0 <= e <= 1. WGSL has no log1p: below 1e-3 a three-term series
// (relative error under e^3 / 4 <= 2.5e-10) replaces log(1 + e), whose rounding of 1 + e
// would lose most digits of a small e.
fn log1p_small(e: f32) -> f32 {
    if (e < 1e-3) {
        return e * (1.0 - e * (0.5 - e / 3.0));
    }
    return log(1.0 + e);
}

// Returns ln(1 + exp(x)) as max(x, 0) + ln(1 + exp(-|x|)), which never overflows.
fn softplus(x: f32) -> f32 {
    return max(x, 0.0) + log1p_small(exp(-abs(x)));
}

// Returns 1 / (1 + exp(-x)) from exp(-|x|), which never overflows.
fn logistic(x: f32) -> f32 {
    let e = exp(-abs(x));
    if (x >= 0.0) {
        return 1.0 / (1.0 + e);
    }
    return e / (1.0 + e);
}

fn element_index(id: vec3<u32>, groups: vec3<u32>) -> u32 {
    return id.x + id.y * groups.x * 64u;
}

// Writes z = sigma(zhat) and dsigma = sigma'(zhat).
@compute @workgroup_size(64)
fn activate(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element_index(id, groups);
    if (i >= params.count) {
        return;
    }
    let x = BETA * zhat[i];
    z[i] = params.a / BETA * softplus(x);
    dsigma[i] = params.a * logistic(x);
}

// Multiplies delta by sigma'(zhat) in place, turning dL/dz into dL/dzhat.
@compute @workgroup_size(64)
fn apply_derivative(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = element_index(id, groups);
    if (i >= params.count) {
        return;
    }
    delta[i] *= derivative[i];
}
