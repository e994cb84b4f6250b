//! Figures drawn from the sweep's cell records.
//!
//! [`write_figures`] draws the figure set of one dataset, in PNG and SVG. Its heat maps show
//! test accuracy, train accuracy and sign consistency over the grid of output scales alpha
//! (x axis, log10) and learning rates eta (y axis, log10), one panel per optimizer on a
//! shared colour scale. Line plots show accuracy against alpha at a fixed eta, and test
//! accuracy and sign consistency at the best eta per alpha. One figure draws test accuracy
//! with sign-consistency contours, and several seeds add standard-deviation heat maps. Cell values are means over the
//! seeds that did not diverge ([`aggregate_seeds`]). Cells where every seed diverged, or
//! that have no record, are blank.
//!
//! [`write_heatmaps`] draws the older single-optimizer figures, three per optimizer:
//!
//! - `heatmap_test_acc_<optimizer>.png`: top-1 test accuracy in percent.
//! - `heatmap_train_acc_<optimizer>.png`: top-1 accuracy on the training
//!   subsample in percent.
//! - `heatmap_sign_consistency_<optimizer>.png`: fraction of (test sample,
//!   hidden neuron) pairs whose pre-activation kept its sign during training.
//!   Values near 1 mean the hidden features barely moved (lazy training).
//!
//! Each of those has its own colour scale, so colours are not comparable between them.
//! Text is drawn with DejaVu Sans, which is embedded in the binary.

mod aggregate;
mod contour;
mod figures;
mod font;
mod heatmap;
mod lines;
mod panels;
mod precision;
mod render;
mod scale;

#[cfg(test)]
mod figure_tests;

use std::path::PathBuf;

pub use aggregate::{CellSummary, SeedStats, aggregate_seeds};
pub use contour::{Segment, consistency_levels, contour_segments};
pub use figures::{
    DEFAULT_FIXED_ETA, FigureOptions, WrittenFigure, best_eta_cells, format_grid_value,
    nearest_level, write_figures,
};
pub use font::{FONT_FAMILY, ensure_font_registered};
pub use heatmap::{
    FIGURE_SIZE, HeatmapGrid, ImageFormat, Metric, heatmap_file_name, write_heatmaps,
    write_heatmaps_as,
};
pub use panels::{PANEL_HEIGHT, PANEL_WIDTH, PanelGrids, Statistic, panel_order};
pub use precision::{ErrorPanels, write_error_figure};
pub use scale::{
    LEVEL_TOLERANCE, cell_edges, distinct_levels, integer_ticks, level_index,
    thinned_integer_ticks, value_color, value_range, viridis,
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

    #[error(
        "invalid fixed eta {eta} for the accuracy-against-alpha figure: give a finite value > 0, \
         such as --eta 1"
    )]
    InvalidFixedEta { eta: f64 },

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
