//! The measured precision map: every arithmetic mode trained over one (alpha, eta) grid and
//! compared, cell by cell, with the float64 offset formulation of the CPU engine.
//!
//! For each mode and cell the map records the relative error of the final loss change
//! L_T - L_0 and of the final output change f(theta_T) - f(theta_0) on the training set,
//! with the mode's own rounding measures, so a reader can check both where each mode is
//! accurate and whether its trust flag agrees.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use log::{info, warn};
use serde::Serialize;

use super::SweepError;
use super::output::write_atomically;
use crate::cpu::CpuEngine;
use crate::data::{self, DataSource};
use crate::engine::{CellOutcome, CellSpec, Engine, Precision, Problem, TrainSettings, is_trusted};
use crate::gpu::GpuEngine;
use crate::model::{Activation, ActivationNorm, CLASSES, InitialWeights};
use crate::optim::{OptimizerKind, OptimizerSettings};
use crate::report::{ErrorPanels, ImageFormat, write_error_figure};

/// Relative error at which a mode counts as accurate in a cell.
pub const ACCURACY_LIMIT: f64 = 1e-3;

/// Name of the per-cell table written into the output folder.
pub const MAP_FILE: &str = "precision_map.csv";

/// Name of the report written into the output folder.
pub const REPORT_FILE: &str = "precision_map.md";

/// One engine in one arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    pub gpu: bool,
    pub precision: Precision,
}

impl Mode {
    /// The reference every other mode is compared with.
    pub const TRUTH: Mode = Mode {
        gpu: false,
        precision: Precision::Offset,
    };

    /// Every mode in map order: the CPU modes, then the GPU modes.
    pub const ALL: [Mode; 5] = [
        Mode {
            gpu: false,
            precision: Precision::F64,
        },
        Mode::TRUTH,
        Mode {
            gpu: true,
            precision: Precision::F32,
        },
        Mode {
            gpu: true,
            precision: Precision::Offset,
        },
        Mode {
            gpu: true,
            precision: Precision::Df64,
        },
    ];

    pub fn name(self) -> String {
        format!("{} {}", self.engine(), self.precision)
    }

    /// Returns the mode as `--modes` spells it, such as "gpu:df64".
    pub fn option(self) -> String {
        format!("{}:{}", self.engine(), self.precision)
    }

    fn engine(self) -> &'static str {
        if self.gpu { "gpu" } else { "cpu" }
    }
}

/// Settings of a precision map.
#[derive(Debug, Clone)]
pub struct MapConfig {
    /// Dataset name or path, as `lazysweep sweep --data` takes it.
    pub data: String,
    pub n_train: usize,
    pub n_test: usize,
    pub hidden: usize,
    pub steps: u64,
    pub seed: u64,
    pub optimizers: Vec<OptimizerKind>,
    pub alphas: Vec<f64>,
    pub etas: Vec<f64>,
    /// Modes besides the reference; a GPU mode that the adapter cannot run is skipped with
    /// a warning.
    pub modes: Vec<Mode>,
}

/// One row of `precision_map.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct MapRow {
    pub mode: String,
    pub optimizer: String,
    pub alpha: f64,
    pub eta: f64,
    pub diverged: bool,
    /// L_T - L_0 of this mode.
    pub loss_change: f64,
    /// |loss_change - reference| / |reference|.
    pub loss_change_error: f64,
    /// ||F - F_ref|| / ||F_ref|| for the output changes F = f(theta_T) - f(theta_0).
    pub output_error: f64,
    pub lost_update: f64,
    pub cancellation: f64,
    pub trusted: Option<bool>,
    pub wall_s: f64,
}

