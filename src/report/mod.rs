//! Figures drawn from the sweep's cell records.
//!
//! Each heatmap shows one metric for one optimizer over the grid of output scales
//! alpha (x axis, log10) and learning rates eta (y axis, log10). Every grid cell
//! is a rectangle coloured by the metric, averaged over the seeds that did not
//! diverge. Cells where every seed diverged, or that have no record, are left
//! blank. The colour bar spans the range of the metric over the drawn cells of
//! that figure only, so colours are not comparable between figures. [`write_heatmaps`] draws three figures per
//! optimizer:
//!
//! - `heatmap_test_acc_<optimizer>.png`: top-1 test accuracy in percent.
//! - `heatmap_train_acc_<optimizer>.png`: top-1 accuracy on the training
//!   subsample in percent.
//! - `heatmap_sign_consistency_<optimizer>.png`: fraction of (test sample,
//!   hidden neuron) pairs whose pre-activation kept its sign during training.
//!   Values near 1 mean the hidden features barely moved (lazy training).
//!
//! Text is drawn with DejaVu Sans, which is embedded in the binary.

mod font;
mod heatmap;
mod scale;

use std::path::PathBuf;

pub use font::{FONT_FAMILY, ensure_font_registered};
pub use heatmap::{
    FIGURE_SIZE, HeatmapGrid, ImageFormat, Metric, heatmap_file_name, write_heatmaps,
    write_heatmaps_as,
};
pub use scale::{
    LEVEL_TOLERANCE, cell_edges, distinct_levels, integer_ticks, level_index, value_color,
    value_range, viridis,
};

/// Errors from checking cell records and writing figures.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no cell records to plot; run the sweep first or check the results file")]
    NoRecords,

    #[error(
        "cell records mix datasets ({}); write the figures of each dataset to its own directory",
        datasets.join(", ")
    )]
    MixedDatasets { datasets: Vec<String> },

    #[error(
        "invalid {name} = {value} in the record of optimizer {optimizer}, seed {seed}: \
         grid values must be positive and finite to take log10"
    )]
    InvalidGridValue {
        name: &'static str,
        value: f64,
        optimizer: String,
        seed: u64,
    },

    #[error("failed to create the figure directory {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to parse the embedded font {file}")]
    Font { file: String },

    #[error("failed to draw {}: {message}", path.display())]
    Draw { path: PathBuf, message: String },
}
