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
//
// `update_measured` applies the same step and also measures the fraction of the update
// that rounding lost, as sums of |fl(w - u) - (w - u)| and |u| per cell. Workgroups
// reduce their invocations' sums into `partial`, and `finish_measure` adds the partial
// sums of each cell in a fixed order to the cell state's sums over the measured steps.
// WGSL has no floating-point atomics, and the fixed order makes the sums independent of
// scheduling.
//
// The steps compute in `real`: float32, or float64 in the f64 mode. Pipelines compiled
// with DF64 set (always with float32 `real`) apply the same steps to parameters kept in
// double-float: `theta` contains theta as df64 pairs, the step subtracts u in df64, and
// `w` receives delta = theta - theta_0 rounded to f32, which the other kernels read as in
// the offset formulation. The rounding they measure is that of the df64 subtraction. Every
// update pipeline binds `theta` and `theta_start`, which the others never read.
// real_f32.wgsl or real_f64.wgsl, df64.wgsl and cells.wgsl are prepended to this file.

struct Params {
    rho: real,
    keep_rho: real,
    beta1: real,
    keep_beta1: real,
    beta2: real,
    keep_beta2: real,
    eps: real,
    // 1.0, read at run time so that the compiler cannot simplify ((w - u) - w) + u to 0.
    one: real,
    count: u32,
    block: u32,
    // 1 for den(v) = sqrt(v + eps), 0 for sqrt(v) + eps.
    eps_inside: u32,
    // Workgroups per cell in update_measured.
    parts: u32,
    // Always 0, read at run time by the df64 guard.
    zero: u32,
}

// Sizes read by finish_measure.
struct MeasureParams {
    cells: u32,
    // Workgroups per cell in the measured updates of W0 and W1.
    parts_w0: u32,
    parts_w1: u32,
    _pad: u32,
}

// Values of `Cell::kind`, as `rule` in src/gpu/layout.rs numbers them.
const GD: u32 = 0u;
const RMSPROP: u32 = 1u;
const ADAM: u32 = 2u;
const GROUP: u32 = 64u;

// Whether the pipeline updates theta in df64 (`step_df64`) rather than w in `real`.
override DF64: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> w: array<real>;
@group(0) @binding(2) var<storage, read> g: array<real>;
@group(0) @binding(3) var<storage, read_write> v: array<real>;
@group(0) @binding(4) var<storage, read_write> m: array<real>;
@group(0) @binding(5) var<storage, read> cells: array<Cell>;
@group(0) @binding(6) var<storage, read> state: array<CellState>;
@group(0) @binding(7) var<storage, read_write> non_finite: array<atomic<u32>>;
@group(0) @binding(8) var<storage, read> schedule: Schedule;
@group(0) @binding(9) var<storage, read_write> counter: Schedule;
// total_from_start: theta_0's block, shared by every cell, and theta_0 + w.
@group(0) @binding(10) var<storage, read> start: array<real>;
@group(0) @binding(11) var<storage, read_write> total: array<real>;
// update_measured: (lost, intended) per (cell, workgroup).
@group(0) @binding(12) var<storage, read_write> partial: array<vec2<real>>;
// finish_measure: the partial sums of both parameter blocks, and the states to update.
@group(0) @binding(13) var<storage, read> partial_w0: array<vec2<real>>;
@group(0) @binding(14) var<storage, read> partial_w1: array<vec2<real>>;
@group(0) @binding(15) var<storage, read_write> cell_states: array<CellState>;
@group(0) @binding(16) var<uniform> measure: MeasureParams;
// With DF64: theta of every cell as df64 pairs, stacked like w, and theta_0's block as df64
// pairs, shared by every cell.
@group(0) @binding(17) var<storage, read_write> theta: array<vec2<f32>>;
@group(0) @binding(18) var<storage, read> theta_start: array<vec2<f32>>;

var<workgroup> group_sums: array<vec2<real>, GROUP>;

fn denominator(second_moment: real) -> real {
    if (params.eps_inside != 0u) {
        return sqrt(second_moment + params.eps);
    }
    return sqrt(second_moment) + params.eps;
}

// Updates the moments of element i of a cell's parameters and returns the update u that
// is subtracted from it.
fn rule_update(i: u32, cell: Cell) -> real {
    let gradient = g[i];
    let folded = cell.fold * gradient;
    var u: real;
    switch cell.kind {
        case GD: {
            u = cell.eta * gradient;
        }
        case RMSPROP: {
            let second = params.rho * v[i] + params.keep_rho * (folded * folded);
            v[i] = second;
            u = cell.eta * gradient / denominator(second);
        }
        case ADAM, default: {
            let correction = schedule.corrections[schedule.step];
            let first = params.beta1 * m[i] + params.keep_beta1 * gradient;
            let second = params.beta2 * v[i] + params.keep_beta2 * (folded * folded);
            m[i] = first;
            v[i] = second;
            u = cell.eta * (first * correction.x) / denominator(second * correction.y);
        }
    }
    return u;
}

// Applies the step to element i of `w` and returns the rounding error of w - u and |u|.
// |(new - old) + u| is that error because new - old is exact while |u| <= |old|
// (Sterbenz).
fn step_real(i: u32, cell_index: u32, cell: Cell) -> vec2<real> {
    let old = w[i];
    let u = rule_update(i, cell);
    let value = old - u;
    w[i] = value;
    if (!is_finite(value)) {
        atomicStore(&non_finite[cell_index], 1u);
    }
    return vec2<real>(abs((value * params.one - old) + u), abs(u));
}

