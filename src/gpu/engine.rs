//! `GpuEngine`: trains a batch of cells on the GPU in float32, in the plain or the offset
//! formulation, in the offset formulation with theta kept in double-float (df64), or in
//! float64 on adapters with 64-bit floats in shaders.

use std::sync::{Mutex, OnceLock};

use log::{debug, info, warn};

use super::batch::{Batch, chunk_count, rows_per_chunk};
use super::device::{GpuDevice, GpuError};
use super::df64::require_df64;
use super::kernels::{Kernels, MatmulConfig, MatmulKind, read_buffer};
use super::layout::{CellState, Scalar};
use super::matmul::measure_matmul_config;
use super::offset::StartLayer;
use super::profile::{StepProfile, profile_step};
use crate::engine::{
    CellOutcome, CellSpec, Engine, EngineError, EngineEvent, Precision, Problem, measured_step,
    validate_batch,
};
use crate::model::CLASSES;

/// Steps recorded between two reads of the cell states, which report progress and stop
/// training early once every cell has diverged.
const STEPS_PER_SUBMIT: u64 = 32;

/// Returns the unit roundoff of `scalar`, which scales the `cancellation` estimate: 2^-24
/// for float32 and 2^-53 for float64.
fn unit_roundoff(scalar: Scalar) -> f64 {
    match scalar {
        Scalar::F32 => f64::from(f32::EPSILON) / 2.0,
        Scalar::F64 => f64::EPSILON / 2.0,
    }
}

/// The float32 GPU engine.
///
/// In the plain formulation (`Precision::F32`), f(theta_0) is computed on the GPU with the
/// same kernels as f(theta_t), so F = alpha (f - f0) is exactly zero at step 0, as in the
/// float64 engine. In the offset formulation (`Precision::Offset`) the GPU stores and
/// updates delta = theta - theta_0 and computes f - f_0 from the hidden layer at theta_0,
/// which the host computes once in float64. The df64 mode (`Precision::Df64`) does the
/// same but keeps theta as double-float pairs and forms delta from them, sums the output
/// change over the hidden units and the loss over the samples in double-float, and runs
/// the df64 self-test on the adapter before its first use. The f64 mode
/// (`Precision::F64`) runs the plain formulation with every kernel in float64, on adapters
/// that offer 64-bit floats in shaders, and compiles its kernels at its first use.
pub struct GpuEngine {
    gpu: GpuDevice,
    kernels: Kernels,
    /// The matrix-product kernel of the float64 kernels: never the panel kernel, which
    /// computes in float32.
    matmul_config_f64: MatmulConfig,
    /// The float64 kernels, or the message of their compilation error, once compiled.
    kernels_f64: OnceLock<Result<Kernels, String>>,
    /// Caps on samples per chunk and cells per pass below what the adapter allows.
    max_rows: usize,
    max_cells: usize,
    /// The outcome of the df64 self-test on this engine's device, once run.
    df64_checked: OnceLock<Result<(), GpuError>>,
}

impl GpuEngine {
    /// Opens the best adapter and compiles the kernels.
    pub fn new() -> Result<Self, GpuError> {
        let gpu = GpuDevice::new()?;
        Self::with_device(gpu)
    }

    /// Compiles the kernels for an already opened device, with the matrix-product
    /// workgroup shape measured fastest on its adapter.
    pub fn with_device(gpu: GpuDevice) -> Result<Self, GpuError> {
        let (config, config_f64) = tuned_matmul_config(&gpu)?;
        let mut engine = Self::with_config(gpu, config)?;
        engine.matmul_config_f64 = config_f64;
        Ok(engine)
    }

    /// Compiles the kernels with a given matrix-product kernel. The float64 kernels use
    /// the register kernel in the same workgroup shape where `config` is the panel kernel.
    pub fn with_config(gpu: GpuDevice, config: MatmulConfig) -> Result<Self, GpuError> {
        let kernels = Kernels::new(&gpu, config, Scalar::F32)?;
        let matmul_config_f64 = match config.kind {
            MatmulKind::Panels => MatmulConfig::registers(config.group_x, config.group_y),
            _ => config,
        };
        Ok(Self {
            gpu,
            kernels,
            matmul_config_f64,
            kernels_f64: OnceLock::new(),
            max_rows: usize::MAX,
            max_cells: usize::MAX,
            df64_checked: OnceLock::new(),
        })
    }

    /// Caps the samples per chunk and the cells per pass below what the adapter allows, so
    /// that small problems exercise the chunked paths that large ones need.
    pub fn limit_batch(&mut self, max_rows: usize, max_cells: usize) {
        self.max_rows = max_rows.max(1);
        self.max_cells = max_cells.max(1);
    }

