//! The published protocol of Kanoh and Sugiyama (arXiv:2103.03466) as sweeps: MNIST,
//! Fashion-MNIST and CIFAR-10, each trained with gd, rmsprop and modified-rmsprop over a
//! log-spaced (alpha, eta) grid, then a `summary.md` that places every figure.

use std::fmt;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use log::info;

use super::grid::parse_grid;
use super::output::{RESULTS_FILE, read_results, write_atomically};
use super::plot::{run_context, write_run_figures};
use super::{RunOptions, SweepConfig, SweepError, run_sweep};
use crate::engine::{BackendChoice, Precision};
use crate::model::ActivationNorm;
use crate::optim::{OptimizerKind, OptimizerSettings};
use crate::report::{FigureOptions, WrittenFigure, format_grid_value};

/// Datasets of the protocol, in the order they are run.
pub const PROTOCOL_DATASETS: [&str; 3] = ["mnist", "fashion-mnist", "cifar10"];

/// Optimizers of the protocol, in panel order.
pub const PROTOCOL_OPTIMIZERS: [OptimizerKind; 3] = [
    OptimizerKind::Gd,
    OptimizerKind::Rmsprop,
    OptimizerKind::ModifiedRmsprop,
];

/// Name of the report written into the output folder of [`reproduce`].
pub const SUMMARY_FILE: &str = "summary.md";

/// Size of a protocol run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Whole-decade grids (13 x 13) with 500 training samples, 2000 test samples, 50 hidden
    /// units and 200 steps.
    Quick,
    /// The paper's sizes: half-decade grids (25 x 25), 10000 training samples, the whole test
    /// set, 1000 hidden units and 5000 steps.
    Paper,
}

impl Scale {
    pub fn name(self) -> &'static str {
        match self {
            Scale::Quick => "quick",
            Scale::Paper => "paper",
        }
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scale {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "quick" => Ok(Scale::Quick),
            "paper" => Ok(Scale::Paper),
            _ => Err(format!("unknown scale '{text}': expected quick or paper")),
        }
    }
}

/// Returns the sweep configuration of every protocol dataset at `scale`, in
/// [`PROTOCOL_DATASETS`] order.
///
/// Both scales span log10 alpha from -4 to 8 and log10 eta from -6 to 6, with exact powers
/// of ten at the integers. `quick` steps by whole decades and `paper` by half decades. Every
/// dataset uses seed 0 for theta_0 and for the data subsample, and the second-moment
/// activation constant. It also uses the default optimizer settings (rho = 0.999, eps = 1e-8
/// outside the square root) and a divergence factor of 1e6.
pub fn protocol(scale: Scale) -> Vec<SweepConfig> {
    // Both ends are powers of ten, so `parse_grid` returns them exactly.
    let (grid_size, n_train, n_test, hidden, steps) = match scale {
        Scale::Quick => (13, 500, Some(2000), 50, 200),
        Scale::Paper => (25, 10_000, None, 1000, 5000),
    };
    let alphas = parse_grid("alphas", &format!("1e-4:1e8:{grid_size}")).expect("a valid grid");
    let etas = parse_grid("etas", &format!("1e-6:1e6:{grid_size}")).expect("a valid grid");
    PROTOCOL_DATASETS
        .iter()
        .map(|dataset| SweepConfig {
            data: dataset.to_string(),
            n_train,
            n_test,
            data_seed: 0,
            optimizers: PROTOCOL_OPTIMIZERS.to_vec(),
            alphas: alphas.clone(),
            etas: etas.clone(),
            seeds: vec![0],
            steps,
            hidden,
            activation_norm: ActivationNorm::SecondMoment,
            activation_scale: None,
            optimizer: OptimizerSettings::default(),
            divergence_factor: 1e6,
            init_sha256: None,
        })
        .collect()
}

/// Settings of [`reproduce`] that do not change results.
#[derive(Debug, Clone)]
pub struct ReproduceOptions {
    pub scale: Scale,
    /// Output folder; each dataset runs in its own subfolder.
    pub out: PathBuf,
    pub data_dir: Option<PathBuf>,
    pub backend: BackendChoice,
    /// Arithmetic of the engine; `None` takes the engine's default.
    pub precision: Option<Precision>,
    /// Maximum number of cells trained together.
    pub batch_cells: usize,
    /// Requested eta of the accuracy-against-alpha figure.
    pub eta: f64,
    pub progress: bool,
}

/// The finished run and figures of one dataset.
#[derive(Debug, Clone)]
pub struct DatasetReport {
    pub config: SweepConfig,
    /// Run folder of the dataset, inside the output folder.
    pub run_dir: PathBuf,
    /// Finished rows of `results.csv`.
    pub cells: usize,
    pub diverged: usize,
    pub figures: Vec<WrittenFigure>,
}

