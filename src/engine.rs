//! The interface every training engine implements, and the values that cross it.
//!
//! An engine trains a batch of cells that share the training data and theta_0 and differ in
//! optimizer, alpha and eta. The float64 CPU engine is the reference; other engines are
//! checked against it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::data::Prepared;
use crate::model::{Activation, InitialWeights};
use crate::optim::{OptimizerKind, OptimizerSettings};

/// Settings shared by every cell of a batch.
#[derive(Debug, Clone)]
pub struct TrainSettings {
    /// Number of full-batch gradient steps T; metrics are taken at theta_T.
    pub steps: u64,
    pub activation: Activation,
    pub optimizer: OptimizerSettings,
    /// A cell diverges when its loss exceeds this multiple of its loss at theta_0.
    pub divergence_factor: f64,
    /// Keep the training loss of every step in `CellOutcome::losses`.
    pub record_losses: bool,
    pub precision: Precision,
}

/// The training problem: data, initial weights and shared settings.
#[derive(Clone, Copy)]
pub struct Problem<'a> {
    pub data: &'a Prepared,
    pub init: &'a InitialWeights,
    pub settings: &'a TrainSettings,
}

/// Settings that distinguish one cell from the others in its batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellSpec {
    pub optimizer: OptimizerKind,
    pub alpha: f64,
    pub eta: f64,
}

/// The outcome of one cell, before it is labelled with dataset, seed and backend.
#[derive(Debug, Clone, PartialEq)]
pub struct CellOutcome {
    pub steps_run: u64,
    /// The first step whose state was bad: a non-finite or exploding loss at theta_t, or a
    /// non-finite parameter in theta_t.
    pub diverged_step: Option<u64>,
    pub final_loss: f64,
    pub train_acc: f64,
    pub test_acc: f64,
    pub sign_consistency: f64,
    pub rel_change_w0: f64,
    pub rel_change_w1: f64,
    /// Training loss L(theta_t) for t = 0..=steps_run, when `record_losses` is set.
    pub losses: Vec<f64>,
    /// L(theta_t) - L(theta_0) for t = 0..=steps_run, when `record_losses` is set. Each
    /// sample's change is formed from its output change without subtracting two losses,
    /// so it keeps its digits when L hardly moves.
    pub loss_changes: Vec<f64>,
    /// f(theta_T, x) - f(theta_0, x) on the training set (samples x classes, row-major),
    /// when `record_losses` is set and the cell did not diverge.
    pub output_changes: Vec<f64>,
    /// The fraction of the parameter updates lost to rounding when they were added to the
    /// stored parameters: the lost magnitude summed over the measured steps (see
    /// [`measured_step`]) over the intended magnitude summed over the same steps. Near 1
    /// means the parameters froze. Summing, not taking the worst step, keeps a cell whose
    /// updates become negligible after it converged from counting as frozen. NaN when the
    /// engine does not measure it.
    pub lost_update: f64,
    /// Estimated relative rounding error of f(theta_T) - f(theta_0) on the training set.
    /// When f is formed first and f(theta_0) subtracted, this is the unit roundoff times
    /// ||f|| / ||f - f_0||. When the change is computed directly (the offset formulation),
    /// it is the unit roundoff. NaN for diverged cells and when the engine does not
    /// measure it.
    pub cancellation: f64,
}

/// Largest `lost_update` and `cancellation` of a trusted cell. At 1e-3, the stored updates
/// and the output change f - f_0 are both correct to about three digits.
pub const TRUST_LIMIT: f64 = 1e-3;

/// Returns whether a cell's measured rounding leaves its results trustworthy. It is false
/// when either measure exceeds `TRUST_LIMIT`, even if the other is missing, as the
/// cancellation (NaN) of an output change that is exactly zero. It is `None` when
/// neither exceeds the limit but one is missing.
pub fn is_trusted(lost_update: f64, cancellation: f64) -> Option<bool> {
    if lost_update > TRUST_LIMIT || cancellation > TRUST_LIMIT {
        return Some(false);
    }
    if lost_update.is_nan() || cancellation.is_nan() {
        return None;
    }
    Some(true)
}

/// Returns whether engines measure the rounding of the update at step `t` (0-based) of a
/// run of `steps` steps: the first, every power of two and the last.
pub fn measured_step(t: u64, steps: u64) -> bool {
    t == 0 || (t + 1).is_power_of_two() || t + 1 == steps
}

/// Arithmetic of an engine: the `--precision` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    /// Plain float64, which the CPU engine uses by default.
    F64,
    /// Plain float32 on the GPU.
    F32,
    /// theta = theta_0 + delta with training computed in delta, so that rounding is
    /// relative to the change and not to theta. float64 on the CPU, float32 on the GPU.
    Offset,
    /// Double-float on the GPU: each value is the unevaluated sum of two float32.
    Df64,
}

impl Precision {
    pub const ALL: [Precision; 4] = [Self::F64, Self::F32, Self::Offset, Self::Df64];

    pub fn name(self) -> &'static str {
        match self {
            Self::F64 => "f64",
            Self::F32 => "f32",
            Self::Offset => "offset",
            Self::Df64 => "df64",
        }
    }

    /// Returns whether only the GPU engine computes in this mode.
    pub fn gpu_only(self) -> bool {
        matches!(self, Self::F32 | Self::Df64)
    }
}

impl FromStr for Precision {
    type Err = String;