    pub fn device(&self) -> &GpuDevice {
        &self.gpu
    }

    /// Returns how many cells fit in one pass: the stacked W0 of all cells, its gradient
    /// and moments must each fit in one storage binding, and so must theta's df64 pairs in
    /// the df64 mode.
    pub fn max_cells_per_pass(&self, d: usize, hidden: usize, precision: Precision) -> usize {
        let limit = self
            .gpu
            .limits
            .max_storage_buffer_binding_size
            .min(self.gpu.limits.max_buffer_size);
        let bytes = if matches!(precision, Precision::Df64 | Precision::F64) {
            8
        } else {
            4
        };
        let per_cell = bytes * (hidden * d.max(CLASSES)) as u64;
        ((limit / per_cell.max(1)) as usize).clamp(1, self.max_cells)
    }

    /// Uploads a batch of `cells` in chunks of as many samples as fit, and returns it with
    /// the samples per chunk.
    fn upload(
        &self,
        problem: Problem<'_>,
        cells: &[CellSpec],
        start: Option<&StartLayer>,
    ) -> Result<(Batch, usize), GpuError> {
        let precision = problem.settings.precision;
        let kernels = self.kernels(precision)?;
        let samples = problem.data.n_train().max(problem.data.n_test());
        let width = cells.len() * problem.init.hidden;
        let rows = rows_per_chunk(&self.gpu, kernels.scalar, width, problem.data.d, samples)
            .min(self.max_rows);
        let df64 = precision == Precision::Df64;
        let batch = Batch::upload(&self.gpu, kernels, problem, cells, rows, start, df64)?;
        Ok((batch, rows))
    }

    /// Returns the kernels that `precision` computes with, compiling the float64 ones at
    /// their first use.
    fn kernels(&self, precision: Precision) -> Result<&Kernels, GpuError> {
        if precision != Precision::F64 {
            return Ok(&self.kernels);
        }
        self.kernels_f64
            .get_or_init(|| {
                info!(
                    "gpu: float64 products use the {} kernel",
                    self.matmul_config_f64
                );
                Kernels::new(&self.gpu, self.matmul_config_f64, Scalar::F64)
                    .map_err(|err| err.to_string())
            })
            .as_ref()
            .map_err(|message| GpuError::Validation {
                operation: "compiling the float64 kernels".into(),
                message: message.clone(),
            })
    }

    /// Times every kernel of one training step of `cells` with GPU timestamps, each
    /// dispatch in a pass of its own. Returns None when the adapter has no timestamp
    /// queries.
    pub fn profile_step(
        &self,
        problem: Problem<'_>,
        cells: &[CellSpec],
    ) -> Result<Option<StepProfile>, EngineError> {
        validate_batch(problem, cells)?;
        self.precision(problem.settings.precision)?;
        let start =
            uses_start_layer(problem.settings.precision).then(|| StartLayer::compute(problem));
        let (batch, _) = self.upload(problem, cells, start.as_ref())?;
        Ok(profile_step(&self.gpu, &batch)?)
    }

