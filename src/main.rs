//! Command-line interface of lazysweep.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use lazysweep::engine::{BackendChoice, Precision};
use lazysweep::model::ActivationNorm;
use lazysweep::optim::{EpsPlacement, OptimizerKind, OptimizerSettings};
use lazysweep::sweep::{self, RunOptions, SweepConfig, parse_grid, precision_map};

/// Train (learning rate, output scale) grids of two-layer networks and report accuracy
/// and hidden-feature movement.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train every (optimizer, alpha, eta, seed) cell of a grid; resumes an interrupted run.
    #[command(args_override_self = true, allow_negative_numbers = true)]
    Sweep(SweepArgs),
    /// Redraw the figures of a run folder from its results.csv into RUN_DIR/figures.
    Plot {
        /// Run folder written by `lazysweep sweep`.
        run_dir: PathBuf,
        /// Learning rate of the accuracy-against-alpha figure; the grid eta nearest in log10
        /// is used.
        #[arg(long, default_value_t = lazysweep::report::DEFAULT_FIXED_ETA)]
        eta: f64,
    },
    /// Run the published protocol (MNIST, Fashion-MNIST, CIFAR-10; gd, rmsprop,
    /// modified-rmsprop) and write summary.md with every figure; resumes an interrupted run.
    Reproduce(ReproduceArgs),
    /// Train every arithmetic mode over one grid and measure, per cell, its error against
    /// the CPU float64 offset formulation; writes precision_map.csv, figures and
    /// precision_map.md.
    #[command(allow_negative_numbers = true)]
    PrecisionMap(PrecisionMapArgs),
    /// Cut the first images of the MNIST files into a small gzipped IDX subset.
    Subset {
        /// Folder containing mnist/ with the original IDX files.
        #[arg(long, env = "LAZYSWEEP_DATA")]
        data_dir: PathBuf,
        /// Output folder for the four subset files.
        #[arg(long)]
        out: PathBuf,
        /// Number of training images to keep, from the start of the training files.
        #[arg(long, default_value_t = 4000)]
        n_train: usize,
        /// Number of test images to keep, from the start of the test files.
        #[arg(long, default_value_t = 1000)]
        n_test: usize,
    },
}

#[derive(Args)]
struct PrecisionMapArgs {
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Dataset, as for `sweep --data`.
    #[arg(long, default_value = "mnist-subset")]
    data: String,
    /// Folder with mnist/, fashion-mnist/ and cifar-10/ subfolders of original files.
    #[arg(long, env = "LAZYSWEEP_DATA")]
    data_dir: Option<PathBuf>,
    /// Comma-separated optimizers.
    #[arg(
        long,
        default_value = "gd,rmsprop,modified-rmsprop",
        value_delimiter = ','
    )]
    optimizer: Vec<OptimizerKind>,
    /// Output scales: START:STOP:COUNT (log-spaced, inclusive) or a comma list.
    #[arg(long, default_value = "1e-2:1e8:11", allow_hyphen_values = true)]
    alphas: String,
    /// Learning rates: START:STOP:COUNT (log-spaced, inclusive) or a comma list.
    #[arg(long, default_value = "1e-8:1e2:11", allow_hyphen_values = true)]
    etas: String,
    /// Full-batch gradient steps per cell.
    #[arg(long, default_value_t = 50)]
    steps: u64,
    /// Width of the hidden layer.
    #[arg(long, default_value_t = 32)]
    hidden: usize,
    /// Training samples.
    #[arg(long, default_value_t = 128)]
    n_train: usize,
    /// Test samples.
    #[arg(long, default_value_t = 128)]
    n_test: usize,
    /// Seed of theta_0 and of the data subsample.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Comma-separated modes to compare with cpu:offset: cpu:f64, gpu:f32, gpu:offset,
    /// gpu:df64, gpu:f64. GPU modes that the adapter cannot run are skipped with a warning.
    #[arg(
        long,
        default_value = "cpu:f64,gpu:f32,gpu:offset,gpu:df64,gpu:f64",
        value_delimiter = ','
    )]
    modes: Vec<String>,
}