/// Runs (or resumes) every sweep of the protocol at `options.scale`, draws the figures of
/// each dataset and writes `summary.md` into `options.out`. Returns the path of the summary.
pub fn reproduce(options: &ReproduceOptions) -> Result<PathBuf, SweepError> {
    // Checked before training, because the figures are drawn only after every sweep.
    if !(options.eta.is_finite() && options.eta > 0.0) {
        return Err(SweepError::InvalidSetting(format!(
            "--eta = {} must be finite and > 0, such as --eta 1",
            options.eta
        )));
    }
    let configs = protocol(options.scale);
    let mut reports = Vec::with_capacity(configs.len());
    for config in configs {
        let run_dir = options.out.join(&config.data);
        info!(
            "reproduce ({} scale): {} into {}",
            options.scale,
            config.data,
            run_dir.display()
        );
        let run_options = RunOptions {
            out: run_dir,
            data_dir: options.data_dir.clone(),
            backend: options.backend,
            precision: options.precision,
            batch_cells: options.batch_cells,
            init_file: None,
            save_init: None,
            plots: false,
            progress: options.progress,
        };
        run_sweep(&config, &run_options)?;
        reports.push(report_dataset(&options.out, config, options.eta)?);
    }
    write_summary(&options.out, options.scale, &reports)
}

/// Draws the figures of the run of `config` in `out/<dataset>` from its `results.csv`.
pub fn report_dataset(
    out: &Path,
    config: SweepConfig,
    eta: f64,
) -> Result<DatasetReport, SweepError> {
    let run_dir = out.join(&config.data);
    let records = read_results(&run_dir)?;
    let figure_options = FigureOptions {
        eta,
        ..FigureOptions::new(run_context(&run_dir))
    };
    let figures = write_run_figures(&run_dir, &records, &figure_options)?;
    Ok(DatasetReport {
        config,
        run_dir,
        cells: records.len(),
        diverged: records.iter().filter(|r| r.diverged).count(),
        figures,
    })
}

/// Writes `summary.md` into `out` and returns its path.
pub fn write_summary(
    out: &Path,
    scale: Scale,
    reports: &[DatasetReport],
) -> Result<PathBuf, SweepError> {
    let path = out.join(SUMMARY_FILE);
    write_atomically(&path, summary_markdown(out, scale, reports).as_bytes())?;
    info!("wrote {}", path.display());
    Ok(path)
}

/// Builds the Markdown of `summary.md`: the settings of every dataset, then each figure with
/// its caption, linked relative to `out`.
pub fn summary_markdown(out: &Path, scale: Scale, reports: &[DatasetReport]) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# Output scale and adaptive learning rates: {scale} reproduction\n"
    );
    let _ = writeln!(
        text,
        "Protocol of Kanoh and Sugiyama, \"Unintended Effects on Adaptive Learning Rate for \
         Training Neural Network with Output Scale Change\" (arXiv:2103.03466), run by \
         `lazysweep reproduce --scale {scale}`. Each dataset has its own run folder with \
         `{RESULTS_FILE}` and `run.json`; rerunning the command resumes unfinished cells.\n"
    );
    for report in reports {
        write_dataset_section(&mut text, out, report);
    }
    text
}

fn write_dataset_section(text: &mut String, out: &Path, report: &DatasetReport) {
    let config = &report.config;
    let run_link = relative_link(out, &report.run_dir);
    let _ = writeln!(text, "## {}\n", config.data);
    let _ = writeln!(text, "{}\n", settings_line(config));
    let _ = writeln!(
        text,
        "Run folder: [{run_link}]({run_link}/), {} finished cells, {} diverged; results in \
         [{run_link}/{RESULTS_FILE}]({run_link}/{RESULTS_FILE}).\n",
        report.cells, report.diverged
    );
    if report.figures.is_empty() {
        let _ = writeln!(text, "No finished cells, so no figures.\n");
    }
    for figure in &report.figures {
        let _ = writeln!(text, "### {}\n", figure.stem);
        let _ = writeln!(text, "{}\n", figure.caption);
        let mut links = Vec::new();
        for file in &figure.files {
            let link = relative_link(out, file);
            let is_png = file.extension().is_some_and(|ext| ext == "png");
            if is_png {
                let _ = writeln!(text, "![{}]({link})\n", figure.stem);
            }
            let format = file
                .extension()
                .map(|ext| ext.to_string_lossy().to_uppercase())
                .unwrap_or_default();
            links.push(format!("[{format}]({link})"));
        }
        let _ = writeln!(text, "Files: {}\n", links.join(", "));
    }
}