    fn train_pass(
        &self,
        problem: Problem<'_>,
        cells: &[CellSpec],
        first_index: usize,
        start: Option<&StartLayer>,
        on_event: &mut dyn FnMut(EngineEvent<'_>),
    ) -> Result<Vec<CellOutcome>, GpuError> {
        let steps = problem.settings.steps;
        let (batch, rows) = self.upload(problem, cells, start)?;
        debug!(
            "gpu: {} cells, {} training chunks and {} test chunks of up to {rows} samples",
            cells.len(),
            chunk_count(problem.data.n_train(), rows),
            chunk_count(problem.data.n_test(), rows)
        );

        self.submit("computing f(theta_0)", |encoder| {
            batch.record_reference(encoder)
        })?;

        let mut states = vec![CellState::initial(); cells.len()];
        let read_states = || -> Result<Vec<CellState>, GpuError> {
            let bytes: Vec<u8> = read_buffer(&self.gpu, &batch.state, "the cell states")?;
            Ok(CellState::from_bytes(&bytes, batch.scalar))
        };
        // Cells already sent as finished: a cell that diverges is reported at the next
        // read of the states, so the sweep writes it without waiting for the whole pass.
        let mut reported = vec![false; cells.len()];
        let mut start = 0;
        while start <= steps {
            let end = (start + STEPS_PER_SUBMIT).min(steps + 1);
            self.submit("training", |encoder| {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                for t in start..end {
                    batch.record_step(&mut pass, t == steps, measured_step(t, steps));
                }
            })?;
            states = read_states()?;
            report_steps(&states, start..end.min(steps), on_event);
            start = end;
            if states.iter().all(|state| state.diverged().is_some()) {
                break;
            }
            let newly_diverged = states
                .iter()
                .zip(&reported)
                .any(|(state, &done)| !done && state.diverged().is_some());
            if newly_diverged {
                // A diverged cell's state and recorded losses no longer change, so its
                // outcome read now equals the one read at the end of the pass.
                let outcomes = self.read_outcomes(&batch, problem, &states)?;
                for (i, outcome) in outcomes.iter().enumerate() {
                    if !reported[i] && outcome.diverged_step.is_some() {
                        self.report_finished(cells, first_index, i, outcome, on_event);
                        reported[i] = true;
                    }
                }
            }
        }

        self.submit("computing the metrics", |encoder| {
            batch.record_metrics(encoder)
        })?;
        let outcomes = self.read_outcomes(&batch, problem, &states)?;
        for (i, outcome) in outcomes.iter().enumerate() {
            if !reported[i] {
                self.report_finished(cells, first_index, i, outcome, on_event);
            }
        }
        Ok(outcomes)
    }

    /// Sends the outcome of cell `i` of the pass, and logs at debug level when it diverged
    /// (the sweep counts diverged cells in its summary, as for the CPU engine).
    fn report_finished(
        &self,
        cells: &[CellSpec],
        first_index: usize,
        i: usize,
        outcome: &CellOutcome,
        on_event: &mut dyn FnMut(EngineEvent<'_>),
    ) {
        if let Some(step) = outcome.diverged_step {
            let cell = cells[i];
            debug!(
                "cell {} ({} alpha = {:e}, eta = {:e}) diverged at step {step}",
                first_index + i,
                cell.optimizer,
                cell.alpha,
                cell.eta
            );
        }
        on_event(EngineEvent::CellFinished {
            index: first_index + i,
            outcome,
        });
    }

    /// Records commands with `record`, submits them, and turns wgpu errors into `GpuError`s.
    fn submit(
        &self,
        operation: &str,
        record: impl FnOnce(&mut wgpu::CommandEncoder),
    ) -> Result<(), GpuError> {
        self.gpu.checked(operation, || {
            let mut encoder = self.gpu.device.create_command_encoder(&Default::default());
            record(&mut encoder);
            self.gpu.queue.submit([encoder.finish()]);
        })
    }

    /// Reads the states, counts, recorded losses and distances back and builds the outcomes.
    fn read_outcomes(
        &self,
        batch: &Batch,
        problem: Problem<'_>,
        states: &[CellState],
    ) -> Result<Vec<CellOutcome>, GpuError> {
        let gpu = batch.gpu();
        let k = batch.cells;
        let steps = problem.settings.steps;
        let n = problem.data.n_train() as f64;
        let n_test = problem.data.n_test() as f64;
        let non_finite: Vec<u32> = read_buffer(gpu, &batch.non_finite, "the non-finite flags")?;
        let same_sign: Vec<u32> = read_buffer(gpu, &batch.same_sign, "the same-sign counts")?;
        let test_correct: Vec<u32> =
            read_buffer(gpu, &batch.test_correct, "the test accuracy counts")?;
        let scalar = batch.scalar;
        let read_reals = |buffer, what| -> Result<Vec<f64>, GpuError> {
            let bytes: Vec<u8> = read_buffer(gpu, buffer, what)?;
            Ok(scalar.decode(&bytes))
        };
        let losses = read_reals(&batch.losses, "the recorded losses")?;
        let loss_changes = read_reals(&batch.loss_changes, "the recorded loss changes")?;
        let output_changes = if problem.settings.record_losses {
            read_reals(&batch.output_changes, "the output changes")?
        } else {
            Vec::new()
        };
        let per_cell = problem.data.n_train() * CLASSES;
        let distance_w0 = read_distances(&read_reals(&batch.distance_w0, "the W0 distances")?, k);
        let distance_w1 = read_distances(&read_reals(&batch.distance_w1, "the W1 distances")?, k);
        let norm_w0 = start_norm(&problem.init.w0, scalar);
        let norm_w1 = start_norm(&problem.init.w1, scalar);

        let outcomes = states
            .iter()
            .enumerate()
            .map(|(cell, state)| {
                // A cell that diverged on its loss at step t recorded L_0..L_t. A cell whose
                // update at step t - 1 left a non-finite parameter recorded L_0..L_(t-1).
                let recorded = match state.diverged() {
                    None => steps + 1,
                    Some(step) if non_finite[cell] != 0 => step,
                    Some(step) => step + 1,
                };
                let recorded_values = |values: &[f64]| -> Vec<f64> {
                    if problem.settings.record_losses {
                        (0..recorded as usize)
                            .map(|t| values[t * k + cell])
                            .collect()
                    } else {
                        Vec::new()
                    }
                };
                let losses = recorded_values(&losses);
                let loss_changes = recorded_values(&loss_changes);
                let final_loss = state.last_loss;
                let lost_update = state.lost_update();
                match state.diverged() {
                    Some(step) => CellOutcome {
                        steps_run: step,
                        diverged_step: Some(step),
                        final_loss,
                        train_acc: f64::NAN,
                        test_acc: f64::NAN,
                        sign_consistency: f64::NAN,
                        rel_change_w0: f64::NAN,
                        rel_change_w1: f64::NAN,
                        losses,
                        loss_changes,
                        output_changes: Vec::new(),
                        lost_update,
                        cancellation: f64::NAN,
                    },
                    None => CellOutcome {
                        steps_run: steps,
                        diverged_step: None,
                        final_loss,
                        train_acc: f64::from(state.train_correct) / n,
                        test_acc: f64::from(test_correct[cell]) / n_test,
                        sign_consistency: f64::from(same_sign[cell])
                            / (n_test * batch.hidden as f64),
                        rel_change_w0: distance_w0[cell].sqrt() / norm_w0,
                        rel_change_w1: distance_w1[cell].sqrt() / norm_w1,
                        losses,
                        loss_changes,
                        output_changes: output_changes
                            .get(cell * per_cell..(cell + 1) * per_cell)
                            .map(<[f64]>::to_vec)
                            .unwrap_or_default(),
                        lost_update,
                        // NOTE: the squared norms are float32 sums outside the f64 mode, so
                        // an output change below about 1e-19 per element underflows to a
                        // zero norm: an infinite (untrusted) estimate in f32, NaN in offset.
                        cancellation: unit_roundoff(scalar)
                            * (state.output_sq / state.change_sq).sqrt(),
                    },
                }
            })
            .collect();
        Ok(outcomes)
    }
}

/// Returns whether `precision` trains from the hidden layer at theta_0 computed on the host.
fn uses_start_layer(precision: Precision) -> bool {
    matches!(precision, Precision::Offset | Precision::Df64)
}

/// Returns the matrix-product kernel measured fastest on `gpu`'s adapter, and the fastest
/// of those that compute in float64 (all but the panel kernel). The measurement runs once
/// per adapter and process; later engines reuse its result.
fn tuned_matmul_config(gpu: &GpuDevice) -> Result<(MatmulConfig, MatmulConfig), GpuError> {
    static TUNED: Mutex<Vec<(String, (MatmulConfig, MatmulConfig))>> = Mutex::new(Vec::new());
    let key = format!(
        "{} {:?} {}",
        gpu.info.name, gpu.info.backend, gpu.info.driver_info
    );
    let mut tuned = TUNED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, configs)) = tuned.iter().find(|(name, _)| *name == key) {
        return Ok(*configs);
    }
    let (config, timings) = measure_matmul_config(gpu)?;
    let config_f64 = timings
        .iter()
        .filter(|timing| timing.config.kind != MatmulKind::Panels)
        .min_by(|x, y| x.seconds.total_cmp(&y.seconds))
        .map_or(MatmulConfig::default(), |timing| timing.config);
    let table: Vec<String> = timings
        .iter()
        .map(|t| format!("{} {:.2} ms", t.config, 1e3 * t.seconds))
        .collect();
    info!(
        "gpu: matrix-product kernel {config} measured fastest ({})",
        table.join(", ")
    );
    tuned.push((key, (config, config_f64)));
    Ok((config, config_f64))
}