#[derive(Args)]
struct ReproduceArgs {
    /// quick: 13 x 13 grid, 500 training samples, 2000 test samples, 50 hidden units, 200
    /// steps. paper: 25 x 25 grid, 10000 training samples, the whole test set, 1000 hidden
    /// units, 5000 steps.
    #[arg(long)]
    scale: sweep::Scale,
    /// Output folder; each dataset runs in its own subfolder, summary.md is written here.
    #[arg(long)]
    out: PathBuf,
    /// Folder with mnist/, fashion-mnist/ and cifar-10/ subfolders of original files.
    #[arg(long, env = "LAZYSWEEP_DATA")]
    data_dir: Option<PathBuf>,
    /// Engine: auto, cpu or gpu.
    #[arg(long, default_value = "auto")]
    backend: BackendChoice,
    /// Arithmetic: f64 (CPU, and GPU adapters with 64-bit floats in shaders), f32 (GPU),
    /// offset (both) or df64 (GPU) [default: f64 on the CPU, offset on the GPU].
    #[arg(long)]
    precision: Option<Precision>,
    /// Maximum number of cells trained together (reduced to fit in memory).
    #[arg(long, default_value_t = 8)]
    batch_cells: usize,
    /// Learning rate of the accuracy-against-alpha figure; the grid eta nearest in log10
    /// is used.
    #[arg(long, default_value_t = lazysweep::report::DEFAULT_FIXED_ETA)]
    eta: f64,
}

#[derive(Args)]
struct SweepArgs {
    /// Dataset: mnist-subset (embedded), mnist, fashion-mnist, cifar10, or a PATH.npz with
    /// x_train, y_train, x_test, y_test.
    #[arg(long, default_value = "mnist-subset")]
    data: String,
    /// Folder with mnist/, fashion-mnist/ and cifar-10/ subfolders of original files.
    #[arg(long, env = "LAZYSWEEP_DATA")]
    data_dir: Option<PathBuf>,
    /// Comma-separated optimizers: gd, rmsprop, modified-rmsprop, adam, modified-adam.
    #[arg(
        long,
        default_value = "gd,rmsprop,modified-rmsprop",
        value_delimiter = ','
    )]
    optimizer: Vec<OptimizerKind>,
    /// Output scales: START:STOP:COUNT (log-spaced, inclusive) or a comma list.
    #[arg(long, default_value = "1e-4:1e8:13", allow_hyphen_values = true)]
    alphas: String,
    /// Learning rates: START:STOP:COUNT (log-spaced, inclusive) or a comma list.
    #[arg(long, default_value = "1e-6:1e6:13", allow_hyphen_values = true)]
    etas: String,
    /// Full-batch gradient steps per cell; 0 evaluates theta_0 only.
    #[arg(long, default_value_t = 5000)]
    steps: u64,
    /// Width of the hidden layer.
    #[arg(long, default_value_t = 1000)]
    hidden: usize,
    /// Training samples drawn from the training set (capped at what exists).
    #[arg(long, default_value_t = 10000)]
    n_train: usize,
    /// Test samples drawn from the test set [default: all].
    #[arg(long)]
    n_test: Option<usize>,
    /// Seeds of theta_0, comma-separated; each seed trains every cell once.
    #[arg(long, alias = "seeds", default_value = "0", value_delimiter = ',')]
    seed: Vec<u64>,
    /// Seed of the training and test subsamples.
    #[arg(long, default_value_t = 0)]
    data_seed: u64,
    /// Output folder; rerunning the same command resumes it.
    #[arg(long, default_value = "runs/sweep")]
    out: PathBuf,
    /// Load theta_0 from an .npz with W0 (hidden x d) and W1 (10 x hidden), float64.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Write theta_0 of the first seed to this .npz file.
    #[arg(long)]
    save_init: Option<PathBuf>,
    /// Engine: cpu (float64), gpu (wgpu: float32, df64, or float64 where the adapter has
    /// it), or auto (gpu on a real GPU, and on any adapter for --precision f32 or df64).
    #[arg(long, default_value = "auto")]
    backend: BackendChoice,
    /// Arithmetic: f64 (CPU, and GPU adapters with 64-bit floats in shaders), f32 (GPU),
    /// offset (both) or df64 (GPU) [default: f64 on the CPU, offset on the GPU]. offset
    /// trains in theta - theta_0, in float64 on the CPU and float32 on the GPU. df64 is
    /// offset with theta, its updates and the output and loss sums in double-float.
    #[arg(long)]
    precision: Option<Precision>,
    /// Normalization of the softplus constant a: second-moment or variance.
    #[arg(long, default_value = "second-moment")]
    activation_norm: ActivationNorm,
    /// Use this activation constant a instead of the normalized one.
    #[arg(long)]
    activation_scale: Option<f64>,
    /// Decay rho of RMSProp's second moment.
    #[arg(long, default_value_t = 0.999)]
    rho: f64,
    /// eps of the adaptive optimizers.
    #[arg(long, default_value = "1e-8")]
    eps: f64,
    /// outside: sqrt(v) + eps; inside: sqrt(v + eps).
    #[arg(long, default_value = "outside")]
    eps_placement: EpsPlacement,
    /// A cell diverges when its loss exceeds this multiple of its initial loss.
    #[arg(long, default_value = "1e6")]
    divergence_factor: f64,
    /// Maximum number of cells trained together (reduced to fit in memory).
    #[arg(long, default_value_t = 8)]
    batch_cells: usize,
    /// Do not draw heat maps at the end.
    #[arg(long)]
    no_plots: bool,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_secs()
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", error_chain(&err));
            ExitCode::FAILURE
        }
    }
}

