//! The sweep driver: load data, resume from the run folder, train pending cells in
//! batches, write each finished cell at once, then draw the figures.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use log::{info, warn};
use serde::Serialize;
use serde_json::Value;

use super::grid::{GridCell, cells};
use super::output::{RUN_FILE, read_results, write_atomically, write_results};
use super::record::CellRecord;
use super::{RunOptions, SweepConfig, SweepError};
use crate::cpu::CpuEngine;
use crate::data::{self, DataSource, Prepared, SourceFile};
use crate::engine::{
    BackendChoice, CellOutcome, CellSpec, Engine, EngineError, EngineEvent, Precision, Problem,
    TrainSettings, is_trusted,
};
use crate::gpu::{GpuDevice, GpuEngine, GpuError};
use crate::model::{Activation, CLASSES, InitialWeights};
use crate::report;

/// Summary of a finished sweep invocation.
#[derive(Debug)]
pub struct RunInfo {
    /// Every finished cell, in grid order, including cells from earlier invocations.
    pub records: Vec<CellRecord>,
    /// Cells trained by this invocation.
    pub trained: usize,
    /// Cells found finished in the folder and skipped.
    pub skipped: usize,
    pub figures: Vec<PathBuf>,
}

/// Contents of `run.json`.
#[derive(Serialize)]
struct RunFile<'a> {
    lazysweep_version: &'static str,
    status: &'static str,
    config: &'a SweepConfig,
    activation_constant: f64,
    data: DataInfo<'a>,
    backend: BackendInfo,
    machine: MachineInfo,
    timing: TimingInfo,
}

#[derive(Serialize)]
struct DataInfo<'a> {
    name: &'a str,
    d: usize,
    n_train: usize,
    n_test: usize,
    files: &'a [SourceFile],
}

#[derive(Serialize)]
struct BackendInfo {
    requested: BackendChoice,
    used: &'static str,
    precision: &'static str,
    reason: String,
}

#[derive(Serialize)]
struct MachineInfo {
    os: &'static str,
    arch: &'static str,
    threads: usize,
    cpu_model: Option<String>,
}

#[derive(Serialize)]
struct TimingInfo {
    started_unix_s: u64,
    updated_unix_s: u64,
    wall_s: f64,
    cells_total: usize,
    cells_finished: usize,
}