/// Trains every mode over the grid, writes `precision_map.csv`, one error figure per
/// optimizer and metric, and `precision_map.md` into `out`, and returns the report path.
pub fn precision_map(
    config: &MapConfig,
    out: &Path,
    data_dir: Option<&Path>,
) -> Result<PathBuf, SweepError> {
    validate(config)?;
    let source: DataSource = config.data.parse()?;
    let raw = data::load(&source, data_dir)?;
    let prepared = data::prepare(&raw, config.n_train, Some(config.n_test), config.seed)?;
    let init = InitialWeights::draw(prepared.d, config.hidden, CLASSES, config.seed);
    let settings = TrainSettings {
        steps: config.steps,
        activation: Activation::normalized(ActivationNorm::SecondMoment),
        optimizer: OptimizerSettings::default(),
        divergence_factor: 1e6,
        record_losses: true,
        precision: Precision::Offset,
    };
    std::fs::create_dir_all(out).map_err(|source| SweepError::Write {
        path: out.to_path_buf(),
        source,
    })?;

    let cells: Vec<CellSpec> = config
        .optimizers
        .iter()
        .flat_map(|&optimizer| {
            config.etas.iter().flat_map(move |&eta| {
                config.alphas.iter().map(move |&alpha| CellSpec {
                    optimizer,
                    alpha,
                    eta,
                })
            })
        })
        .collect();

    let mut modes = vec![Mode::TRUTH];
    for &mode in &config.modes {
        if !modes.contains(&mode) {
            modes.push(mode);
        }
    }
    let mut results: Vec<(Mode, Vec<CellOutcome>, f64)> = Vec::new();
    // Modes that could not run, with the reason, for the report.
    let mut skipped: Vec<(Mode, String)> = Vec::new();
    let mut gpu: Option<GpuEngine> = None;
    for mode in modes {
        let settings = TrainSettings {
            precision: mode.precision,
            ..settings.clone()
        };
        let problem = Problem {
            data: &prepared,
            init: &init,
            settings: &settings,
        };
        let engine: &mut dyn Engine = if mode.gpu {
            if gpu.is_none() {
                match GpuEngine::new() {
                    Ok(engine) => gpu = Some(engine),
                    Err(err) => {
                        warn!(
                            "precision map: skipping {} because no GPU engine opened: {err}",
                            mode.name()
                        );
                        skipped.push((mode, format!("no GPU engine opened: {err}")));
                        continue;
                    }
                }
            }
            gpu.as_mut().expect("opened above")
        } else {
            &mut CpuEngine
        };
        if let Err(err) = engine.precision(mode.precision) {
            warn!("precision map: skipping {}: {err}", mode.name());
            skipped.push((mode, err.to_string()));
            continue;
        }
        info!(
            "precision map: training {} cells in {}",
            cells.len(),
            mode.name()
        );
        let started = Instant::now();
        let outcomes = engine.train(problem, &cells, &mut |_| {})?;
        let seconds = started.elapsed().as_secs_f64();
        info!("precision map: {} took {seconds:.1} s", mode.name());
        results.push((mode, outcomes, seconds));
    }

    let truth = &results[0].1;
    let mut rows = Vec::new();
    for (mode, outcomes, seconds) in &results {
        for ((cell, outcome), reference) in cells.iter().zip(outcomes).zip(truth) {
            rows.push(compare(
                *mode,
                cell,
                outcome,
                reference,
                *seconds / cells.len() as f64,
            ));
        }
    }
    write_table(out, &rows)?;
    let figures = write_figures(out, config, &results, &rows)?;
    write_report(out, config, &results, &rows, &figures, &skipped)
}

fn validate(config: &MapConfig) -> Result<(), SweepError> {
    let invalid = |message: String| Err(SweepError::InvalidSetting(message));
    if config.alphas.is_empty() || config.etas.is_empty() || config.optimizers.is_empty() {
        return invalid(
            "the precision map needs at least one alpha, one eta and one optimizer".into(),
        );
    }
    if config.steps == 0 {
        return invalid("--steps = 0 leaves nothing to compare; use at least 1".into());
    }
    if config.hidden == 0 || config.n_train == 0 || config.n_test == 0 {
        return invalid("--hidden, --n-train and --n-test must be at least 1".into());
    }
    if let Some(mode) = config
        .modes
        .iter()
        .find(|mode| !mode.gpu && mode.precision.gpu_only())
    {
        return invalid(format!(
            "mode {} does not exist: the CPU engine computes cpu:f64 and cpu:offset, and \
             f32 and df64 run as gpu:f32 and gpu:df64",
            mode.option()
        ));
    }
    Ok(())
}

/// Compares one cell of `mode` with the reference outcome of the same cell.
fn compare(
    mode: Mode,
    cell: &CellSpec,
    outcome: &CellOutcome,
    reference: &CellOutcome,
    wall_s: f64,
) -> MapRow {
    let diverged = outcome.diverged_step.is_some();
    let last_change = |o: &CellOutcome| o.loss_changes.last().copied().unwrap_or(f64::NAN);
    let (loss_change, truth) = (last_change(outcome), last_change(reference));
    let usable = !diverged && reference.diverged_step.is_none();
    let loss_change_error = if usable {
        relative_error(loss_change, truth)
    } else {
        f64::NAN
    };
    let output_error = if usable && !outcome.output_changes.is_empty() {
        vector_error(&outcome.output_changes, &reference.output_changes)
    } else {
        f64::NAN
    };
    MapRow {
        mode: mode.name(),
        optimizer: cell.optimizer.name().to_string(),
        alpha: cell.alpha,
        eta: cell.eta,
        diverged,
        loss_change,
        loss_change_error,
        output_error,
        lost_update: outcome.lost_update,
        cancellation: outcome.cancellation,
        trusted: if diverged {
            None
        } else {
            is_trusted(outcome.lost_update, outcome.cancellation)
        },
        wall_s,
    }
}