/// Joins an error and its causes with ": ", leaving out a cause whose text the message
/// already contains (several library errors repeat their source in their own text).
fn error_chain(err: &anyhow::Error) -> String {
    let mut message = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Sweep(args) => run_sweep(args),
        Command::Plot { run_dir, eta } => {
            let figures = sweep::plot_run_at(&run_dir, eta)?;
            for path in figures {
                print_line(&path.display().to_string());
            }
            Ok(())
        }
        Command::Reproduce(args) => {
            let options = sweep::ReproduceOptions {
                scale: args.scale,
                out: args.out,
                data_dir: args.data_dir,
                backend: args.backend,
                precision: args.precision,
                batch_cells: args.batch_cells,
                eta: args.eta,
                progress: true,
            };
            let summary = sweep::reproduce(&options)?;
            println!("{}", summary.display());
            Ok(())
        }
        Command::PrecisionMap(args) => run_precision_map(args),
        Command::Subset {
            data_dir,
            out,
            n_train,
            n_test,
        } => {
            lazysweep::data::write_subset(&data_dir, &out, n_train, n_test)
                .with_context(|| format!("failed to write the subset to {}", out.display()))?;
            print_line(&format!("wrote the MNIST subset to {}", out.display()));
            Ok(())
        }
    }
}

fn run_precision_map(args: PrecisionMapArgs) -> Result<()> {
    let mut alphas = parse_grid("alphas", &args.alphas).map_err(anyhow::Error::msg)?;
    let mut etas = parse_grid("etas", &args.etas).map_err(anyhow::Error::msg)?;
    for values in [&mut alphas, &mut etas] {
        values.sort_by(f64::total_cmp);
        values.dedup();
    }
    let modes = args
        .modes
        .iter()
        .map(|text| parse_mode(text))
        .collect::<Result<Vec<_>>>()?;
    let config = precision_map::MapConfig {
        data: args.data,
        n_train: args.n_train,
        n_test: args.n_test,
        hidden: args.hidden,
        steps: args.steps,
        seed: args.seed,
        optimizers: args.optimizer,
        alphas,
        etas,
        modes,
    };
    let report = precision_map::precision_map(&config, &args.out, args.data_dir.as_deref())?;
    print_line(&report.display().to_string());
    Ok(())
}

