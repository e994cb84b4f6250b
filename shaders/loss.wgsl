// Soft-hinge loss of every cell, its gradient with respect to the outputs f, and the
// per-cell divergence check.
//
// With F = alpha (f - f0), y = +1 for the true class and -1 for the others, and beta_l = 20:
//   loss  L  = sum over samples and classes of softplus(beta_l (1 - F y)) / beta_l,
//              divided by alpha^2 n
//   dL/df    = -y logistic(beta_l (1 - F y)) / (alpha n)
// `loss_rows` handles one (sample, cell) pair per invocation and writes the sample's loss
// term, its change from theta_0 and the squared norms of f and f - f0; `finish_loss` then
// adds the terms of each cell in a fixed order, so the result does not depend on
// scheduling. In the offset formulation f already holds f - f0 and f0 is zero. With
// `df64_sums` set, `finish_loss` adds the loss terms and their changes in df64.
// real_f32.wgsl or real_f64.wgsl, functions.wgsl, df64.wgsl and cells.wgsl are
// prepended to this file.

struct Params {
    // Samples in this chunk, and the index of its first sample in the training set.
    rows: u32,
    row_offset: u32,
    cells: u32,
    // Training samples n.
    samples: u32,
    // 1 when every step's loss and loss change are written to `losses` and `loss_changes`.
    record: u32,
    divergence_factor: f32,
    // 1 when finish_loss adds the loss terms and loss changes in df64.
    df64_sums: u32,
    // Always 0, read at run time by the df64 guard.
    zero: u32,
}

const CLASSES: u32 = 10u;
const NAN_BITS: u32 = 0x7fc00000u;
// Terms added in one inner block of `finish_loss`, so that the float32 sum is two-level.
const SUM_BLOCK: u32 = 128u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> f: array<real>;
@group(0) @binding(2) var<storage, read> f0: array<real>;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read> cells: array<Cell>;
@group(0) @binding(5) var<storage, read_write> gf: array<real>;
// (loss term, loss change, |f|^2, |f - f0|^2) of each (cell, sample).
@group(0) @binding(6) var<storage, read_write> row_terms: array<vec4<real>>;
@group(0) @binding(7) var<storage, read_write> row_correct: array<u32>;
@group(0) @binding(8) var<storage, read_write> state: array<CellState>;
@group(0) @binding(9) var<storage, read_write> non_finite: array<atomic<u32>>;
@group(0) @binding(10) var<storage, read_write> losses: array<real>;
@group(0) @binding(11) var<storage, read> schedule: Schedule;
@group(0) @binding(12) var<storage, read_write> loss_changes: array<real>;
// f - f0 of each (cell, sample, class) at the latest step, written only when recording.
@group(0) @binding(13) var<storage, read_write> output_changes: array<real>;

// f, gf: [cell][row][class] for the rows of this chunk; f0: [sample][class] over the whole
// training set; row_terms, row_correct: [cell][sample].
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

    var total: real = 0.0;
    var total_change: real = 0.0;
    var output_sq: real = 0.0;
    var change_sq: real = 0.0;
    var best = 0u;
    var best_output: real = 0.0;
    for (var k = 0u; k < CLASSES; k++) {
        let formed = f[at + k];
        let change = formed - f0[sample * CLASSES + k];
        output_sq += formed * formed;
        change_sq += change * change;
        if (params.record != 0u) {
            output_changes[(cell * params.samples + sample) * CLASSES + k] = change;
        }
        let output = alpha * change;
        var y: real = -1.0;
        if (k == label) {
            y = 1.0;
        }
        let margin = BETA_LOSS * (1.0 - output * y);
        total += softplus(margin) / BETA_LOSS;
        if (params.record != 0u) {
            total_change += soft_hinge_change(output, y);
        }
        gf[at + k] = -y * logistic(margin) * gradient_scale;
        // The first maximum wins, as in the CPU engine.
        if (k == 0u || output > best_output) {
            best = k;
            best_output = output;
        }
    }
    row_terms[cell * params.samples + sample] = vec4<real>(total, total_change, output_sq, change_sq);
    row_correct[cell * params.samples + sample] = select(0u, 1u, best == label);
}

// One invocation per cell: adds the loss terms, records the loss and its change, keeps the
// squared output norms, and marks the cell
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
        state[cell].last_loss = real(bitcast<f32>(NAN_BITS));
        return;
    }

    let first = cell * params.samples;
    var total = vec4<real>(0.0);
    var correct = 0u;
    if (params.df64_sums != 0u) {
        df64_set_guard(params.zero);
        var loss_sum = df64_from_f32(0.0);
        var change_sum = df64_from_f32(0.0);
        for (var i = 0u; i < params.samples; i++) {
            let terms = row_terms[first + i];
            loss_sum = df64_add_f32(loss_sum, f32(terms.x));
            change_sum = df64_add_f32(change_sum, f32(terms.y));
            total += vec4<real>(0.0, 0.0, terms.z, terms.w);
            correct += row_correct[first + i];
        }
        total.x = real(df64_to_f32(loss_sum));
        total.y = real(df64_to_f32(change_sum));
    } else {
        for (var start = 0u; start < params.samples; start += SUM_BLOCK) {
            let end = min(start + SUM_BLOCK, params.samples);
            var block = vec4<real>(0.0);
            for (var i = start; i < end; i++) {
                block += row_terms[first + i];
                correct += row_correct[first + i];
            }
            total += block;
        }
    }
    let loss = total.x * cells[cell].loss_scale;

    if (step == 0u) {
        state[cell].loss0 = loss;
    }
    if (params.record != 0u) {
        losses[step * params.cells + cell] = loss;
        loss_changes[step * params.cells + cell] = total.y * cells[cell].loss_scale;
    }
    state[cell].last_loss = loss;
    state[cell].output_sq = total.z;
    state[cell].change_sq = total.w;
    state[cell].train_correct = correct;
    if (!is_finite(loss) || loss > real(params.divergence_factor) * state[cell].loss0) {
        state[cell].diverged_step = step;
    }
}
