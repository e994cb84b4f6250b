// Soft-hinge loss of every cell, its gradient with respect to the outputs f, and the
// per-cell divergence check.
//
// With F = alpha (f - f0), y = +1 for the true class and -1 for the others, and beta_l = 20:
//   loss  L  = sum over samples and classes of softplus(beta_l (1 - F y)) / beta_l,
//              divided by alpha^2 n
//   dL/df    = -y logistic(beta_l (1 - F y)) / (alpha n)
// `loss_rows` handles one (sample, cell) pair per invocation and writes the sample's loss
// term; `finish_loss` then adds the terms of each cell in a fixed order, so the result does
// not depend on scheduling.

struct Params {
    // Samples in this chunk, and the index of its first sample in the training set.
    rows: u32,
    row_offset: u32,
    cells: u32,
    // Training samples n.
    samples: u32,
    // 1 when every step's loss is written to `losses`.
    record: u32,
    divergence_factor: f32,
    _pad0: u32,
    _pad1: u32,
}

struct Cell {
    kind: u32,
    alpha: f32,
    eta: f32,
    fold: f32,
    // 1 / (alpha^2 n) and 1 / (alpha n), rounded from float64.
    loss_scale: f32,
    gradient_scale: f32,
    _pad0: u32,
    _pad1: u32,
}

struct CellState {
    loss0: f32,
    last_loss: f32,
    // Step at which the cell diverged, or NOT_DIVERGED.
    diverged_step: u32,
    train_correct: u32,
}

struct Schedule {
    step: u32,
    _pad: u32,
    corrections: array<vec2<f32>>,
}

const CLASSES: u32 = 10u;
const BETA_LOSS: f32 = 20.0;
const NOT_DIVERGED: u32 = 0xffffffffu;
const NAN_BITS: u32 = 0x7fc00000u;
// Terms added in one inner block of `finish_loss`, so that the float32 sum is two-level.
const SUM_BLOCK: u32 = 128u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> f: array<f32>;
@group(0) @binding(2) var<storage, read> f0: array<f32>;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read> cells: array<Cell>;
@group(0) @binding(5) var<storage, read_write> gf: array<f32>;
@group(0) @binding(6) var<storage, read_write> row_loss: array<f32>;
@group(0) @binding(7) var<storage, read_write> row_correct: array<u32>;
@group(0) @binding(8) var<storage, read_write> state: array<CellState>;
@group(0) @binding(9) var<storage, read_write> non_finite: array<atomic<u32>>;
@group(0) @binding(10) var<storage, read_write> losses: array<f32>;
@group(0) @binding(11) var<storage, read> schedule: Schedule;

// See activation.wgsl for why these forms are stable.
fn log1p_small(e: f32) -> f32 {
    if (e < 1e-3) {
        return e * (1.0 - e * (0.5 - e / 3.0));
    }
    return log(1.0 + e);
}

fn softplus(x: f32) -> f32 {
    return max(x, 0.0) + log1p_small(exp(-abs(x)));
}

fn logistic(x: f32) -> f32 {
    let e = exp(-abs(x));
    if (x >= 0.0) {
        return 1.0 / (1.0 + e);
    }
    return e / (1.0 + e);
}

// Tests the exponent bits, which the compiler cannot fold away the way it may fold x != x.
fn is_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}

// f, gf: [cell][row][class] for the rows of this chunk; f0: [sample][class] over the whole
// training set; row_loss, row_correct: [cell][sample].
@compute @workgroup_size(64)
fn loss_rows(@builtin(global_invocation_id) id: vec3<u32>) {
    let row = id.x;
    let cell = id.y;
    if (row >= params.rows || cell >= params.cells) {
        return;
    }
    let sample = params.row_offset + row;
    let label = labels[sample];
    let alpha = cells[cell].alpha;
    let gradient_scale = cells[cell].gradient_scale;
    let at = (cell * params.rows + row) * CLASSES;

    var total = 0.0;
    var best = 0u;
    var best_output = 0.0;
    for (var k = 0u; k < CLASSES; k++) {
        let output = alpha * (f[at + k] - f0[sample * CLASSES + k]);
        var y = -1.0;
        if (k == label) {
            y = 1.0;
        }
        let margin = BETA_LOSS * (1.0 - output * y);
        total += softplus(margin) / BETA_LOSS;
        gf[at + k] = -y * logistic(margin) * gradient_scale;
        // The first maximum wins, as in the CPU engine.
        if (k == 0u || output > best_output) {
            best = k;
            best_output = output;
        }
    }
    row_loss[cell * params.samples + sample] = total;
    row_correct[cell * params.samples + sample] = select(0u, 1u, best == label);
}

// One invocation per cell: adds the loss terms, records the loss, and marks the cell
// diverged when the last update left a non-finite parameter or the loss is non-finite or
// above divergence_factor times the loss at theta_0.
@compute @workgroup_size(64)
fn finish_loss(@builtin(global_invocation_id) id: vec3<u32>) {
    let cell = id.x;
    if (cell >= params.cells || state[cell].diverged_step != NOT_DIVERGED) {
        return;
    }
    let step = schedule.step;
    if (atomicLoad(&non_finite[cell]) != 0u) {
        state[cell].diverged_step = step;
        state[cell].last_loss = bitcast<f32>(NAN_BITS);
        return;
    }

    let first = cell * params.samples;
    var total = 0.0;
    var correct = 0u;
    for (var start = 0u; start < params.samples; start += SUM_BLOCK) {
        let end = min(start + SUM_BLOCK, params.samples);
        var block = 0.0;
        for (var i = start; i < end; i++) {
            block += row_loss[first + i];
            correct += row_correct[first + i];
        }
        total += block;
    }
    let loss = total * cells[cell].loss_scale;

    if (step == 0u) {
        state[cell].loss0 = loss;
    }
    if (params.record != 0u) {
        losses[step * params.cells + cell] = loss;
    }
    state[cell].last_loss = loss;
    state[cell].train_correct = correct;
    if (!is_finite(loss) || loss > params.divergence_factor * state[cell].loss0) {
        state[cell].diverged_step = step;
    }
}
