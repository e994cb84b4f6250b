// The per-cell structs that the loss and update kernels share. The host prepends this file
// to loss.wgsl and update.wgsl; `Cell`, `CellState` and the schedule mirror `CellParams`,
// `CellState` and `schedule` in src/gpu/layout.rs.

// Constants of one cell: its rule, alpha and eta, and the scales derived from them.
struct Cell {
    // Rule: GD, RMSPROP or ADAM in update.wgsl.
    kind: u32,
    alpha: f32,
    eta: f32,
    // alpha for the modified rules, which fold it into the second moment, and 1 otherwise.
    fold: f32,
    // 1 / (alpha^2 n) and 1 / (alpha n), rounded from float64.
    loss_scale: f32,
    gradient_scale: f32,
    _pad0: u32,
    _pad1: u32,
}

// What the kernels record about one cell while it trains.
struct CellState {
    loss0: f32,
    last_loss: f32,
    // Step at which the cell diverged, or NOT_DIVERGED.
    diverged_step: u32,
    train_correct: u32,
    // Magnitude of the updates lost to rounding, summed over the measured steps by
    // update.wgsl; `intended_sum` is the magnitude of the updates themselves.
    lost_sum: f32,
    // Squared norms of f and f - f0 over the training set at the last loss evaluation.
    output_sq: f32,
    change_sq: f32,
    intended_sum: f32,
}

// The step counter and Adam's bias corrections.
struct Schedule {
    step: u32,
    _pad: u32,
    // (c_m, c_v) of each step.
    corrections: array<vec2<f32>>,
}

const NOT_DIVERGED: u32 = 0xffffffffu;