fn relative_error(value: f64, truth: f64) -> f64 {
    if truth == 0.0 {
        if value == 0.0 { 0.0 } else { f64::INFINITY }
    } else {
        ((value - truth) / truth).abs()
    }
}

fn vector_error(values: &[f64], truth: &[f64]) -> f64 {
    let difference: f64 = values
        .iter()
        .zip(truth)
        .map(|(a, b)| (a - b) * (a - b))
        .sum();
    let norm: f64 = truth.iter().map(|b| b * b).sum();
    relative_error(difference.sqrt() + norm.sqrt(), norm.sqrt())
}

fn write_table(out: &Path, rows: &[MapRow]) -> Result<(), SweepError> {
    let path = out.join(MAP_FILE);
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.serialize(row).map_err(|source| SweepError::Csv {
            path: path.clone(),
            source,
        })?;
    }
    let bytes = writer.into_inner().map_err(|e| SweepError::Write {
        path: path.clone(),
        source: e.into_error(),
    })?;
    write_atomically(&path, &bytes)
}

/// File-name part, title and row accessor of one error figure.
type ErrorMetric = (&'static str, &'static str, fn(&MapRow) -> f64);

/// Lays out one metric of every mode for one optimizer as error panels.
fn panels_of(
    config: &MapConfig,
    results: &[(Mode, Vec<CellOutcome>, f64)],
    rows: &[MapRow],
    optimizer: OptimizerKind,
    metric: fn(&MapRow) -> f64,
) -> ErrorPanels {
    let per_mode = rows.len() / results.len();
    let count = config.alphas.len() * config.etas.len();
    let first = config
        .optimizers
        .iter()
        .position(|&o| o == optimizer)
        .expect("optimizer in map")
        * count;
    let mut errors = Vec::new();
    let mut untrusted = Vec::new();
    // The reference is exact by definition, so its panel is left out.
    for (index, _) in results.iter().enumerate().skip(1) {
        let block = &rows[index * per_mode + first..index * per_mode + first + count];
        // Rows run over eta, then alpha, in the ascending order of the grids.
        errors.push(block.iter().map(metric).collect());
        untrusted.push(block.iter().map(|row| row.trusted == Some(false)).collect());
    }
    ErrorPanels {
        log_alphas: config.alphas.iter().map(|a| a.log10()).collect(),
        log_etas: config.etas.iter().map(|e| e.log10()).collect(),
        modes: results
            .iter()
            .skip(1)
            .map(|(mode, _, _)| mode.name())
            .collect(),
        errors,
        untrusted,
    }
}

fn write_figures(
    out: &Path,
    config: &MapConfig,
    results: &[(Mode, Vec<CellOutcome>, f64)],
    rows: &[MapRow],
) -> Result<Vec<(String, String)>, SweepError> {
    let mut figures = Vec::new();
    if results.len() < 2 {
        return Ok(figures);
    }
    let context = format!(
        "{}, n = {}, h = {}, {} steps; error against the CPU float64 offset formulation",
        config.data, config.n_train, config.hidden, config.steps
    );
    let metrics: [ErrorMetric; 2] = [
        ("loss_change", "relative error of L_T - L_0", |row| {
            row.loss_change_error
        }),
        (
            "outputs",
            "relative error of f(theta_T) - f(theta_0)",
            |row| row.output_error,
        ),
    ];
    for &optimizer in &config.optimizers {
        for (slug, what, metric) in metrics {
            let panels = panels_of(config, results, rows, optimizer, metric);
            let stem = format!("precision_{slug}_{}", optimizer.name());
            let title = format!("{optimizer}: {what}");
            let formats = [ImageFormat::Png, ImageFormat::Svg];
            let written = write_error_figure(
                out,
                &stem,
                &title,
                &context,
                &panels,
                ACCURACY_LIMIT,
                &formats,
            )?;
            figures.push((format!("{stem}.png"), written.caption));
        }
    }
    Ok(figures)
}