/// Parses a `--modes` entry such as `gpu:df64`.
fn parse_mode(text: &str) -> Result<precision_map::Mode> {
    let (engine, precision) = text.split_once(':').with_context(|| {
        format!("invalid mode '{text}': expected ENGINE:PRECISION, such as gpu:f32")
    })?;
    let gpu = match engine {
        "cpu" => false,
        "gpu" => true,
        other => bail!("invalid engine '{other}' in mode '{text}': expected cpu or gpu"),
    };
    let precision: Precision = precision.parse().map_err(anyhow::Error::msg)?;
    Ok(precision_map::Mode { gpu, precision })
}

fn run_sweep(args: SweepArgs) -> Result<()> {
    let alphas = parse_grid("alphas", &args.alphas).map_err(anyhow::Error::msg)?;
    let etas = parse_grid("etas", &args.etas).map_err(anyhow::Error::msg)?;
    if args.optimizer.is_empty() {
        bail!("--optimizer lists no optimizer");
    }
    let init_sha256 = match &args.init {
        Some(path) => Some(
            lazysweep::data::file_sha256(path)
                .with_context(|| format!("failed to read --init {}", path.display()))?,
        ),
        None => None,
    };
    let config = SweepConfig {
        data: args.data,
        n_train: args.n_train,
        n_test: args.n_test,
        data_seed: args.data_seed,
        optimizers: args.optimizer,
        alphas,
        etas,
        seeds: args.seed,
        steps: args.steps,
        hidden: args.hidden,
        activation_norm: args.activation_norm,
        activation_scale: args.activation_scale,
        optimizer: OptimizerSettings {
            rho: args.rho,
            eps: args.eps,
            eps_placement: args.eps_placement,
            ..OptimizerSettings::default()
        },
        divergence_factor: args.divergence_factor,
        init_sha256,
    };
    let options = RunOptions {
        out: args.out,
        data_dir: args.data_dir,
        backend: args.backend,
        precision: args.precision,
        batch_cells: args.batch_cells,
        init_file: args.init,
        save_init: args.save_init,
        plots: !args.no_plots,
        progress: true,
    };

    // results.csv and run.json are replaced atomically after every cell, so stopping at any
    // point keeps every finished cell.
    let out = options.out.clone();
    ctrlc::set_handler(move || {
        let results = out.join(sweep::output::RESULTS_FILE);
        if let Err(err) = sweep::mark_interrupted(&out) {
            eprintln!("\nfailed to mark the run as interrupted: {err}");
        }
        if results.is_file() {
            eprintln!(
                "\ninterrupted: finished cells are in {}; run the same command again to resume",
                results.display()
            );
        } else {
            eprintln!(
                "\ninterrupted before any cell finished; run the same command again to start \
                 over in {}",
                out.display()
            );
        }
        std::process::exit(130);
    })
    .context("failed to install the Ctrl-C handler")?;

    let info = sweep::run_sweep(&config, &options)?;
    print_line(&format!(
        "{} cells in {} ({} trained now, {} already finished); results in {}",
        info.records.len(),
        options.out.display(),
        info.trained,
        info.skipped,
        options.out.join(sweep::output::RESULTS_FILE).display()
    ));
    for path in &info.figures {
        print_line(&path.display().to_string());
    }
    Ok(())
}

/// Writes a line to stdout, ignoring a closed pipe (as in `lazysweep sweep ... | head`):
/// the results are on disk by then.
fn print_line(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}