/// Describes the settings of one dataset's sweep in one line.
fn settings_line(config: &SweepConfig) -> String {
    let optimizers: Vec<&str> = config.optimizers.iter().map(|kind| kind.name()).collect();
    let test = match config.n_test {
        Some(n) => format!("{n} test samples"),
        None => "the whole test set".to_string(),
    };
    let seeds: Vec<String> = config.seeds.iter().map(u64::to_string).collect();
    format!(
        "Settings: optimizers {}; {} alphas from {} to {}; {} etas from {} to {}; \
         {} training samples, {test}; hidden width {}; {} full-batch steps; seeds {}; \
         rho {}, eps {:e}; divergence factor {:e}.",
        optimizers.join(", "),
        config.alphas.len(),
        grid_end(&config.alphas, false),
        grid_end(&config.alphas, true),
        config.etas.len(),
        grid_end(&config.etas, false),
        grid_end(&config.etas, true),
        config.n_train,
        config.hidden,
        config.steps,
        seeds.join(", "),
        config.optimizer.rho,
        config.optimizer.eps,
        config.divergence_factor,
    )
}

fn grid_end(values: &[f64], last: bool) -> String {
    let value = if last { values.last() } else { values.first() };
    value.map(|&v| format_grid_value(v)).unwrap_or_default()
}

/// Returns `path` relative to `base` with `/` separators, or the whole path when it lies
/// outside `base`.
fn relative_link(base: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(base).unwrap_or(path);
    relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decade_powers(low: i32, high: i32) -> Vec<f64> {
        (low..=high)
            .map(|k| format!("1e{k}").parse().unwrap())
            .collect()
    }

    #[test]
    fn paper_grids_and_sizes() {
        let configs = protocol(Scale::Paper);
        let datasets: Vec<&str> = configs.iter().map(|c| c.data.as_str()).collect();
        assert_eq!(datasets, ["mnist", "fashion-mnist", "cifar10"]);
        for config in &configs {
            assert_eq!(config.alphas.len(), 25);
            assert_eq!(config.etas.len(), 25);
            assert_eq!(config.alphas[0], 1e-4);
            assert_eq!(config.alphas[24], 1e8);
            assert_eq!(config.etas[0], 1e-6);
            assert_eq!(config.etas[24], 1e6);
            // Every even index is a whole decade, every odd one half a decade above the last.
            assert_eq!(
                config.alphas.iter().step_by(2).copied().collect::<Vec<_>>(),
                decade_powers(-4, 8)
            );
            assert_eq!(
                config.etas.iter().step_by(2).copied().collect::<Vec<_>>(),
                decade_powers(-6, 6)
            );
            assert!((config.alphas[1].log10() - (-3.5)).abs() < 1e-12);
            assert!((config.etas[23].log10() - 5.5).abs() < 1e-12);
            assert_eq!(config.n_train, 10_000);
            assert_eq!(config.n_test, None);
            assert_eq!(config.hidden, 1000);
            assert_eq!(config.steps, 5000);
            assert_eq!(config.optimizers, PROTOCOL_OPTIMIZERS);
            assert_eq!(config.seeds, [0]);
        }
    }

    #[test]
    fn quick_grids_and_sizes() {
        let configs = protocol(Scale::Quick);
        assert_eq!(configs.len(), 3);
        for config in &configs {
            assert_eq!(config.alphas, decade_powers(-4, 8));
            assert_eq!(config.etas, decade_powers(-6, 6));
            assert_eq!(config.n_train, 500);
            assert_eq!(config.n_test, Some(2000));
            assert_eq!(config.hidden, 50);
            assert_eq!(config.steps, 200);
            assert_eq!(config.optimizers, PROTOCOL_OPTIMIZERS);
        }
    }

    #[test]
    fn scale_parses() {
        assert_eq!("quick".parse::<Scale>(), Ok(Scale::Quick));
        assert_eq!("paper".parse::<Scale>(), Ok(Scale::Paper));
        let error = "full".parse::<Scale>().unwrap_err();
        assert!(error.contains("'full'"), "{error}");
        assert!(error.contains("quick or paper"), "{error}");
    }

    #[test]
    fn settings_line_names_grid() {
        let config = &protocol(Scale::Quick)[0];
        let line = settings_line(config);
        assert!(line.contains("13 alphas from 1e-4 to 1e8"), "{line}");
        assert!(line.contains("13 etas from 1e-6 to 1e6"), "{line}");
        assert!(
            line.contains("500 training samples, 2000 test samples"),
            "{line}"
        );
        assert!(line.contains("gd, rmsprop, modified-rmsprop"), "{line}");
    }

    #[test]
    fn links_are_relative() {
        let base = Path::new("/tmp/out");
        assert_eq!(
            relative_link(base, Path::new("/tmp/out/mnist/figures/a.png")),
            "mnist/figures/a.png"
        );
    }
}