/// Runs (or resumes) a sweep and returns its records.
pub fn run_sweep(config: &SweepConfig, options: &RunOptions) -> Result<RunInfo, SweepError> {
    validate(config, options)?;
    let started = Instant::now();
    let started_unix = unix_now();

    check_existing_config(&options.out, config)?;

    let source: DataSource = config.data.parse()?;
    let raw = data::load(&source, options.data_dir.as_deref())?;
    let prepared = data::prepare(&raw, config.n_train, config.n_test, config.data_seed)?;

    info!(
        "data: {} with {} training and {} test samples of dimension {}",
        config.data,
        prepared.n_train(),
        prepared.n_test(),
        prepared.d
    );

    let activation = match config.activation_scale {
        Some(a) => Activation { a },
        None => Activation::normalized(config.activation_norm),
    };
    let settings = TrainSettings {
        steps: config.steps,
        activation,
        optimizer: config.optimizer,
        divergence_factor: config.divergence_factor,
        record_losses: false,
        precision: Precision::F64,
    };

    let (mut engine, reason) = choose_engine(options.backend, options.precision)?;
    let settings = TrainSettings {
        precision: options.precision.unwrap_or(engine.default_precision()),
        ..settings
    };
    let engine_name = engine.name();
    let engine_precision = engine.precision(settings.precision)?;
    info!("backend: {engine_name} ({reason}), precision {engine_precision}");

    let grid = cells(
        &config.optimizers,
        &config.alphas,
        &config.etas,
        &config.seeds,
    );
    let mut finished = load_finished(&options.out, &grid)?;
    let skipped = finished.iter().flatten().count();
    let pending: Vec<usize> = (0..grid.len()).filter(|&i| finished[i].is_none()).collect();
    // Cells of one folder come from one engine and arithmetic, which run.json records.
    if let Some(other) = finished
        .iter()
        .flatten()
        .find(|r| r.precision != engine_precision || r.backend != engine_name)
    {
        return Err(SweepError::PrecisionMismatch {
            dir: options.out.clone(),
            found: describe_arithmetic(&other.backend, &other.precision),
            requested: describe_arithmetic(engine_name, engine_precision),
        });
    }
    // The folder is created only once the data loaded and the engine accepted the
    // precision, so a bad --data, --backend or --precision leaves nothing behind.
    std::fs::create_dir_all(&options.out).map_err(|source| SweepError::Write {
        path: options.out.clone(),
        source,
    })?;
    if skipped > 0 {
        info!(
            "resuming: {skipped} of {} cells already finished in {}",
            grid.len(),
            options.out.display()
        );
    }

    let run_file = |status: &'static str, finished: &[Option<CellRecord>]| RunFile {
        lazysweep_version: env!("CARGO_PKG_VERSION"),
        status,
        config,
        activation_constant: activation.a,
        data: DataInfo {
            name: &config.data,
            d: prepared.d,
            n_train: prepared.n_train(),
            n_test: prepared.n_test(),
            files: &raw.files,
        },
        backend: BackendInfo {
            requested: options.backend,
            used: engine_name,
            precision: engine_precision,
            reason: reason.clone(),
        },
        machine: machine_info(),
        timing: TimingInfo {
            started_unix_s: started_unix,
            updated_unix_s: unix_now(),
            wall_s: started.elapsed().as_secs_f64(),
            cells_total: grid.len(),
            cells_finished: finished.iter().flatten().count(),
        },
    };
    write_run_file(&options.out, &run_file("running", &finished))?;

    let batch_cells = batch_size(&prepared, config.hidden, options.batch_cells)?;
    let progress = progress_bar(options.progress, pending.len(), config.steps);
    let mut trained = 0;

    for &seed in &config.seeds {
        let seed_cells: Vec<usize> = pending
            .iter()
            .copied()
            .filter(|&i| grid[i].seed == seed)
            .collect();
        if seed_cells.is_empty() && options.save_init.is_none() {
            continue;
        }
        let init = initial_weights(config, options, &prepared, seed)?;
        if let Some(path) = &options.save_init {
            if seed == config.seeds[0] {
                save_init(path, &init)?;
            }
        }

        for batch in seed_cells.chunks(batch_cells) {
            let specs: Vec<CellSpec> = batch
                .iter()
                .map(|&i| CellSpec {
                    optimizer: grid[i].optimizer,
                    alpha: grid[i].alpha,
                    eta: grid[i].eta,
                })
                .collect();
            let problem = Problem {
                data: &prepared,
                init: &init,
                settings: &settings,
            };
            let batch_start = Instant::now();
            let mut write_error = None;

            let mut on_event = |event: EngineEvent<'_>| match event {
                EngineEvent::Step { active } => progress.inc(active as u64),
                EngineEvent::CellFinished { index, outcome } => {
                    let cell = grid[batch[index]];
                    let record = to_record(
                        config,
                        cell,
                        outcome,
                        engine_name,
                        engine_precision,
                        batch_start,
                    );
                    progress.inc(config.steps.saturating_sub(outcome.steps_run));
                    finished[batch[index]] = Some(record);
                    trained += 1;
                    let done = finished.iter().flatten().count();
                    progress.set_message(format!("{done}/{} cells", grid.len()));
                    if let Err(err) = write_results(&options.out, &in_order(&finished)) {
                        write_error.get_or_insert(err);
                    }
                    if let Err(err) = write_run_file(&options.out, &run_file("running", &finished))
                    {
                        write_error.get_or_insert(err);
                    }
                }
            };
            engine.train(problem, &specs, &mut on_event)?;
            if let Some(err) = write_error {
                return Err(err);
            }
        }
    }
    progress.finish_and_clear();

    write_results(&options.out, &in_order(&finished))?;
    write_run_file(&options.out, &run_file("complete", &finished))?;
    let records = in_order(&finished);
    let diverged = records.iter().filter(|r| r.diverged).count();
    info!(
        "finished {} {} ({trained} trained now, {skipped} from before, {diverged} diverged) in {:.1} s",
        records.len(),
        if records.len() == 1 { "cell" } else { "cells" },
        started.elapsed().as_secs_f64()
    );

    if diverged > 0 {
        warn!(
            "{diverged} of {} cells diverged; their metrics are empty in results.csv",
            records.len()
        );
    }
    warn_untrusted(&records, engine_precision);

    let figures = if options.plots {
        let context = plot_context(config, &prepared, engine_name, engine_precision);
        plot_records(&options.out, &records, &context)?
    } else {
        Vec::new()
    };
    Ok(RunInfo {
        records,
        trained,
        skipped,
        figures,
    })
}