/// Sends one `Step` event for each finished step t < T, counting the cells that had not
/// diverged before step t.
// NOTE: a cell whose update left a non-finite parameter is counted for one step more than
// the CPU engine counts it, so the progress bar may run ahead by a step per such cell.
fn report_steps(
    states: &[CellState],
    steps: std::ops::Range<u64>,
    on_event: &mut dyn FnMut(EngineEvent<'_>),
) {
    for t in steps {
        let active = states
            .iter()
            .filter(|state| state.diverged().is_none_or(|step| step >= t))
            .count();
        if active == 0 {
            break;
        }
        on_event(EngineEvent::Step { active });
    }
}

/// Returns each cell's squared distance, adding its partial sums in float64.
fn read_distances(partial: &[f64], cells: usize) -> Vec<f64> {
    let parts = partial.len() / cells;
    partial
        .chunks(parts)
        .map(|sums| sums.iter().sum())
        .collect()
}

/// Returns the Euclidean norm of the values as rounded to `scalar`, which is what the GPU
/// starts from.
fn start_norm(values: &[f64], scalar: Scalar) -> f64 {
    scalar
        .decode(&scalar.encode(values))
        .iter()
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt()
}

impl Engine for GpuEngine {
    fn name(&self) -> &'static str {
        "gpu"
    }

    /// Returns `offset`: the precision map measured it accurate wherever plain float32 or
    /// df64 freezes, at 1.0 to 1.3 times the time per step of `f32` (df64: 1.05 to 1.35).
    fn default_precision(&self) -> Precision {
        Precision::Offset
    }

    /// Accepts df64 only once the df64 self-test has passed on this engine's adapter.
    fn precision(&self, mode: Precision) -> Result<&'static str, EngineError> {
        match mode {
            Precision::F32 => Ok("float32"),
            Precision::Offset => Ok("offset-float32"),
            Precision::Df64 => {
                let checked = self
                    .df64_checked
                    .get_or_init(|| require_df64(&self.gpu).map(|_| ()));
                match checked {
                    Ok(()) => Ok("offset-df64"),
                    Err(GpuError::Df64Unsupported { adapter, detail }) => {
                        Err(EngineError::Gpu(GpuError::Df64Unsupported {
                            adapter: adapter.clone(),
                            detail: detail.clone(),
                        }))
                    }
                    // The self-test could not run at all.
                    Err(err) => Err(EngineError::Gpu(GpuError::Df64Unsupported {
                        adapter: self.gpu.info.name.clone(),
                        detail: err.to_string(),
                    })),
                }
            }
            Precision::F64 if !self.gpu.features.contains(wgpu::Features::SHADER_F64) => {
                Err(EngineError::UnsupportedPrecision {
                    engine: "gpu",
                    precision: mode,
                    hint: "this adapter has no 64-bit floats in shaders (SHADER_F64): use \
                           --precision df64 or offset, or --backend cpu for f64",
                })
            }
            Precision::F64 => Ok("float64"),
        }
    }

    fn train(
        &mut self,
        problem: Problem<'_>,
        cells: &[CellSpec],
        on_event: &mut dyn FnMut(EngineEvent<'_>),
    ) -> Result<Vec<CellOutcome>, EngineError> {
        validate_batch(problem, cells)?;
        self.precision(problem.settings.precision)?;
        let steps = problem.settings.steps;
        if steps >= u64::from(u32::MAX) {
            return Err(EngineError::Unavailable(
                "gpu".into(),
                format!(
                    "{steps} steps exceed the GPU engine's step counter ({}); use --backend cpu",
                    u32::MAX - 1
                ),
            ));
        }
        let per_pass = self.max_cells_per_pass(
            problem.data.d,
            problem.init.hidden,
            problem.settings.precision,
        );
        if per_pass < cells.len() {
            info!(
                "gpu: {} cells exceed the {per_pass} that fit in one pass; training them in groups",
                cells.len()
            );
        }
        // Every pass starts from the same hidden layer at theta_0.
        let start = matches!(
            problem.settings.precision,
            Precision::Offset | Precision::Df64
        )
        .then(|| StartLayer::compute(problem));
        let mut outcomes = Vec::with_capacity(cells.len());
        let mut per_pass = per_pass;
        let mut next = 0;
        while next < cells.len() {
            let end = (next + per_pass).min(cells.len());
            let mut reported_any = false;
            let mut forward = |event: EngineEvent<'_>| {
                reported_any = true;
                on_event(event);
            };
            match self.train_pass(
                problem,
                &cells[next..end],
                next,
                start.as_ref(),
                &mut forward,
            ) {
                Ok(pass) => {
                    outcomes.extend(pass);
                    next = end;
                }
                // The binding limits bound each buffer but not their sum, so a pass can
                // still exhaust the device's memory. Such a pass fails while its buffers
                // are created, before any event, and is retried with half the cells.
                // NOTE: no test reaches this branch, because lavapipe takes its memory
                // from the host and cannot be made to run out on demand.
                Err(GpuError::OutOfMemory { operation, message })
                    if end - next > 1 && !reported_any =>
                {
                    per_pass = (end - next) / 2;
                    warn!(
                        "gpu: out of memory while {operation} for {} cells ({message}); \
                         retrying with {per_pass} cells per pass",
                        end - next
                    );
                }
                Err(err) => return Err(err.into()),
            }
        }
        Ok(outcomes)
    }
}