// Applies the step to element i of `theta` in df64, writes delta = theta - theta_0 to `w`
// and returns the rounding error of theta - u and |u|. The error is measured as
// (new - old) + u in df64, where new - old of two nearby df64 values is exact to about
// 2^-48 of the difference.
fn step_df64(i: u32, cell_index: u32, cell: Cell) -> vec2<real> {
    let old = theta[i];
    let u = f32(rule_update(i, cell));
    let value = df64_add_f32(old, -u);
    theta[i] = value;
    w[i] = real(df64_to_f32(df64_sub(value, theta_start[i % params.block])));
    if (!is_finite(real(value.x))) {
        atomicStore(&non_finite[cell_index], 1u);
    }
    let lost = df64_to_f32(df64_add_f32(df64_sub(value, old), u));
    return vec2<real>(real(abs(lost)), real(abs(u)));
}

// Returns the first element of an invocation of a two-dimensional dispatch of 64-wide
// workgroups. The invocation then handles every (invocations of the dispatch)-th element
// after it, so the host may dispatch fewer workgroups than elements / 64.
fn element(id: vec3<u32>, groups: vec3<u32>) -> u32 {
    return id.x + id.y * groups.x * GROUP;
}

// Returns the number of invocations of the dispatch.
fn element_stride(groups: vec3<u32>) -> u32 {
    return groups.x * groups.y * GROUP;
}

// Applies the step to element i in the pipeline's arithmetic: df64 when DF64 is set.
fn step(i: u32, cell_index: u32, cell: Cell) -> vec2<real> {
    if (DF64) {
        return step_df64(i, cell_index, cell);
    }
    return step_real(i, cell_index, cell);
}

// The unmeasured update. Workgroup (part, cell) covers the elements
// part * 64 + local + j * parts * 64 of the cell's block, so that each invocation reads
// the cell's rule and constants once for all its elements.
@compute @workgroup_size(64)
fn update(@builtin(local_invocation_index) local: u32, @builtin(workgroup_id) group: vec3<u32>) {
    df64_set_guard(params.zero);
    let cell_index = group.y;
    if (state[cell_index].diverged_step != NOT_DIVERGED) {
        return;
    }
    let cell = cells[cell_index];
    let first = cell_index * params.block;
    for (var e = group.x * GROUP + local; e < params.block; e += params.parts * GROUP) {
        step(first + e, cell_index, cell);
    }
}

// Reduces the invocations' (lost, |u|) sums of workgroup (part, cell) and writes them to
// partial[cell * parts + part]. Called in uniform control flow by every invocation.
fn store_group_sums(local: u32, part: u32, cell_index: u32, sums: vec2<real>) {
    group_sums[local] = sums;
    workgroupBarrier();
    for (var half = GROUP / 2u; half > 0u; half /= 2u) {
        if (local < half) {
            group_sums[local] += group_sums[local + half];
        }
        workgroupBarrier();
    }
    if (local == 0u) {
        partial[cell_index * params.parts + part] = group_sums[0];
    }
}

// The update with its rounding measured, over the same elements as `update`.
@compute @workgroup_size(64)
fn update_measured(
    @builtin(local_invocation_index) local: u32,
    @builtin(workgroup_id) group: vec3<u32>,
) {
    df64_set_guard(params.zero);
    let part = group.x;
    let cell_index = group.y;
    var sums = vec2<real>(0.0);
    if (state[cell_index].diverged_step == NOT_DIVERGED) {
        let cell = cells[cell_index];
        let first = cell_index * params.block;
        for (var e = part * GROUP + local; e < params.block; e += params.parts * GROUP) {
            sums += step(first + e, cell_index, cell);
        }
    }
    store_group_sums(local, part, cell_index, sums);
}

// One invocation per cell: adds the partial sums of W0 and W1 in order to the cell's sums
// over the measured steps. A step whose sums are not finite (a diverging cell) is left out.
@compute @workgroup_size(64)
fn finish_measure(@builtin(global_invocation_id) id: vec3<u32>) {
    let cell = id.x;
    if (cell >= measure.cells) {
        return;
    }
    var sums = vec2<real>(0.0);
    for (var part = 0u; part < measure.parts_w0; part++) {
        sums += partial_w0[cell * measure.parts_w0 + part];
    }
    for (var part = 0u; part < measure.parts_w1; part++) {
        sums += partial_w1[cell * measure.parts_w1 + part];
    }
    if (is_finite(sums.x) && is_finite(sums.y)) {
        cell_states[cell].lost_sum += sums.x;
        cell_states[cell].intended_sum += sums.y;
    }
}

// Writes total = start + w for every cell, where start is one block shared by every cell:
// the full W1 = W1_0 + delta W1 that the backward pass of the offset formulation needs.
@compute @workgroup_size(64)
fn total_from_start(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    for (var i = element(id, groups); i < params.count; i += element_stride(groups)) {
        total[i] = start[i % params.block] + w[i];
    }
}

// Advances the step counter that `update` and `finish_loss` read; one invocation.
@compute @workgroup_size(1)
fn advance_step() {
    counter.step += 1u;
}