fn validate(config: &SweepConfig, options: &RunOptions) -> Result<(), SweepError> {
    let invalid = |message: String| Err(SweepError::InvalidSetting(message));
    if config.optimizers.is_empty() {
        return invalid("--optimizer lists no optimizer".into());
    }
    if config.alphas.is_empty() || config.etas.is_empty() || config.seeds.is_empty() {
        return invalid("the grid is empty: give at least one alpha, eta and seed".into());
    }
    if let Some(&alpha) = config.alphas.iter().find(|a| !(a.is_finite() && **a > 0.0)) {
        return invalid(format!("alpha = {alpha} must be finite and > 0"));
    }
    if let Some(&eta) = config.etas.iter().find(|e| !(e.is_finite() && **e > 0.0)) {
        return invalid(format!("eta = {eta} must be finite and > 0"));
    }

    if config.hidden == 0 {
        return invalid("--hidden must be at least 1".into());
    }
    if config.n_train == 0 {
        return invalid("--n-train must be at least 1".into());
    }
    if config.n_test == Some(0) {
        return invalid("--n-test must be at least 1 (omit it to use the whole test set)".into());
    }

    // NaN fails the comparison and is rejected too.
    if config.divergence_factor.partial_cmp(&1.0) != Some(std::cmp::Ordering::Greater) {
        return invalid(format!(
            "--divergence-factor = {} must be > 1",
            config.divergence_factor
        ));
    }
    if let Some(a) = config.activation_scale {
        if !(a.is_finite() && a > 0.0) {
            return invalid(format!("--activation-scale = {a} must be finite and > 0"));
        }
    }

    let opt = &config.optimizer;
    if !(0.0..1.0).contains(&opt.rho) {
        return invalid(format!("--rho = {} must be in [0, 1)", opt.rho));
    }
    if !(opt.eps >= 0.0 && opt.eps.is_finite()) {
        return invalid(format!("--eps = {} must be finite and >= 0", opt.eps));
    }

    if options.batch_cells == 0 {
        return invalid("--batch-cells must be at least 1".into());
    }
    if options.init_file.is_some() && config.seeds.len() > 1 {
        return invalid("--init gives one theta_0, so it needs exactly one --seed".into());
    }
    Ok(())
}

/// Rejects a folder whose `run.json` records a different configuration.
fn check_existing_config(dir: &Path, config: &SweepConfig) -> Result<(), SweepError> {
    let path = dir.join(RUN_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(SweepError::Read { path, source }),
    };
    let stored: Value = serde_json::from_str(&text).map_err(|err| SweepError::RunFile {
        path: path.clone(),
        message: err.to_string(),
    })?;
    let stored = stored.get("config").cloned().unwrap_or(Value::Null);
    let current = serde_json::to_value(config).expect("the configuration serializes");
    if stored == current {
        return Ok(());
    }

    let mut differences = Vec::new();
    if let (Value::Object(old), Value::Object(new)) = (&stored, &current) {
        for (key, value) in new {
            match old.get(key) {
                Some(previous) if previous == value => {}
                Some(previous) => differences.push(format!(
                    "{key}: {} before, {} now",
                    setting_text(previous),
                    setting_text(value)
                )),
                None => differences.push(format!("{key}: missing before")),
            }
        }
    } else {
        differences.push("no configuration recorded".into());
    }
    Err(SweepError::ConfigMismatch {
        dir: dir.to_path_buf(),
        differences: differences.join("; "),
    })
}

