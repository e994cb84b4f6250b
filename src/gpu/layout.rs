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

/// The floating-point type of a batch's values on the GPU: `real` in the shaders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    F32,
    /// Needs an adapter with 64-bit floats in shaders (`wgpu::Features::SHADER_F64`).
    F64,
}

impl Scalar {
    /// Bytes of one value.
    pub fn bytes(self) -> u64 {
        match self {
            Scalar::F32 => 4,
            Scalar::F64 => 8,
        }
    }

    /// Returns the WGSL file that declares `real` and its functions, which the host prepends to
    /// every training kernel.
    pub(crate) fn prelude(self) -> &'static str {
        match self {
            Scalar::F32 => include_str!("../../shaders/real_f32.wgsl"),
            Scalar::F64 => include_str!("../../shaders/real_f64.wgsl"),
        }
    }

    /// Rounds `values` to this type and returns their bytes.
    pub(crate) fn encode(self, values: &[f64]) -> Vec<u8> {
        match self {
            Scalar::F32 => values
                .iter()
                .flat_map(|&v| (v as f32).to_le_bytes())
                .collect(),
            Scalar::F64 => values.iter().flat_map(|&v| v.to_le_bytes()).collect(),
        }
    }

    /// Returns the values of this type stored in `bytes`.
    pub(crate) fn decode(self, bytes: &[u8]) -> Vec<f64> {
        match self {
            Scalar::F32 => bytes
                .chunks_exact(4)
                .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect(),
            Scalar::F64 => bytes
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("eight bytes")))
                .collect(),
        }
    }
}

/// Writes a shader struct whose `real` fields all come before its u32 fields, so that no
/// field needs padding in front of it in either scalar type. `finish` pads the end to the
/// struct's alignment, which makes the result also the stride of an array of the struct.
pub(crate) struct Fields {
    scalar: Scalar,
    bytes: Vec<u8>,
    words: usize,
}

impl Fields {
    pub(crate) fn new(scalar: Scalar) -> Self {
        Self {
            scalar,
            bytes: Vec::new(),
            words: 0,
        }
    }

    /// Appends a `real` field.
    pub(crate) fn real(mut self, value: f64) -> Self {
        assert_eq!(self.words, 0, "real fields come before u32 fields");
        self.bytes.extend(self.scalar.encode(&[value]));
        self
    }

    /// Appends a u32 field.
    pub(crate) fn word(mut self, value: u32) -> Self {
        self.bytes.extend(value.to_le_bytes());
        self.words += 1;
        self
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        let align = self.scalar.bytes() as usize;
        self.bytes
            .resize(self.bytes.len().next_multiple_of(align), 0);
        self.bytes
    }
}

/// `Cell` in cells.wgsl.
#[derive(Clone, Copy)]
pub(crate) struct CellParams {
    kind: u32,
    alpha: f64,
    eta: f64,
    fold: f64,
    loss_scale: f64,
    gradient_scale: f64,
}

impl CellParams {
    /// Forms 1 / (alpha^2 n) and 1 / (alpha n) in float64; `bytes` rounds them.
    pub(crate) fn new(cell: &CellSpec, samples: usize) -> Self {
        let n = samples as f64;
        Self {
            kind: rule(cell.optimizer),
            alpha: cell.alpha,
            eta: cell.eta,
            fold: cell.optimizer.fold(cell.alpha),
            loss_scale: 1.0 / (cell.alpha * cell.alpha * n),
            gradient_scale: 1.0 / (cell.alpha * n),
        }
    }

    /// Returns the array of `cells` as the shaders read it.
    pub(crate) fn bytes(cells: &[Self], scalar: Scalar) -> Vec<u8> {
        cells
            .iter()
            .flat_map(|cell| {
                Fields::new(scalar)
                    .real(cell.alpha)
                    .real(cell.eta)
                    .real(cell.fold)
                    .real(cell.loss_scale)
                    .real(cell.gradient_scale)
                    .word(cell.kind)
                    .finish()
            })
            .collect()
    }
}

/// `CellState` in cells.wgsl, with its `real` fields widened to f64.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CellState {
    pub loss0: f64,
    pub last_loss: f64,
    /// Magnitude of the updates lost to rounding, summed over the measured steps.
    pub lost_sum: f64,
    /// Magnitude of the intended updates, summed over the measured steps.
    pub intended_sum: f64,
    /// Squared norms of f as formed and of f - f0 on the training set at the last loss.
    pub output_sq: f64,
    pub change_sq: f64,
    pub diverged_step: u32,
    pub train_correct: u32,
}

