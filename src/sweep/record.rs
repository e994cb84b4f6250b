//! One row of `results.csv`: the outcome of training one (optimizer, alpha, eta, seed) cell.

use serde::{Deserialize, Serialize};

/// The outcome of one trained cell, as written to `results.csv`.
///
/// Metrics of a diverged cell are NaN, which the CSV stores as an empty field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRecord {
    pub dataset: String,
    /// Optimizer name as given on the command line, such as `modified-rmsprop`.
    pub optimizer: String,
    pub alpha: f64,
    pub eta: f64,
    pub seed: u64,
    /// Number of parameter updates applied.
    pub steps_run: u64,
    pub diverged: bool,
    /// Step at which divergence was detected, if the cell diverged.
    pub diverged_step: Option<u64>,
    /// Training loss at the final parameters, or the loss that triggered divergence.
    #[serde(with = "nan_as_empty")]
    pub final_loss: f64,
    /// Top-1 accuracy on the training subsample, as a fraction in [0, 1].
    #[serde(with = "nan_as_empty")]
    pub train_acc: f64,
    /// Top-1 accuracy on the test set, as a fraction in [0, 1].
    #[serde(with = "nan_as_empty")]
    pub test_acc: f64,
    /// Fraction of (test sample, hidden neuron) pairs whose pre-activation kept its sign.
    #[serde(with = "nan_as_empty")]
    pub sign_consistency: f64,
    /// ||W0 - W0_init|| / ||W0_init|| in the Frobenius norm.
    #[serde(with = "nan_as_empty")]
    pub rel_change_w0: f64,
    /// ||W1 - W1_init|| / ||W1_init|| in the Frobenius norm.
    #[serde(with = "nan_as_empty")]
    pub rel_change_w1: f64,
    /// Fraction of the parameter updates lost to rounding, summed over the measured steps;
    /// near 1 when the parameters froze. Empty when not measured.
    #[serde(with = "nan_as_empty", default = "not_measured")]
    pub lost_update: f64,
    /// Estimated relative rounding error of f(theta_T) - f(theta_0). Empty for diverged
    /// cells and when not measured.
    #[serde(with = "nan_as_empty", default = "not_measured")]
    pub cancellation: f64,
    /// Whether both `lost_update` and `cancellation` are within the trust limit of 1e-3.
    /// Empty for diverged cells and when either is missing.
    #[serde(default)]
    pub trusted: Option<bool>,
    pub backend: String,
    pub precision: String,
    /// Wall-clock seconds spent on the batch that trained this cell.
    pub wall_s: f64,
}

fn not_measured() -> f64 {
    f64::NAN
}

/// Writes NaN as an empty CSV field and reads an empty field back as NaN.
mod nan_as_empty {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_nan() {
            serializer.serialize_none()
        } else {
            serializer.serialize_some(value)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
    }
}
