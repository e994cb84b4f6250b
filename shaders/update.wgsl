// One optimizer step for every parameter of every cell of a batch, and the step counter.
//
// Parameters are stacked cell by cell, `block` elements per cell, and each cell reads its
// rule, alpha and eta from `cells`. The rules, with fold = alpha for the modified variants
// and 1 otherwise, and den(v) = sqrt(v) + eps or sqrt(v + eps):
//   GD:       w -= eta g
//   RMSProp:  v = rho v + (1 - rho) (fold g)^2;  w -= eta g / den(v)
//   Adam:     m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) (fold g)^2;
//             w -= eta (m c_m) / den(v c_v), with the bias corrections c_m = 1 / (1 - beta1^(t+1))
//             and c_v = 1 / (1 - beta2^(t+1)) computed in float64 on the host.
// A cell whose state says it diverged is frozen: none of its values change, and a
// non-finite new value only raises that cell's flag in `non_finite`.

struct Params {
    count: u32,
    block: u32,
    // 1 for den(v) = sqrt(v + eps), 0 for sqrt(v) + eps.
    eps_inside: u32,
    _pad0: u32,
    rho: f32,
    keep_rho: f32,
    beta1: f32,
    keep_beta1: f32,
    beta2: f32,
    keep_beta2: f32,
    eps: f32,
    _pad1: u32,
}

struct Cell {
    kind: u32,
    alpha: f32,
    eta: f32,
    fold: f32,
    loss_scale: f32,
    gradient_scale: f32,
    _pad0: u32,
    _pad1: u32,
}

struct CellState {
    loss0: f32,
    last_loss: f32,
    diverged_step: u32,
    train_correct: u32,
}

struct Schedule {
    step: u32,
    _pad: u32,
    // (c_m, c_v) of each step.
    corrections: array<vec2<f32>>,
}

// Values of `Cell::kind`, in the order of the Rust enum `GpuRule`.
const GD: u32 = 0u;
const RMSPROP: u32 = 1u;
const ADAM: u32 = 2u;
const NOT_DIVERGED: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> m: array<f32>;
@group(0) @binding(5) var<storage, read> cells: array<Cell>;
@group(0) @binding(6) var<storage, read> state: array<CellState>;
@group(0) @binding(7) var<storage, read_write> non_finite: array<atomic<u32>>;
@group(0) @binding(8) var<storage, read> schedule: Schedule;
@group(0) @binding(9) var<storage, read_write> counter: Schedule;

fn is_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

fn denominator(second_moment: f32) -> f32 {
    if (params.eps_inside != 0u) {
        return sqrt(second_moment + params.eps);
    }
    return sqrt(second_moment) + params.eps;
}

@compute @workgroup_size(64)
fn update(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 64u;
    if (i >= params.count) {
        return;
    }
    let cell_index = i / params.block;
    if (state[cell_index].diverged_step != NOT_DIVERGED) {
        return;
    }
    let cell = cells[cell_index];
    let gradient = g[i];
    let folded = cell.fold * gradient;
    var value = w[i];

    switch cell.kind {
        case GD: {
            value -= cell.eta * gradient;
        }
        case RMSPROP: {
            let second = params.rho * v[i] + params.keep_rho * (folded * folded);
            v[i] = second;
            value -= cell.eta * gradient / denominator(second);
        }
        case ADAM, default: {
            let correction = schedule.corrections[schedule.step];
            let first = params.beta1 * m[i] + params.keep_beta1 * gradient;
            let second = params.beta2 * v[i] + params.keep_beta2 * (folded * folded);
            m[i] = first;
            v[i] = second;
            value -= cell.eta * (first * correction.x) / denominator(second * correction.y);
        }
    }

    w[i] = value;
    if (!is_finite(value)) {
        atomicStore(&non_finite[cell_index], 1u);
    }
}

// Advances the step counter that `update` and `finish_loss` read; one invocation.
@compute @workgroup_size(1)
fn advance_step() {
    counter.step += 1u;
}
