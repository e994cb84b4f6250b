//! Host mirrors of the structs the shaders read, field for field, and the sizes of a batch.

use bytemuck::{Pod, Zeroable};

use crate::engine::CellSpec;
use crate::optim::{EpsPlacement, OptimizerKind, OptimizerSettings, Update};

/// `CellState::diverged_step` of a cell that is still training.
pub(crate) const NOT_DIVERGED: u32 = u32::MAX;

/// Returns the update rule as update.wgsl numbers it. The modified variants differ from
/// the plain ones only in `fold`.
fn rule(kind: OptimizerKind) -> u32 {
    match kind {
        OptimizerKind::Gd => 0,
        OptimizerKind::Rmsprop | OptimizerKind::ModifiedRmsprop => 1,
        OptimizerKind::Adam | OptimizerKind::ModifiedAdam => 2,
    }
}

/// `Cell` in cells.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct CellParams {
    kind: u32,
    alpha: f32,
    eta: f32,
    fold: f32,
    loss_scale: f32,
    gradient_scale: f32,
    pad: [u32; 2],
}

impl CellParams {
    /// Rounds the cell's constants to float32, after forming 1 / (alpha^2 n) and
    /// 1 / (alpha n) in float64.
    pub(crate) fn new(cell: &CellSpec, samples: usize) -> Self {
        let n = samples as f64;
        Self {
            kind: rule(cell.optimizer),
            alpha: cell.alpha as f32,
            eta: cell.eta as f32,
            fold: cell.optimizer.fold(cell.alpha) as f32,
            loss_scale: (1.0 / (cell.alpha * cell.alpha * n)) as f32,
            gradient_scale: (1.0 / (cell.alpha * n)) as f32,
            pad: [0; 2],
        }
    }
}

/// `CellState` in cells.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable, Debug)]
pub(crate) struct CellState {
    pub loss0: f32,
    pub last_loss: f32,
    pub diverged_step: u32,
    pub train_correct: u32,
    /// Magnitude of the updates lost to rounding, summed over the measured steps.
    pub lost_sum: f32,
    /// Squared norms of f as formed and of f - f0 on the training set at the last loss.
    pub output_sq: f32,
    pub change_sq: f32,
    /// Magnitude of the intended updates, summed over the measured steps.
    pub intended_sum: f32,
}

impl CellState {
    pub(crate) fn initial() -> Self {
        Self {
            loss0: f32::NAN,
            last_loss: f32::NAN,
            diverged_step: NOT_DIVERGED,
            train_correct: 0,
            lost_sum: 0.0,
            output_sq: f32::NAN,
            change_sq: f32::NAN,
            intended_sum: 0.0,
        }
    }

    /// Returns the fraction of the measured updates that rounding lost, 0 when no update
    /// was measured.
    pub(crate) fn lost_update(&self) -> f64 {
        if self.intended_sum > 0.0 {
            f64::from(self.lost_sum) / f64::from(self.intended_sum)
        } else {
            0.0
        }
    }

    pub(crate) fn diverged(&self) -> Option<u64> {
        (self.diverged_step != NOT_DIVERGED).then_some(u64::from(self.diverged_step))
    }
}

/// `Params` in activation.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct ActivationParams {
    pub count: u32,
    pub a: f32,
    pub hidden: u32,
    /// Values per row of zhat: cells x hidden.
    pub width: u32,
}

/// `Params` in loss.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct LossParams {
    pub rows: u32,
    pub row_offset: u32,
    pub cells: u32,
    pub samples: u32,
    pub record: u32,
    pub divergence_factor: f32,
    /// 1 when `finish_loss` adds the terms of each cell in df64.
    pub df64_sums: u32,
    /// Always 0, read at run time by the df64 functions' guard.
    pub zero: u32,
}

/// `Params` in output_df64.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct OutputParams {
    pub rows: u32,
    pub cells: u32,
    pub hidden: u32,
    pub width: u32,
    /// 1 / sqrt(h) as a df64 pair.
    pub scale: [f32; 2],
    pub zero: u32,
    pub pad: u32,
}

/// Returns `value` as a df64 pair (hi, lo): hi is the nearest f32 and lo the nearest f32
/// to the remainder, so hi + lo carries about 48 significant bits of `value`.
pub(crate) fn df64_pair(value: f64) -> [f32; 2] {
    let hi = value as f32;
    [hi, (value - f64::from(hi)) as f32]
}

/// `Params` in update.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct UpdateParams {
    count: u32,
    block: u32,
    eps_inside: u32,
    pad0: u32,
    rho: f32,
    keep_rho: f32,
    beta1: f32,
    keep_beta1: f32,
    beta2: f32,
    keep_beta2: f32,
    eps: f32,
    one: f32,
    parts: u32,
    zero: u32,
    pad1: [u32; 2],
}

impl UpdateParams {
    /// Forms 1 - rho, 1 - beta1 and 1 - beta2 in float64 before rounding to float32.
    /// `parts` is the number of workgroups per cell of the measured update.
    pub(crate) fn new(
        settings: &OptimizerSettings,
        count: usize,
        block: usize,
        parts: u32,
    ) -> Self {
        Self {
            count: count as u32,
            block: block as u32,
            eps_inside: u32::from(settings.eps_placement == EpsPlacement::Inside),
            pad0: 0,
            rho: settings.rho as f32,
            keep_rho: (1.0 - settings.rho) as f32,
            beta1: settings.adam_beta1 as f32,
            keep_beta1: (1.0 - settings.adam_beta1) as f32,
            beta2: settings.adam_beta2 as f32,
            keep_beta2: (1.0 - settings.adam_beta2) as f32,
            eps: settings.eps as f32,
            one: 1.0,
            parts,
            zero: 0,
            pad1: [0; 2],
        }
    }
}

/// `MeasureParams` in update.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct MeasureParams {
    pub cells: u32,
    pub parts_w0: u32,
    pub parts_w1: u32,
    pub pad: u32,
}

/// `Params` in metrics.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub(crate) struct MetricsParams {
    pub rows: u32,
    pub row_offset: u32,
    pub cells: u32,
    pub hidden: u32,
    pub words: u32,
    pub block: u32,
    pub parts: u32,
    pub pad: u32,
}

/// Returns the contents of the `Schedule` buffer: the step counter (0), padding, then
/// Adam's bias corrections (c_m, c_v) for each step, taken from the CPU's `Update`.
pub(crate) fn schedule(settings: &OptimizerSettings, steps: u64) -> Vec<u32> {
    let mut words = vec![0u32, 0u32];
    for t in 0..steps.max(1) {
        let update = Update::new(OptimizerKind::Adam, 1.0, 1.0, settings, t);
        words.push((update.m_correction as f32).to_bits());
        words.push((update.v_correction as f32).to_bits());
    }
    words
}
