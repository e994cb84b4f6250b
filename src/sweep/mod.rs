//! Sweep configuration, the grid of cells, resumable output and the driver loop.
//!
//! A sweep trains every (optimizer, alpha, eta, seed) cell of a grid. Cells are trained
//! in batches that share theta_0; each finished cell is added to `results.csv` at once,
//! and a rerun of the same configuration into the same folder skips the finished cells.

pub mod grid;
pub mod output;
mod plot;
pub mod precision_map;
pub mod record;
pub mod reproduce;
mod run;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::data::DataError;
use crate::engine::{BackendChoice, EngineError, Precision};
use crate::model::ActivationNorm;
use crate::optim::{OptimizerKind, OptimizerSettings};
use crate::report::ReportError;

pub use grid::{GridCell, parse_grid};
pub use plot::{
    FIGURES_DIR, plot_records_with, plot_run, plot_run_at, run_context, write_run_figures,
};
pub use record::CellRecord;
pub use reproduce::{ReproduceOptions, Scale, protocol, reproduce};
pub use run::{RunInfo, mark_interrupted, plot_records, run_sweep};

/// Every setting that changes the numbers a sweep produces.
///
/// Two runs with equal configurations produce the same `results.csv`, so a folder may be
/// resumed only with an equal configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepConfig {
    /// Dataset name (`mnist`, `cifar10`, ...) or the path of an `.npz` file.
    pub data: String,
    /// Requested training samples, capped at the number available.
    pub n_train: usize,
    /// Requested test samples; `None` uses the whole test set.
    pub n_test: Option<usize>,
    /// Seed of the training and test subsamples.
    pub data_seed: u64,
    pub optimizers: Vec<OptimizerKind>,
    pub alphas: Vec<f64>,
    pub etas: Vec<f64>,
    /// Seeds of theta_0; each seed is a separate row per cell.
    pub seeds: Vec<u64>,
    pub steps: u64,
    pub hidden: usize,
    pub activation_norm: ActivationNorm,
    /// Overrides the activation constant a computed from `activation_norm`.
    pub activation_scale: Option<f64>,
    pub optimizer: OptimizerSettings,
    pub divergence_factor: f64,
    /// SHA-256 of the `--init` file that provided theta_0, if any.
    pub init_sha256: Option<String>,
}

/// Settings that do not change results: where they run and how they are reported.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub out: PathBuf,
    pub data_dir: Option<PathBuf>,
    pub backend: BackendChoice,
    /// Arithmetic of the engine; `None` takes the engine's default.
    pub precision: Option<Precision>,
    /// Maximum number of cells trained together.
    pub batch_cells: usize,
    pub init_file: Option<PathBuf>,
    pub save_init: Option<PathBuf>,
    pub plots: bool,
    pub progress: bool,
}

/// Errors of a sweep.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
    #[error("{0}")]
    NoResults(String),
    #[error(
        "{} holds results of a different configuration ({differences}); use another --out \
         folder, or delete this one to start over",
        dir.display()
    )]
    ConfigMismatch { dir: PathBuf, differences: String },
    #[error(
        "{} holds cells computed by {found}, but this run computes with {requested}; \
         resume with the same --backend and --precision, or use another --out folder",
        dir.display()
    )]
    PrecisionMismatch {
        dir: PathBuf,
        found: String,
        requested: String,
    },
    #[error("failed to write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid CSV in {}", path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("invalid run description {}: {message}", path.display())]
    RunFile { path: PathBuf, message: String },
    #[error(
        "{} contains a row (optimizer {optimizer}, alpha {alpha}, eta {eta}, seed {seed}) that \
         is not in the grid; use another --out folder",
        path.display()
    )]
    ForeignRow {
        path: PathBuf,
        optimizer: String,
        alpha: f64,
        eta: f64,
        seed: u64,
    },
    #[error(
        "one cell needs about {needed_gib:.1} GiB but {available_gib:.1} GiB of memory is \
         available; reduce --n-train or --hidden"
    )]
    OutOfMemory { needed_gib: f64, available_gib: f64 },
}