impl CellState {
    pub(crate) fn initial() -> Self {
        Self {
            loss0: f64::NAN,
            last_loss: f64::NAN,
            lost_sum: 0.0,
            intended_sum: 0.0,
            output_sq: f64::NAN,
            change_sq: f64::NAN,
            diverged_step: NOT_DIVERGED,
            train_correct: 0,
        }
    }

    /// Returns the array of `states` as the shaders read it.
    pub(crate) fn bytes(states: &[Self], scalar: Scalar) -> Vec<u8> {
        states
            .iter()
            .flat_map(|state| {
                Fields::new(scalar)
                    .real(state.loss0)
                    .real(state.last_loss)
                    .real(state.lost_sum)
                    .real(state.intended_sum)
                    .real(state.output_sq)
                    .real(state.change_sq)
                    .word(state.diverged_step)
                    .word(state.train_correct)
                    .finish()
            })
            .collect()
    }

    /// Reads an array of states written by the shaders.
    pub(crate) fn from_bytes(bytes: &[u8], scalar: Scalar) -> Vec<Self> {
        let reals = 6 * scalar.bytes() as usize;
        let stride = Self::bytes(&[Self::initial()], scalar).len();
        bytes
            .chunks_exact(stride)
            .map(|state| {
                let values = scalar.decode(&state[..reals]);
                let word = |i: usize| {
                    let at = reals + 4 * i;
                    u32::from_le_bytes(state[at..at + 4].try_into().expect("four bytes"))
                };
                Self {
                    loss0: values[0],
                    last_loss: values[1],
                    lost_sum: values[2],
                    intended_sum: values[3],
                    output_sq: values[4],
                    change_sq: values[5],
                    diverged_step: word(0),
                    train_correct: word(1),
                }
            })
            .collect()
    }

    /// Returns the fraction of the measured updates that rounding lost, 0 when no update
    /// was measured.
    pub(crate) fn lost_update(&self) -> f64 {
        if self.intended_sum > 0.0 {
            self.lost_sum / self.intended_sum
        } else {
            0.0
        }
    }

    pub(crate) fn diverged(&self) -> Option<u64> {
        (self.diverged_step != NOT_DIVERGED).then_some(u64::from(self.diverged_step))
    }
}

/// `Params` in activation.wgsl.
#[derive(Clone, Copy)]
pub(crate) struct ActivationParams {
    pub a: f64,
    pub count: u32,
    pub hidden: u32,
    /// Values per row of zhat: cells x hidden.
    pub width: u32,
}

impl ActivationParams {
    pub(crate) fn bytes(&self, scalar: Scalar) -> Vec<u8> {
        Fields::new(scalar)
            .real(self.a)
            .word(self.count)
            .word(self.hidden)
            .word(self.width)
            .finish()
    }
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
#[derive(Clone, Copy)]
pub(crate) struct UpdateParams {
    rho: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    count: u32,
    block: u32,
    eps_inside: u32,
    parts: u32,
}

impl UpdateParams {
    /// `parts` is the number of workgroups per cell of the measured update.
    pub(crate) fn new(
        settings: &OptimizerSettings,
        count: usize,
        block: usize,
        parts: u32,
    ) -> Self {
        Self {
            rho: settings.rho,
            beta1: settings.adam_beta1,
            beta2: settings.adam_beta2,
            eps: settings.eps,
            count: count as u32,
            block: block as u32,
            eps_inside: u32::from(settings.eps_placement == EpsPlacement::Inside),
            parts,
        }
    }

    /// Forms 1 - rho, 1 - beta1 and 1 - beta2 in float64 before rounding to `scalar`.
    pub(crate) fn bytes(&self, scalar: Scalar) -> Vec<u8> {
        Fields::new(scalar)
            .real(self.rho)
            .real(1.0 - self.rho)
            .real(self.beta1)
            .real(1.0 - self.beta1)
            .real(self.beta2)
            .real(1.0 - self.beta2)
            .real(self.eps)
            // `one`
            .real(1.0)
            .word(self.count)
            .word(self.block)
            .word(self.eps_inside)
            .word(self.parts)
            // `zero`
            .word(0)
            .finish()
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

/// Returns the contents of the `Schedule` buffer: the step counter (0), padding to
/// 2 * `scalar.bytes()`, then Adam's bias corrections (c_m, c_v) for each step, taken from
/// the CPU's `Update`.
pub(crate) fn schedule(settings: &OptimizerSettings, steps: u64, scalar: Scalar) -> Vec<u8> {
    let mut bytes = vec![0u8; 2 * scalar.bytes() as usize];
    for t in 0..steps.max(1) {
        let update = Update::new(OptimizerKind::Adam, 1.0, 1.0, settings, t);
        bytes.extend(scalar.encode(&[update.m_correction, update.v_correction]));
    }
    bytes
}