/// Returns, per cell, whether the cpu f64 run was trusted yet disagrees with the reference:
/// the dynamics amplify rounding there. All false when the map has no cpu f64 run.
fn sensitive_cells(results: &[(Mode, Vec<CellOutcome>, f64)], rows: &[MapRow]) -> Vec<bool> {
    let per_mode = rows.len() / results.len();
    let plain = Mode {
        gpu: false,
        precision: Precision::F64,
    };
    match results.iter().position(|(mode, _, _)| *mode == plain) {
        Some(index) => rows[index * per_mode..(index + 1) * per_mode]
            .iter()
            .map(|r| r.trusted == Some(true) && r.loss_change_error > ACCURACY_LIMIT)
            .collect(),
        None => vec![false; per_mode],
    }
}

fn write_report(
    out: &Path,
    config: &MapConfig,
    results: &[(Mode, Vec<CellOutcome>, f64)],
    rows: &[MapRow],
    figures: &[(String, String)],
    skipped: &[(Mode, String)],
) -> Result<PathBuf, SweepError> {
    let per_mode = rows.len() / results.len();
    let mut text = String::new();
    let list = |values: &[f64]| {
        values
            .iter()
            .map(|v| format!("{v:e}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(text, "# Precision map\n");
    let _ = writeln!(
        text,
        "Data {}, {} training and {} test samples, hidden width {}, {} steps, seed {}.  ",
        config.data, config.n_train, config.n_test, config.hidden, config.steps, config.seed
    );
    let _ = writeln!(text, "alpha: {}  ", list(&config.alphas));
    let _ = writeln!(text, "eta: {}  ", list(&config.etas));
    let optimizers: Vec<&str> = config.optimizers.iter().map(|o| o.name()).collect();
    let _ = writeln!(text, "optimizers: {}\n", optimizers.join(", "));
    let _ = writeln!(
        text,
        "Reference: {}. A cell is accurate when the relative error of L_T - L_0 is at most \
         {ACCURACY_LIMIT:e}.\n",
        Mode::TRUTH.name()
    );
    let sensitive = sensitive_cells(results, rows);
    if sensitive.iter().any(|&s| s) {
        let _ = writeln!(
            text,
            "{} cells are left out of every count below because they are sensitive to rounding: \
             there the cpu f64 run kept its updates and its output change resolvable (trusted), \
             yet its loss change differs from the reference by more than {ACCURACY_LIMIT:e}. \
             Two float64 formulations that disagree like that follow dynamics that amplify \
             rounding, such as RMSProp's sign-like steps at large eta, so no finite precision \
             is the truth there.\n",
            sensitive.iter().filter(|&&s| s).count()
        );
    }
    let _ = writeln!(
        text,
        "| mode | cells compared | accurate | max error where trusted | untrusted but accurate | \
         trusted but inaccurate | seconds |"
    );
    let _ = writeln!(text, "|---|---:|---:|---:|---:|---:|---:|");
    for (index, (mode, _, seconds)) in results.iter().enumerate() {
        let block = &rows[index * per_mode..(index + 1) * per_mode];
        let compared: Vec<&MapRow> = block
            .iter()
            .zip(&sensitive)
            .filter(|(r, s)| !**s && !r.loss_change_error.is_nan())
            .map(|(r, _)| r)
            .collect();
        let accurate = compared
            .iter()
            .filter(|r| r.loss_change_error <= ACCURACY_LIMIT)
            .count();
        // "-" where no compared cell is trusted, so there is no maximum to report.
        let trusted_max = compared
            .iter()
            .filter(|r| r.trusted == Some(true))
            .map(|r| r.loss_change_error)
            .reduce(f64::max)
            .map_or("-".to_string(), |max| format!("{max:.1e}"));
        let false_alarms = compared
            .iter()
            .filter(|r| r.trusted == Some(false) && r.loss_change_error <= ACCURACY_LIMIT)
            .count();
        let misses = compared
            .iter()
            .filter(|r| r.trusted == Some(true) && r.loss_change_error > ACCURACY_LIMIT)
            .count();
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} | {} | {:.1} |",
            mode.name(),
            compared.len(),
            accurate,
            trusted_max,
            false_alarms,
            misses,
            seconds
        );
    }
    let _ = writeln!(text);
    for (mode, reason) in skipped {
        let _ = writeln!(text, "Not measured: {}, because {reason}.\n", mode.name());
    }
    for (file, caption) in figures {
        let _ = writeln!(text, "![{caption}]({file})\n");
    }
    let path = out.join(REPORT_FILE);
    write_atomically(&path, text.as_bytes())?;
    Ok(path)
}