/// Reads the finished cells of an earlier run, placed at their grid index.
fn load_finished(dir: &Path, grid: &[GridCell]) -> Result<Vec<Option<CellRecord>>, SweepError> {
    let mut finished = vec![None; grid.len()];
    for record in read_results(dir)? {
        let position = grid.iter().position(|cell| {
            cell.optimizer.name() == record.optimizer
                && cell.alpha == record.alpha
                && cell.eta == record.eta
                && cell.seed == record.seed
        });
        match position {
            Some(i) => finished[i] = Some(record),
            None => {
                return Err(SweepError::ForeignRow {
                    path: dir.join(super::output::RESULTS_FILE),
                    optimizer: record.optimizer,
                    alpha: record.alpha,
                    eta: record.eta,
                    seed: record.seed,
                });
            }
        }
    }
    Ok(finished)
}

/// Warns about cells whose `trusted` column is false, naming the first few.
fn warn_untrusted(records: &[CellRecord], precision: &str) {
    const LISTED: usize = 5;
    let untrusted: Vec<&CellRecord> = records
        .iter()
        .filter(|r| r.trusted == Some(false))
        .collect();
    if untrusted.is_empty() {
        return;
    }
    let listed: Vec<String> = untrusted
        .iter()
        .take(LISTED)
        .map(|r| format!("{} alpha = {:e}, eta = {:e}", r.optimizer, r.alpha, r.eta))
        .collect();
    let more = untrusted.len().saturating_sub(LISTED);
    let rest = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    let hint = match precision {
        label if label.starts_with("offset") => "",
        // On the GPU engine, offset computes in float32.
        "float64" => "; --backend cpu --precision offset keeps the updates resolvable",
        _ => "; --precision offset keeps the updates resolvable",
    };
    warn!(
        "{} of {} cells are untrusted in {precision}: rounding lost their updates or cancelled \
         f - f_0 (lost_update or cancellation above 1e-3): {}{rest}{hint}",
        untrusted.len(),
        records.len(),
        listed.join("; ")
    );
}

fn in_order(finished: &[Option<CellRecord>]) -> Vec<CellRecord> {
    finished.iter().flatten().cloned().collect()
}

fn to_record(
    config: &SweepConfig,
    cell: GridCell,
    outcome: &CellOutcome,
    backend: &str,
    precision: &str,
    batch_start: Instant,
) -> CellRecord {
    CellRecord {
        dataset: config.data.clone(),
        optimizer: cell.optimizer.name().to_string(),
        alpha: cell.alpha,
        eta: cell.eta,
        seed: cell.seed,
        steps_run: outcome.steps_run,
        diverged: outcome.diverged_step.is_some(),
        diverged_step: outcome.diverged_step,
        final_loss: outcome.final_loss,
        train_acc: outcome.train_acc,
        test_acc: outcome.test_acc,
        sign_consistency: outcome.sign_consistency,
        rel_change_w0: outcome.rel_change_w0,
        rel_change_w1: outcome.rel_change_w1,
        lost_update: outcome.lost_update,
        cancellation: outcome.cancellation,
        // A diverged cell has no final state to judge, and a run of 0 steps moved nothing
        // that rounding could lose.
        trusted: if outcome.diverged_step.is_some() || outcome.steps_run == 0 {
            None
        } else {
            is_trusted(outcome.lost_update, outcome.cancellation)
        },
        backend: backend.to_string(),
        precision: precision.to_string(),
        wall_s: batch_start.elapsed().as_secs_f64(),
    }
}

/// Picks the engine for `--backend` and `--precision` and returns it with the reason for
/// the choice. With `--backend auto`, a precision that only the GPU engine computes in
/// selects the GPU engine.
fn choose_engine(
    choice: BackendChoice,
    precision: Option<Precision>,
) -> Result<(Box<dyn Engine>, String), SweepError> {
    let gpu_only = precision.is_some_and(Precision::gpu_only);
    // Without an adapter the GPU error's advice, --backend cpu, cannot serve a precision
    // that only the GPU engine computes.
    let open_gpu = || {
        GpuEngine::new().map_err(|err| match (err, precision) {
            (GpuError::NoAdapter, Some(p)) if gpu_only => EngineError::Unavailable(
                "gpu".into(),
                format!(
                    "no GPU adapter found, and --precision {p} runs only on the GPU engine: \
                     install a Vulkan driver (for a software one, the Debian or Ubuntu \
                     packages mesa-vulkan-drivers and libvulkan1), or use --backend cpu with \
                     --precision f64 or offset"
                ),
            ),
            (err, _) => EngineError::from(err),
        })
    };
    if choice == BackendChoice::Auto && gpu_only {
        let engine = open_gpu()?;
        let reason = format!(
            "--backend auto with --precision {}, which only the GPU engine computes in; \
             adapter '{}'",
            precision.map_or("", Precision::name),
            engine.device().info.name
        );
        return Ok((Box::new(engine), reason));
    }
    match choice {
        BackendChoice::Cpu => Ok((
            Box::new(CpuEngine::new()),
            "requested with --backend cpu".into(),
        )),
        BackendChoice::Gpu => {
            let engine = open_gpu()?;
            let reason = format!(
                "requested with --backend gpu; adapter '{}'",
                engine.device().info.name
            );
            Ok((Box::new(engine), reason))
        }
        BackendChoice::Auto => Ok(choose_automatically(precision)),
    }
}

