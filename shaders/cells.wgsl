// The per-cell structs that the loss and update kernels share. The host prepends this file
// to loss.wgsl and update.wgsl, after real_f32.wgsl or real_f64.wgsl; `Cell`, `CellState`
// and the schedule mirror `CellParams`, `CellState` and `schedule` in src/gpu/layout.rs.
// The `real` fields come first, so that one host layout serves float32 and float64.

// Constants of one cell: alpha and eta, the scales derived from them, and its rule.
struct Cell {
    alpha: real,
    eta: real,
    // alpha for the modified rules, which fold it into the second moment, and 1 otherwise.
    fold: real,
    // 1 / (alpha^2 n) and 1 / (alpha n), rounded from float64.
    loss_scale: real,
    gradient_scale: real,
    // Rule: GD, RMSPROP or ADAM in update.wgsl.
    kind: u32,
}

// What the kernels record about one cell while it trains.
struct CellState {
    loss0: real,
    last_loss: real,
    // Magnitude of the updates lost to rounding, summed over the measured steps by
    // update.wgsl; `intended_sum` is the magnitude of the updates themselves.
    lost_sum: real,
    intended_sum: real,
    // Squared norms of f and f - f0 over the training set at the last loss evaluation.
    output_sq: real,
    change_sq: real,
    // Step at which the cell diverged, or NOT_DIVERGED.
    diverged_step: u32,
    train_correct: u32,
}

// The step counter and Adam's bias corrections.
struct Schedule {
    step: u32,
    // (c_m, c_v) of each step, from offset 2 * REAL_BYTES.
    corrections: array<vec2<real>>,
}

const NOT_DIVERGED: u32 = 0xffffffffu;