    /// Parses a mode name, or the precision column of results.csv that names it
    /// (`float64`, `offset-float32`, ...).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let column = match s {
            "float64" => Some(Self::F64),
            "float32" => Some(Self::F32),
            "offset-float64" | "offset-float32" => Some(Self::Offset),
            "offset-df64" => Some(Self::Df64),
            _ => None,
        };
        column
            .or_else(|| Self::ALL.into_iter().find(|p| p.name() == s))
            .ok_or_else(|| {
                format!(
                    "invalid precision '{s}': expected f64 (CPU, and GPU adapters with 64-bit \
                     floats in shaders), f32 (GPU), offset (both) or df64 (GPU)"
                )
            })
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Progress reports an engine sends while it trains a batch.
pub enum EngineEvent<'a> {
    /// One step finished for `active` cells that are still training.
    Step { active: usize },
    /// A cell of the batch finished, by completing its steps or by diverging.
    CellFinished {
        index: usize,
        outcome: &'a CellOutcome,
    },
}

/// Errors an engine returns.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("invalid cell {index}: {reason}")]
    InvalidCell { index: usize, reason: String },
    #[error(
        "initial weights have shape W0 {w0_rows}x{w0_cols}, W1 {w1_rows}x{w1_cols}, but the \
         run needs W0 {hidden}x{d} and W1 {classes}x{hidden}"
    )]
    InitShape {
        w0_rows: usize,
        w0_cols: usize,
        w1_rows: usize,
        w1_cols: usize,
        hidden: usize,
        d: usize,
        classes: usize,
    },
    #[error("the batch is empty: at least one cell is needed")]
    EmptyBatch,
    #[error("the {engine} engine does not support --precision {precision}: {hint}")]
    UnsupportedPrecision {
        engine: &'static str,
        precision: Precision,
        hint: &'static str,
    },
    #[error("backend '{0}' is not available: {1}")]
    Unavailable(String, String),
    #[error(transparent)]
    Gpu(#[from] crate::gpu::GpuError),
}

/// A training engine.
pub trait Engine {
    /// Short name written to the `backend` column, such as `cpu`.
    fn name(&self) -> &'static str;

    /// Returns the mode used when `--precision` is not given.
    fn default_precision(&self) -> Precision;

    /// Returns the arithmetic written to the `precision` column for a `--precision` mode,
    /// such as `float64`, or an error when the engine does not compute in that mode.
    fn precision(&self, mode: Precision) -> Result<&'static str, EngineError>;

    /// Trains every cell of the batch from theta_0 and returns one outcome per cell, in
    /// the order of `cells`. Events are reported to `on_event` as training proceeds.
    fn train(
        &mut self,
        problem: Problem<'_>,
        cells: &[CellSpec],
        on_event: &mut dyn FnMut(EngineEvent<'_>),
    ) -> Result<Vec<CellOutcome>, EngineError>;
}

/// The `--backend` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendChoice {
    Auto,
    Cpu,
    Gpu,
}

impl FromStr for BackendChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "gpu" => Ok(Self::Gpu),
            other => Err(format!(
                "invalid backend '{other}': expected auto, cpu or gpu"
            )),
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
            Self::Gpu => "gpu",
        })
    }
}

/// Validates the cells of a batch and the shape of theta_0 against the data.
pub fn validate_batch(problem: Problem<'_>, cells: &[CellSpec]) -> Result<(), EngineError> {
    if cells.is_empty() {
        return Err(EngineError::EmptyBatch);
    }
    for (index, cell) in cells.iter().enumerate() {
        if !(cell.alpha.is_finite() && cell.alpha > 0.0) {
            return Err(EngineError::InvalidCell {
                index,
                reason: format!("alpha = {} must be finite and > 0", cell.alpha),
            });
        }
        if !(cell.eta.is_finite() && cell.eta > 0.0) {
            return Err(EngineError::InvalidCell {
                index,
                reason: format!("eta = {} must be finite and > 0", cell.eta),
            });
        }
    }

    let init = problem.init;
    let d = problem.data.d;
    if init.d != d
        || init.w0.len() != init.hidden * d
        || init.w1.len() != init.classes * init.hidden
        || init.classes != crate::model::CLASSES
    {
        return Err(EngineError::InitShape {
            w0_rows: init.hidden,
            w0_cols: init.d,
            w1_rows: init.classes,
            w1_cols: init.hidden,
            hidden: init.hidden,
            d,
            classes: crate::model::CLASSES,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_needs_both_measures_within_limit() {
        assert_eq!(is_trusted(1e-5, 1e-7), Some(true));
        assert_eq!(is_trusted(TRUST_LIMIT, TRUST_LIMIT), Some(true));
        assert_eq!(is_trusted(2e-3, 1e-7), Some(false));
        assert_eq!(is_trusted(1e-5, f64::INFINITY), Some(false));
    }

    #[test]
    fn frozen_cell_untrusted_without_cancellation() {
        // A cell whose parameters never moved has lost_update 1, and in the offset
        // formulation its output change is exactly zero, so the cancellation is 0 / 0.
        assert_eq!(is_trusted(1.0, f64::NAN), Some(false));
        assert_eq!(is_trusted(f64::NAN, 0.5), Some(false));
    }

    #[test]
    fn precision_parses_names_and_column_values() {
        for precision in Precision::ALL {
            assert_eq!(precision.name().parse(), Ok(precision));
        }
        assert_eq!("float64".parse(), Ok(Precision::F64));
        assert_eq!("float32".parse(), Ok(Precision::F32));
        assert_eq!("offset-float64".parse(), Ok(Precision::Offset));
        assert_eq!("offset-float32".parse(), Ok(Precision::Offset));
        assert_eq!("offset-df64".parse(), Ok(Precision::Df64));
        let err = "f16".parse::<Precision>().unwrap_err();
        assert!(err.contains("invalid precision 'f16'"), "{err}");
    }

    #[test]
    fn missing_measure_leaves_trust_unknown() {
        assert_eq!(is_trusted(f64::NAN, 1e-7), None);
        assert_eq!(is_trusted(1e-5, f64::NAN), None);
    }
}