/// Picks the GPU engine on a discrete or integrated GPU that computes in `precision`, and
/// the float64 CPU engine otherwise. On a CPU-hosted adapter such as lavapipe the CPU
/// engine is several times faster, because it runs optimized GEMM on the same cores.
fn choose_automatically(precision: Option<Precision>) -> (Box<dyn Engine>, String) {
    // Only a real GPU gets its kernels compiled and measured; for a CPU-hosted adapter the
    // device alone decides.
    let device = match GpuDevice::new() {
        Ok(device) => device,
        Err(err) => {
            return (
                Box::new(CpuEngine::new()),
                format!("--backend auto: no usable GPU ({err})"),
            );
        }
    };
    if !device.is_real_gpu() {
        let reason = format!(
            "--backend auto: adapter '{}' is a {:?} device, where the CPU engine is faster",
            device.info.name, device.info.device_type
        );
        return (Box::new(CpuEngine::new()), reason);
    }
    let name = device.info.name.clone();
    if precision == Some(Precision::F64) && !device.features.contains(wgpu::Features::SHADER_F64) {
        let reason = format!(
            "--backend auto with --precision f64: GPU '{name}' has no 64-bit floats in shaders"
        );
        return (Box::new(CpuEngine::new()), reason);
    }
    match GpuEngine::with_device(device) {
        Ok(engine) => (
            Box::new(engine),
            format!("--backend auto: found GPU '{name}'"),
        ),
        Err(err) => {
            warn!("GPU '{name}' failed to compile the kernels, so the CPU engine runs: {err}");
            (
                Box::new(CpuEngine::new()),
                format!("--backend auto: GPU '{name}' failed to compile the kernels ({err})"),
            )
        }
    }
}

/// Returns the number of cells per batch: `requested`, reduced to what fits in half of the
/// available memory.
fn batch_size(data: &Prepared, hidden: usize, requested: usize) -> Result<usize, SweepError> {
    let per_cell = CpuEngine::batch_bytes(data.n_train(), data.d, hidden, 1) as f64;
    let Some(available) = available_memory_bytes() else {
        return Ok(requested);
    };
    let budget = available as f64 / 2.0;
    let gib = |bytes: f64| bytes / (1u64 << 30) as f64;
    if per_cell > budget {
        return Err(SweepError::OutOfMemory {
            needed_gib: gib(per_cell),
            available_gib: gib(budget),
        });
    }
    let fits = (budget / per_cell).floor() as usize;
    if fits < requested {
        warn!(
            "memory: {requested} cells per batch need {:.1} GiB; using {fits}",
            gib(per_cell * requested as f64)
        );
    }
    Ok(requested.min(fits).max(1))
}

