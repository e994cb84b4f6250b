//! Drawing the figures of a run folder from its `results.csv` and `run.json`.

use std::path::{Path, PathBuf};

use log::info;
use serde_json::Value;

use super::SweepError;
use super::output::{RESULTS_FILE, RUN_FILE, read_results};
use super::record::CellRecord;
use crate::report::{self, FigureOptions, WrittenFigure};

/// Name of the folder inside a run folder that receives the figures.
pub const FIGURES_DIR: &str = "figures";

/// Draws the figure set of `records` into `dir/figures` and returns every file written.
pub fn plot_records_with(
    dir: &Path,
    records: &[CellRecord],
    options: &FigureOptions,
) -> Result<Vec<PathBuf>, SweepError> {
    let figures = write_run_figures(dir, records, options)?;
    let mut files: Vec<PathBuf> = figures
        .into_iter()
        .flat_map(|figure| figure.files)
        .collect();

    // One heat map per optimizer and metric as well, each on its own colour scale, for
    // readers who look at one optimizer at a time.
    if !records.is_empty() {
        let single = report::write_heatmaps(records, &dir.join(FIGURES_DIR), &options.context)?;
        files.extend(single);
    }
    Ok(files)
}

/// Draws the figure set of `records` into `dir/figures` and returns the figures with their
/// captions. No records draws nothing.
pub fn write_run_figures(
    dir: &Path,
    records: &[CellRecord],
    options: &FigureOptions,
) -> Result<Vec<WrittenFigure>, SweepError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let out_dir = dir.join(FIGURES_DIR);
    let figures = report::write_figures(records, &out_dir, options)?;
    let files: usize = figures.iter().map(|figure| figure.files.len()).sum();
    info!(
        "wrote {} figures ({files} files) to {}",
        figures.len(),
        out_dir.display()
    );
    Ok(figures)
}

/// Redraws the figures of a run folder with the fixed-eta figure at eta = 1.
pub fn plot_run(dir: &Path) -> Result<Vec<PathBuf>, SweepError> {
    plot_run_at(dir, report::DEFAULT_FIXED_ETA)
}

/// Redraws the figures of a run folder from its `results.csv`, with the accuracy-against-alpha
/// figure at the grid eta nearest to `eta` in log10.
///
/// The titles name the run settings read from `run.json` when it exists and parses.
pub fn plot_run_at(dir: &Path, eta: f64) -> Result<Vec<PathBuf>, SweepError> {
    if !dir.is_dir() {
        return Err(SweepError::NoResults(format!(
            "run folder {} not found",
            dir.display()
        )));
    }
    let records = read_results(dir)?;
    if records.is_empty() {
        return Err(SweepError::NoResults(format!(
            "no finished cells in {}; run a sweep with --out {} first",
            dir.join(RESULTS_FILE).display(),
            dir.display()
        )));
    }
    let options = FigureOptions {
        eta,
        ..FigureOptions::new(run_context(dir))
    };
    plot_records_with(dir, &records, &options)
}

/// Returns the run settings of `dir/run.json` for figure titles, or an empty string when the
/// file is missing or unreadable.
pub fn run_context(dir: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(dir.join(RUN_FILE)) else {
        return String::new();
    };
    let Ok(run) = serde_json::from_str::<Value>(&text) else {
        return String::new();
    };
    let config = &run["config"];
    let text_of = |value: &Value| value.as_str().unwrap_or("?").to_string();
    figure_context(
        &run["data"]["n_train"].to_string(),
        &config["hidden"].to_string(),
        &config["steps"].to_string(),
        config["optimizer"]["eps"].as_f64().unwrap_or(f64::NAN),
        &text_of(&run["backend"]["used"]),
        &text_of(&run["backend"]["precision"]),
    )
}

/// Returns the run settings that every figure's subtitle names, such as
/// "n=1000, hidden=100, 150 steps, eps=1e-8, gpu offset-float32".
pub(crate) fn figure_context(
    n_train: &str,
    hidden: &str,
    steps: &str,
    eps: f64,
    backend: &str,
    precision: &str,
) -> String {
    format!("n={n_train}, hidden={hidden}, {steps} steps, eps={eps:e}, {backend} {precision}")
}