/// Reads MemAvailable from /proc/meminfo where it exists.
fn available_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text
        .lines()
        .find(|line| line.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn initial_weights(
    config: &SweepConfig,
    options: &RunOptions,
    data: &Prepared,
    seed: u64,
) -> Result<InitialWeights, SweepError> {
    let Some(path) = &options.init_file else {
        return Ok(InitialWeights::draw(data.d, config.hidden, CLASSES, seed));
    };
    let (w0, w0_shape) = data::read_npz_f64(path, "W0")?;
    let (w1, w1_shape) = data::read_npz_f64(path, "W1")?;
    let expected_w0 = [config.hidden, data.d];
    let expected_w1 = [CLASSES, config.hidden];
    if w0_shape != expected_w0 || w1_shape != expected_w1 {
        return Err(SweepError::InvalidSetting(format!(
            "{} has W0 of shape {w0_shape:?} and W1 of shape {w1_shape:?}, but --hidden {} on \
             this data needs W0 {expected_w0:?} and W1 {expected_w1:?}",
            path.display(),
            config.hidden
        )));
    }
    Ok(InitialWeights {
        d: data.d,
        hidden: config.hidden,
        classes: CLASSES,
        w0,
        w1,
    })
}

fn save_init(path: &Path, init: &InitialWeights) -> Result<(), SweepError> {
    data::write_npz_f64(
        path,
        &[
            ("W0", &init.w0, &[init.hidden, init.d]),
            ("W1", &init.w1, &[init.classes, init.hidden]),
        ],
    )?;
    info!("wrote theta_0 to {}", path.display());
    Ok(())
}

/// Whether the sweep was interrupted. The lock also orders the writes of run.json, so that
/// no write of the running sweep replaces the interrupted status.
static INTERRUPTED: Mutex<bool> = Mutex::new(false);

/// Sets the status in `dir`'s run.json to "interrupted", for a sweep stopped before its
/// end, and stops later writes of run.json by this process. Returns false when there is
/// no run.json yet.
pub fn mark_interrupted(dir: &Path) -> Result<bool, SweepError> {
    let mut interrupted = INTERRUPTED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *interrupted = true;
    let path = dir.join(RUN_FILE);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => return Err(SweepError::Read { path, source }),
    };
    let mut run: serde_json::Value =
        serde_json::from_slice(&text).map_err(|err| SweepError::Read {
            path: path.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, err),
        })?;
    run["status"] = "interrupted".into();
    let json = serde_json::to_vec_pretty(&run).expect("a JSON value serializes");
    write_atomically(&path, &json)?;
    Ok(true)
}

/// Describes an engine and the precision column it writes, with the options that select
/// them, such as "the gpu engine in float64 (--backend gpu --precision f64)".
fn describe_arithmetic(backend: &str, label: &str) -> String {
    let flag = match label.parse::<Precision>() {
        Ok(precision) => precision.name(),
        Err(_) => label,
    };
    format!("the {backend} engine in {label} (--backend {backend} --precision {flag})")
}

/// Returns a stored setting as text for a message, with an unset option as "not set".
fn setting_text(value: &Value) -> String {
    match value {
        Value::Null => "not set".to_string(),
        other => other.to_string(),
    }
}

fn write_run_file(dir: &Path, run: &RunFile<'_>) -> Result<(), SweepError> {
    let interrupted = INTERRUPTED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if *interrupted {
        return Ok(());
    }
    let json = serde_json::to_vec_pretty(run).expect("the run description serializes");
    write_atomically(&dir.join(RUN_FILE), &json)
}

fn progress_bar(visible: bool, cells: usize, steps: u64) -> ProgressBar {
    let total = cells as u64 * steps.max(1);
    let bar = ProgressBar::with_draw_target(
        Some(total),
        if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {msg}, {human_pos}/{human_len} cell-steps, ETA {eta}",
        )
        .expect("a valid progress template"),
    );
    bar
}

fn machine_info() -> MachineInfo {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|name| name.trim().to_string())
        });
    MachineInfo {
        os: std::env::consts::OS,
        arch: std::env::consts::ARCH,
        threads: rayon::current_num_threads(),
        cpu_model,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn plot_context(config: &SweepConfig, data: &Prepared, backend: &str, precision: &str) -> String {
    super::plot::figure_context(
        &data.n_train().to_string(),
        &config.hidden.to_string(),
        &config.steps.to_string(),
        config.optimizer.eps,
        backend,
        precision,
    )
}

/// Draws the figure set of `records` into `dir/figures` (see [`report::write_figures`]) and
/// returns every file written.
pub fn plot_records(
    dir: &Path,
    records: &[CellRecord],
    context: &str,
) -> Result<Vec<PathBuf>, SweepError> {
    super::plot::plot_records_with(dir, records, &report::FigureOptions::new(context))
}
