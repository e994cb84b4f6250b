//! The buffers of one batch of cells on the GPU and the dispatches that work on them.
//!
//! Samples are processed in chunks so that every activation buffer (rows x cells x hidden
//! float32 values) and every chunk of inputs fits in one storage binding. Gradients are
//! summed over the chunks by accumulating matrix products.
//!
//! In the offset formulation the W0 and W1 buffers contain delta = theta - theta_0, the
//! forward pass starts from the hidden layer at theta_0 computed on the host, the outputs
//! buffer contains f - f_0 and the f0 buffers stay zero.
//!
//! The df64 mode trains in the offset formulation too, but keeps theta itself as df64
//! pairs. Its update subtracts in df64 and writes delta = theta - theta_0, rounded to f32,
//! into the W0 and W1 buffers. The output change sums over the hidden units in df64, and
//! the loss terms of each cell are added in df64.

use wgpu::{Buffer, CommandEncoder, Device};

use super::device::{GpuDevice, GpuError};
use super::kernels::{
    Dispatch, GROUP, Kernels, MatmulShape, Operand, element_groups, elementwise_group_cap,
    storage_buffer, uniform_buffer, uniform_bytes, zeroed_buffer, zeroed_reals,
};
use super::layout::{
    ActivationParams, CellParams, CellState, LossParams, MeasureParams, MetricsParams,
    OutputParams, Scalar, UpdateParams, df64_pair, schedule,
};
use super::offset::StartLayer;
use crate::engine::{CellSpec, Problem};
use crate::model::CLASSES;

const CLASSES_U32: u32 = CLASSES as u32;

/// Partial sums per cell in the parameter-distance kernel.
const DISTANCE_PARTS: u32 = 256;

/// Maximum number of workgroups per cell in the measured update, each writing one partial
/// sum.
const MAX_MEASURE_PARTS: u32 = 1024;

/// Returns the workgroups per cell of the measured update of a `block`-element block.
fn measure_parts(block: u32) -> u32 {
    block.div_ceil(GROUP).clamp(1, MAX_MEASURE_PARTS)
}

/// The hidden layer at theta_0 for the samples of one chunk, in the offset formulation.
struct ChunkStart {
    zhat: Buffer,
    logistic: Buffer,
    z: Buffer,
}

/// A range of samples and the dispatches that run on it.
struct Chunk {
    rows: u32,
    row_offset: u32,
    /// zhat = X W0stack^T / sqrt(d), z = sigma(zhat), f = Z W1^T / sqrt(h).
    forward: Vec<Dispatch>,
    /// Training chunks: the loss terms and dL/df. Test chunks: the metric counts.
    after_forward: Vec<Dispatch>,
    /// Training chunks only: dW1, Delta and dW0, accumulated over chunks.
    backward: Vec<Dispatch>,
    /// Test chunks of the plain formulation only: the signs of zhat at theta_0.
    store_signs: Option<Dispatch>,
}

/// Every buffer and prepared dispatch of a batch.
pub(super) struct Batch {
    gpu: GpuDevice,
    /// The type of every `real` buffer.
    pub scalar: Scalar,
    pub cells: usize,
    pub hidden: usize,
    /// Whether the batch trains in the offset formulation (also in df64).
    pub offset: bool,
    train: Vec<Chunk>,
    test: Vec<Chunk>,
    finish_loss: Dispatch,
    updates: Vec<Dispatch>,
    /// The updates of W0 and W1 with their rounding measured, and the finishing pass.
    measured_updates: Vec<Dispatch>,
    finish_measure: Dispatch,
    /// Offset formulation only: W1 = W1_0 + delta W1 for the backward pass.
    total_w1: Option<Dispatch>,
    advance_step: Dispatch,
    distances: Vec<Dispatch>,
    f: Buffer,
    f0_train: Buffer,
    f0_test: Buffer,
    pub state: Buffer,
    pub non_finite: Buffer,
    pub losses: Buffer,
    pub loss_changes: Buffer,
    /// f - f0 on the training set at the last step, [cell][sample][class], when losses are
    /// recorded.
    pub output_changes: Buffer,
    pub same_sign: Buffer,
    pub test_correct: Buffer,
    pub distance_w0: Buffer,
    pub distance_w1: Buffer,
}

/// Returns the samples per chunk: as many as fit in one binding of the widest per-sample
/// buffer of `scalar` values, and at least one.
pub(super) fn rows_per_chunk(
    gpu: &GpuDevice,
    scalar: Scalar,
    width: usize,
    d: usize,
    n: usize,
) -> usize {
    let limit = gpu
        .limits
        .max_storage_buffer_binding_size
        .min(gpu.limits.max_buffer_size);
    // The loss terms take four values per (sample, cell), and there are fewer cells than
    // units in `width`.
    let per_row = scalar.bytes() * width.max(d).max(4 * CLASSES) as u64;
    ((limit / per_row) as usize).clamp(1, n.max(1))
}

/// Returns (row_offset, rows) for each chunk of `n` samples.
fn chunk_ranges(n: usize, rows: usize) -> Vec<(usize, usize)> {
    (0..n)
        .step_by(rows.max(1))
        .map(|start| (start, rows.min(n - start)))
        .collect()
}

impl Batch {
    /// Uploads the data, theta_0 for every cell and the cell constants in the scalar type of
    /// `kernels`, and prepares every dispatch for chunks of `rows` samples. With `start`,
    /// the batch trains in the offset formulation from that hidden layer at theta_0, and
    /// with `df64` also keeps theta in double-float. Both need float32 kernels.
    pub fn upload(
        gpu: &GpuDevice,
        kernels: &Kernels,
        problem: Problem<'_>,
        cells: &[CellSpec],
        rows: usize,
        start: Option<&StartLayer>,
        df64: bool,
    ) -> Result<Self, GpuError> {
        assert!(
            !df64 || start.is_some(),
            "df64 trains in the offset formulation"
        );
        let scalar = kernels.scalar;
        assert!(
            scalar == Scalar::F32 || start.is_none(),
            "the offset formulation computes in float32"
        );
        let data = problem.data;
        let init = problem.init;
        let settings = problem.settings;
        let (k, h, d) = (cells.len(), init.hidden, data.d);
        let (n, n_test) = (data.n_train(), data.n_test());
        let width = k * h;
        let recorded = if settings.record_losses {
            (settings.steps as usize + 1) * k
        } else {
            1
        };

        for (what, elements) in [
            ("the stacked W0 of the batch", width * d),
            ("the stacked W1 of the batch", k * CLASSES * h),
            (
                "the stacked W0 in df64",
                if df64 { 2 * width * d } else { 1 },
            ),
            ("the outputs f of one chunk", k * rows * CLASSES),
            ("f(theta_0) on the test set", n_test * CLASSES),
            ("the recorded losses", recorded),
            ("the loss terms per sample", 4 * k * n),
        ] {
            gpu.check_binding(what, scalar.bytes() * elements as u64)?;
        }

        gpu.checked("uploading a batch", || {
            let device = &gpu.device;
            let offset = start.is_some();
            let reals = |values: &[f64]| scalar.encode(values);
            let w0_init = reals(&init.w0);
            let w1_init = reals(&init.w1);
            let zeroed =
                |label: &str, elements: usize| zeroed_reals(device, label, elements, scalar);
            // The offset formulation stores delta = theta - theta_0, which starts at zero.
            // The plain one stores theta, which starts at the same theta_0 in every cell.
            let (w0, w1) = if offset {
                (
                    zeroed("W0 stack", width * d),
                    zeroed("W1 stack", k * CLASSES * h),
                )
            } else {
                (
                    storage_buffer(device, "W0 stack", &w0_init.repeat(k)),
                    storage_buffer(device, "W1 stack", &w1_init.repeat(k)),
                )
            };
            let only_offset = |elements: usize| if offset { elements } else { 1 };
            // df64: theta of every cell and theta_0's block as (hi, lo) pairs.
            let pairs = |values: &[f64], copies: usize| -> Vec<[f32; 2]> {
                if df64 {
                    let block = values.iter().map(|&v| df64_pair(v));
                    block.cycle().take(copies * values.len()).collect()
                } else {
                    vec![[0.0; 2]]
                }
            };
            let cell_params: Vec<CellParams> =
                cells.iter().map(|cell| CellParams::new(cell, n)).collect();
            let states = CellState::bytes(&vec![CellState::initial(); k], scalar);

            let buffers = Buffers {
                w0,
                w1,
                dw0: zeroed("dW0 stack", width * d),
                dw1: zeroed("dW1 stack", k * CLASSES * h),
                v0: zeroed("v of W0", width * d),
                m0: zeroed("m of W0", width * d),
                v1: zeroed("v of W1", k * CLASSES * h),
                m1: zeroed("m of W1", k * CLASSES * h),
                w0_init: storage_buffer(device, "W0 at theta_0", &w0_init),
                w1_init: storage_buffer(device, "W1 at theta_0", &w1_init),
                w1_total: if offset {
                    storage_buffer(device, "W1 stack of theta", &w1_init.repeat(k))
                } else {
                    zeroed("unused W1 stack of theta", 1)
                },
                theta_w0: storage_buffer(device, "W0 stack in df64", &pairs(&init.w0, k)),
                theta_w1: storage_buffer(device, "W1 stack in df64", &pairs(&init.w1, k)),
                theta_start_w0: storage_buffer(
                    device,
                    "W0 at theta_0 in df64",
                    &pairs(&init.w0, 1),
                ),
                theta_start_w1: storage_buffer(
                    device,
                    "W1 at theta_0 in df64",
                    &pairs(&init.w1, 1),
                ),
                zeros_w0: zeroed("zero W0 block", only_offset(h * d)),
                zeros_w1: zeroed("zero W1 block", only_offset(CLASSES * h)),
                change: zeroed("sigma(zhat) - sigma(zhat_0)", only_offset(rows * width)),
                zhat: zeroed("zhat and Delta", rows * width),
                z: zeroed("z", rows * width),
                dsigma: zeroed("sigma'(zhat)", rows * width),
                f: zeroed("f", k * rows * CLASSES),
                gf: zeroed("dL/df", k * rows * CLASSES),
                f0_train: zeroed("f(theta_0) train", n * CLASSES),
                f0_test: zeroed("f(theta_0) test", n_test * CLASSES),
                labels_train: storage_buffer(
                    device,
                    "train labels",
                    &data
                        .y_train
                        .iter()
                        .map(|&y| u32::from(y))
                        .collect::<Vec<_>>(),
                ),
                labels_test: storage_buffer(
                    device,
                    "test labels",
                    &data
                        .y_test
                        .iter()
                        .map(|&y| u32::from(y))
                        .collect::<Vec<_>>(),
                ),
                row_terms: zeroed("loss terms per sample", 4 * k * n),
                row_correct: zeroed_buffer(device, "correct per sample", k * n),
                cells: storage_buffer(device, "cells", &CellParams::bytes(&cell_params, scalar)),
                state: storage_buffer(device, "cell states", &states),
                non_finite: zeroed_buffer(device, "non-finite flags", k),
                losses: storage_buffer(device, "losses", &reals(&vec![f64::NAN; recorded])),
                loss_changes: storage_buffer(
                    device,
                    "loss changes",
                    &reals(&vec![f64::NAN; recorded]),
                ),
                output_changes: zeroed(
                    "output changes",
                    if settings.record_losses {
                        k * n * CLASSES
                    } else {
                        1
                    },
                ),
                schedule: storage_buffer(
                    device,
                    "schedule",
                    &schedule(&settings.optimizer, settings.steps, scalar),
                ),
                positive0: zeroed_buffer(device, "signs at theta_0", n_test * h.div_ceil(32)),
                same_sign: zeroed_buffer(device, "same-sign counts", k),
                test_correct: zeroed_buffer(device, "test correct counts", k),
                distance_w0: zeroed("W0 distance partial sums", k * DISTANCE_PARTS as usize),
                distance_w1: zeroed("W1 distance partial sums", k * DISTANCE_PARTS as usize),
                measure_w0: zeroed(
                    "W0 lost-update partial sums",
                    2 * k * measure_parts((h * d) as u32) as usize,
                ),
                measure_w1: zeroed(
                    "W1 lost-update partial sums",
                    2 * k * measure_parts((CLASSES * h) as u32) as usize,
                ),
            };
            let plan = Plan {
                gpu,
                kernels,
                buffers: &buffers,
                problem,
                cells: k,
                offset,
                df64,
                scalar,
            };

            let chunk_start = |layer: Option<_>, first: usize, count: usize| {
                layer.map(|hidden: &super::offset::HiddenAtStart| {
                    let [zhat, logistic, z] = hidden.rows(first, count, h);
                    ChunkStart {
                        zhat: storage_buffer(device, "zhat_0", zhat),
                        logistic: storage_buffer(device, "logistic(beta zhat_0)", logistic),
                        z: storage_buffer(device, "sigma(zhat_0)", z),
                    }
                })
            };
            let train = chunk_ranges(n, rows)
                .into_iter()
                .map(|(first, count)| {
                    let x = &data.x_train[first * d..(first + count) * d];
                    let hidden = chunk_start(start.map(|s| &s.train), first, count);
                    plan.train_chunk(x, first, count, hidden.as_ref())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let test = chunk_ranges(n_test, rows)
                .into_iter()
                .map(|(first, count)| {
                    let x = &data.x_test[first * d..(first + count) * d];
                    let hidden = chunk_start(start.map(|s| &s.test), first, count);
                    plan.test_chunk(x, first, count, hidden.as_ref())
                })
                .collect::<Result<Vec<_>, _>>()?;

            Ok(Self {
                gpu: gpu.clone(),
                scalar,
                cells: k,
                hidden: h,
                offset,
                train,
                test,
                finish_loss: plan.finish_loss(),
                updates: plan.updates(false),
                measured_updates: plan.updates(true),
                finish_measure: plan.finish_measure(),
                total_w1: offset.then(|| plan.total_w1()),
                advance_step: kernels.advance_step.dispatch(
                    device,
                    &[&buffers.schedule],
                    [1, 1, 1],
                ),
                distances: plan.distances(),
                f: buffers.f.clone(),
                f0_train: buffers.f0_train.clone(),
                f0_test: buffers.f0_test.clone(),
                state: buffers.state.clone(),
                non_finite: buffers.non_finite.clone(),
                losses: buffers.losses.clone(),
                loss_changes: buffers.loss_changes.clone(),
                output_changes: buffers.output_changes.clone(),
                same_sign: buffers.same_sign.clone(),
                test_correct: buffers.test_correct.clone(),
                distance_w0: buffers.distance_w0.clone(),
                distance_w1: buffers.distance_w1.clone(),
            })
        })?
    }

    /// Computes f(theta_0) on both sets and the test signs at theta_0 with the training
    /// kernels, so that f - f0 is exactly zero at step 0 as in float64. Records nothing in
    /// the offset formulation, whose f0 buffers stay zero and whose signs at theta_0 come
    /// from zhat_0.
    pub fn record_reference(&self, encoder: &mut CommandEncoder) {
        if self.offset {
            return;
        }
        for (chunks, f0) in [(&self.train, &self.f0_train), (&self.test, &self.f0_test)] {
            for chunk in chunks {
                {
                    let mut pass = encoder.begin_compute_pass(&Default::default());
                    for dispatch in chunk.forward.iter().chain(&chunk.store_signs) {
                        dispatch.record(&mut pass);
                    }
                }
                // Every cell starts at theta_0, so cell 0's outputs are f(theta_0).
                let bytes = self.scalar.bytes() * u64::from(chunk.rows * CLASSES_U32);
                let offset = self.scalar.bytes() * u64::from(chunk.row_offset * CLASSES_U32);
                encoder.copy_buffer_to_buffer(&self.f, 0, f0, offset, bytes);
            }
        }
    }

    /// Records step t: the loss and, unless t is the last step, the gradient and update.
    /// With `measure`, the update also measures the fraction that rounding lost.
    pub fn record_step(&self, pass: &mut wgpu::ComputePass<'_>, last: bool, measure: bool) {
        for dispatch in self.step(last, measure) {
            dispatch.record(pass);
        }
    }

    /// Returns the dispatches of one step in the order they run.
    pub fn step(&self, last: bool, measure: bool) -> Vec<&Dispatch> {
        let mut step = Vec::new();
        for chunk in &self.train {
            step.extend(chunk.forward.iter().chain(&chunk.after_forward));
            if !last {
                step.extend(&chunk.backward);
            }
        }
        step.push(&self.finish_loss);
        if !last {
            if measure {
                step.extend(&self.measured_updates);
                step.push(&self.finish_measure);
            } else {
                step.extend(&self.updates);
            }
            step.extend(&self.total_w1);
        }
        step.push(&self.advance_step);
        step
    }

    /// Records the test-set counts and the parameter distances at the final parameters.
    pub fn record_metrics(&self, encoder: &mut CommandEncoder) {
        encoder.clear_buffer(&self.same_sign, 0, None);
        encoder.clear_buffer(&self.test_correct, 0, None);
        let mut pass = encoder.begin_compute_pass(&Default::default());
        for chunk in &self.test {
            for dispatch in chunk.forward.iter().chain(&chunk.after_forward) {
                dispatch.record(&mut pass);
            }
        }
        for dispatch in &self.distances {
            dispatch.record(&mut pass);
        }
    }

    pub fn gpu(&self) -> &GpuDevice {
        &self.gpu
    }
}

/// Every buffer of a batch, while its dispatches are prepared.
struct Buffers {
    w0: Buffer,
    w1: Buffer,
    dw0: Buffer,
    dw1: Buffer,
    v0: Buffer,
    m0: Buffer,
    v1: Buffer,
    m1: Buffer,
    w0_init: Buffer,
    w1_init: Buffer,
    w1_total: Buffer,
    theta_w0: Buffer,
    theta_w1: Buffer,
    theta_start_w0: Buffer,
    theta_start_w1: Buffer,
    zeros_w0: Buffer,
    zeros_w1: Buffer,
    change: Buffer,
    zhat: Buffer,
    z: Buffer,
    dsigma: Buffer,
    f: Buffer,
    gf: Buffer,
    f0_train: Buffer,
    f0_test: Buffer,
    labels_train: Buffer,
    labels_test: Buffer,
    row_terms: Buffer,
    row_correct: Buffer,
    cells: Buffer,
    state: Buffer,
    non_finite: Buffer,
    losses: Buffer,
    loss_changes: Buffer,
    output_changes: Buffer,
    schedule: Buffer,
    positive0: Buffer,
    same_sign: Buffer,
    test_correct: Buffer,
    distance_w0: Buffer,
    distance_w1: Buffer,
    measure_w0: Buffer,
    measure_w1: Buffer,
}

/// Inputs from which the dispatches of a batch are prepared.
struct Plan<'a> {
    gpu: &'a GpuDevice,
    kernels: &'a Kernels,
    buffers: &'a Buffers,
    problem: Problem<'a>,
    cells: usize,
    offset: bool,
    df64: bool,
    scalar: Scalar,
}

impl Plan<'_> {
    fn device(&self) -> &Device {
        &self.gpu.device
    }

    fn dims(&self) -> (u32, u32, u32, u32) {
        let k = self.cells as u32;
        let h = self.problem.init.hidden as u32;
        (k, h, self.problem.data.d as u32, k * h)
    }

    /// Returns the workgroups of an elementwise kernel over `count` elements on this
    /// adapter.
    fn elementwise(&self, count: usize) -> [u32; 3] {
        element_groups(count, elementwise_group_cap(self.gpu))
    }

    fn inv_sqrt_d(&self) -> f64 {
        1.0 / (self.problem.data.d as f64).sqrt()
    }

    fn inv_sqrt_h(&self) -> f64 {
        1.0 / (self.problem.init.hidden as f64).sqrt()
    }

    /// zhat = X W0stack^T / sqrt(d), z = sigma(zhat), f_c = Z_c W1_c^T / sqrt(h). In the
    /// offset formulation (with `start`) the first product gives e = zhat - zhat_0, and
    /// f_c - f0 = (dZ_c W1_0^T + Z_c dW1_c^T) / sqrt(h) with dZ = sigma(zhat) - sigma(zhat_0).
    fn forward(
        &self,
        x: &Buffer,
        rows: u32,
        start: Option<&ChunkStart>,
    ) -> Result<Vec<Dispatch>, GpuError> {
        let (k, h, d, width) = self.dims();
        let b = self.buffers;
        let hidden_pre = MatmulShape {
            batch: 1,
            m: rows,
            n: width,
            k: d,
            a: Operand::row_major(d),
            b: Operand::transposed(d),
            c: Operand::row_major(width),
            scale: self.inv_sqrt_d(),
            accumulate: false,
        };
        let output = MatmulShape {
            batch: k,
            m: rows,
            n: CLASSES_U32,
            k: h,
            a: Operand::row_major(width).with_batch_stride(h),
            b: Operand::transposed(h).with_batch_stride(CLASSES_U32 * h),
            c: Operand::row_major(CLASSES_U32).with_batch_stride(rows * CLASSES_U32),
            scale: self.inv_sqrt_h(),
            accumulate: false,
        };
        let count = (rows * width) as usize;
        let params = ActivationParams {
            a: self.problem.settings.activation.a,
            count: count as u32,
            hidden: h,
            width,
        };
        let activation_params = uniform_bytes(self.device(), &params.bytes(self.scalar));
        let matmul = &self.kernels.matmul;
        let mut dispatches = vec![matmul.prepare(self.gpu, &hidden_pre, x, &b.w0, &b.zhat)?];
        match start {
            None => {
                dispatches.push(self.kernels.activate.dispatch(
                    self.device(),
                    &[&activation_params, &b.zhat, &b.z, &b.dsigma],
                    self.elementwise(count),
                ));
                dispatches.push(matmul.prepare(self.gpu, &output, &b.z, &b.w1, &b.f)?);
            }
            Some(start) => {
                dispatches.push(self.kernels.activate_offset.dispatch(
                    self.device(),
                    &[
                        &activation_params,
                        &b.zhat,
                        &b.z,
                        &b.dsigma,
                        &b.change,
                        &start.zhat,
                        &start.logistic,
                        &start.z,
                    ],
                    self.elementwise(count),
                ));
                if self.df64 {
                    let params = OutputParams {
                        rows,
                        cells: k,
                        hidden: h,
                        width,
                        scale: df64_pair(1.0 / f64::from(h).sqrt()),
                        zero: 0,
                        pad: 0,
                    };
                    dispatches.push(self.kernels.output_change_df64.dispatch(
                        self.device(),
                        &[
                            &uniform_buffer(self.device(), &params),
                            &b.change,
                            &b.z,
                            &b.w1_init,
                            &b.w1,
                            &b.f,
                        ],
                        [rows.div_ceil(GROUP), k, 1],
                    ));
                    return Ok(dispatches);
                }
                // Every cell multiplies by the same W1_0, so its batch stride is zero.
                let from_start = MatmulShape {
                    b: Operand::transposed(h),
                    ..output
                };
                let from_delta = MatmulShape {
                    accumulate: true,
                    ..output
                };
                dispatches.push(matmul.prepare(
                    self.gpu,
                    &from_start,
                    &b.change,
                    &b.w1_init,
                    &b.f,
                )?);
                dispatches.push(matmul.prepare(self.gpu, &from_delta, &b.z, &b.w1, &b.f)?);
            }
        }
        Ok(dispatches)
    }

    fn train_chunk(
        &self,
        x: &[f64],
        start: usize,
        rows: usize,
        hidden: Option<&ChunkStart>,
    ) -> Result<Chunk, GpuError> {
        let (k, h, d, width) = self.dims();
        let b = self.buffers;
        let device = self.device();
        let x = storage_buffer(device, "training inputs", &self.scalar.encode(x));
        let rows = rows as u32;
        let first = start == 0;

        let loss_params = self.loss_params(rows, start as u32);
        let loss = self.kernels.loss_rows.dispatch(
            device,
            &[
                &uniform_buffer(device, &loss_params),
                &b.f,
                &b.f0_train,
                &b.labels_train,
                &b.cells,
                &b.gf,
                &b.row_terms,
                &b.row_correct,
                &b.output_changes,
            ],
            [rows.div_ceil(GROUP), k, 1],
        );

        // dW1_c (+)= g_c^T Z_c / sqrt(h)
        let w1_gradient = MatmulShape {
            batch: k,
            m: CLASSES_U32,
            n: h,
            k: rows,
            a: Operand::transposed(CLASSES_U32).with_batch_stride(rows * CLASSES_U32),
            b: Operand::row_major(width).with_batch_stride(h),
            c: Operand::row_major(h).with_batch_stride(CLASSES_U32 * h),
            scale: self.inv_sqrt_h(),
            accumulate: !first,
        };
        // Delta_c = (g_c W1_c / sqrt(h)) * sigma'(zhat), written over zhat. W1_c is the
        // full theta_0 + delta in the offset formulation.
        let delta = MatmulShape {
            batch: k,
            m: rows,
            n: h,
            k: CLASSES_U32,
            a: Operand::row_major(CLASSES_U32).with_batch_stride(rows * CLASSES_U32),
            b: Operand::row_major(h).with_batch_stride(CLASSES_U32 * h),
            c: Operand::row_major(width).with_batch_stride(h),
            scale: self.inv_sqrt_h(),
            accumulate: false,
        };
        // dW0stack (+)= Delta^T X / sqrt(d)
        let w0_gradient = MatmulShape {
            batch: 1,
            m: width,
            n: d,
            k: rows,
            a: Operand::transposed(width),
            b: Operand::row_major(d),
            c: Operand::row_major(d),
            scale: self.inv_sqrt_d(),
            accumulate: !first,
        };
        let count = (rows * width) as usize;
        let params = ActivationParams {
            a: 0.0,
            count: count as u32,
            hidden: h,
            width,
        };
        let w1 = if hidden.is_some() { &b.w1_total } else { &b.w1 };
        let backward = vec![
            self.kernels
                .matmul
                .prepare(self.gpu, &w1_gradient, &b.gf, &b.z, &b.dw1)?,
            self.kernels
                .matmul
                .prepare(self.gpu, &delta, &b.gf, w1, &b.zhat)?,
            self.kernels.apply_derivative.dispatch(
                device,
                &[
                    &uniform_bytes(device, &params.bytes(self.scalar)),
                    &b.zhat,
                    &b.dsigma,
                ],
                self.elementwise(count),
            ),
            self.kernels
                .matmul
                .prepare(self.gpu, &w0_gradient, &b.zhat, &x, &b.dw0)?,
        ];

        Ok(Chunk {
            rows,
            row_offset: start as u32,
            forward: self.forward(&x, rows, hidden)?,
            after_forward: vec![loss],
            backward,
            store_signs: None,
        })
    }

    fn test_chunk(
        &self,
        x: &[f64],
        start: usize,
        rows: usize,
        hidden: Option<&ChunkStart>,
    ) -> Result<Chunk, GpuError> {
        let (k, h, _, _) = self.dims();
        let b = self.buffers;
        let device = self.device();
        let x = storage_buffer(device, "test inputs", &self.scalar.encode(x));
        let rows = rows as u32;
        let words = h.div_ceil(32);
        let params = MetricsParams {
            rows,
            row_offset: start as u32,
            cells: k,
            hidden: h,
            words,
            block: 0,
            parts: 0,
            pad: 0,
        };
        let uniform = uniform_buffer(device, &params);
        let per_sample = [rows.div_ceil(GROUP), k, 1];
        let count_same_sign = match hidden {
            Some(hidden) => self.kernels.count_same_sign_offset.dispatch(
                device,
                &[&uniform, &b.zhat, &b.same_sign, &hidden.zhat],
                per_sample,
            ),
            None => self.kernels.count_same_sign.dispatch(
                device,
                &[&uniform, &b.zhat, &b.positive0, &b.same_sign],
                per_sample,
            ),
        };
        let store_signs = hidden.is_none().then(|| {
            self.kernels.store_signs.dispatch(
                device,
                &[&uniform, &b.zhat, &b.positive0],
                [words.div_ceil(GROUP), rows, 1],
            )
        });
        Ok(Chunk {
            rows,
            row_offset: start as u32,
            forward: self.forward(&x, rows, hidden)?,
            after_forward: vec![
                count_same_sign,
                self.kernels.count_correct.dispatch(
                    device,
                    &[&uniform, &b.f, &b.f0_test, &b.labels_test, &b.test_correct],
                    per_sample,
                ),
            ],
            backward: Vec::new(),
            store_signs,
        })
    }

    /// Returns the loss kernels' uniform for a chunk of `rows` samples from `row_offset`.
    fn loss_params(&self, rows: u32, row_offset: u32) -> LossParams {
        let settings = self.problem.settings;
        LossParams {
            rows,
            row_offset,
            cells: self.dims().0,
            samples: self.problem.data.n_train() as u32,
            record: u32::from(settings.record_losses),
            divergence_factor: settings.divergence_factor as f32,
            df64_sums: u32::from(self.df64),
            zero: 0,
        }
    }

    fn finish_loss(&self) -> Dispatch {
        let (k, ..) = self.dims();
        let b = self.buffers;
        let params = self.loss_params(0, 0);
        self.kernels.finish_loss.dispatch(
            self.device(),
            &[
                &uniform_buffer(self.device(), &params),
                &b.cells,
                &b.row_terms,
                &b.row_correct,
                &b.state,
                &b.non_finite,
                &b.losses,
                &b.schedule,
                &b.loss_changes,
            ],
            [k.div_ceil(GROUP), 1, 1],
        )
    }

    /// Prepares one update dispatch for the stacked W0 and one for the stacked W1, which
    /// measure the rounding of the update when `measured` is set.
    fn updates(&self, measured: bool) -> Vec<Dispatch> {
        let (k, h, d, _) = self.dims();
        let b = self.buffers;
        let optimizer = &self.problem.settings.optimizer;
        [
            (
                &b.w0,
                &b.dw0,
                &b.v0,
                &b.m0,
                &b.measure_w0,
                [&b.theta_w0, &b.theta_start_w0],
                h * d,
            ),
            (
                &b.w1,
                &b.dw1,
                &b.v1,
                &b.m1,
                &b.measure_w1,
                [&b.theta_w1, &b.theta_start_w1],
                CLASSES_U32 * h,
            ),
        ]
        .into_iter()
        .map(|(w, g, v, m, partial, theta, block)| {
            let count = (k * block) as usize;
            // The measured update needs a fixed number of partial sums per cell. The
            // unmeasured one spreads the adapter's elementwise workgroups over the cells.
            let parts = if measured {
                measure_parts(block)
            } else {
                let cap = elementwise_group_cap(self.gpu) / k;
                measure_parts(block).min(cap.max(1))
            };
            let params = UpdateParams::new(optimizer, count, block as usize, parts);
            let uniform = uniform_bytes(self.device(), &params.bytes(self.scalar));
            let mut buffers = vec![
                &uniform,
                w,
                g,
                v,
                m,
                &b.cells,
                &b.state,
                &b.non_finite,
                &b.schedule,
            ];
            // Bound in every mode and read only by the df64 pipelines.
            buffers.extend(theta);
            if measured {
                buffers.push(partial);
            }
            let kernels = self.kernels;
            let kernel = match (self.df64, measured) {
                (false, false) => &kernels.update,
                (false, true) => &kernels.update_measured,
                (true, false) => &kernels.update_df64,
                (true, true) => &kernels.update_df64_measured,
            };
            kernel.dispatch(self.device(), &buffers, [parts, k, 1])
        })
        .collect()
    }

    /// Adds each cell's lost-update partial sums and keeps the largest fraction.
    fn finish_measure(&self) -> Dispatch {
        let (k, h, d, _) = self.dims();
        let b = self.buffers;
        let params = MeasureParams {
            cells: k,
            parts_w0: measure_parts(h * d),
            parts_w1: measure_parts(CLASSES_U32 * h),
            pad: 0,
        };
        self.kernels.finish_measure.dispatch(
            self.device(),
            &[
                &b.measure_w0,
                &b.measure_w1,
                &b.state,
                &uniform_buffer(self.device(), &params),
            ],
            [k.div_ceil(GROUP), 1, 1],
        )
    }

    /// Writes W1 = W1_0 + delta W1 for every cell, for the offset formulation.
    fn total_w1(&self) -> Dispatch {
        let (k, h, ..) = self.dims();
        let b = self.buffers;
        let block = CLASSES_U32 * h;
        let count = (k * block) as usize;
        let params = UpdateParams::new(&self.problem.settings.optimizer, count, block as usize, 1);
        self.kernels.total_from_start.dispatch(
            self.device(),
            &[
                &uniform_bytes(self.device(), &params.bytes(self.scalar)),
                &b.w1,
                &b.w1_init,
                &b.w1_total,
            ],
            self.elementwise(count),
        )
    }

    fn distances(&self) -> Vec<Dispatch> {
        let (k, h, d, _) = self.dims();
        let b = self.buffers;
        // The offset formulation stores delta already, so its distance is from zero.
        let (w0_start, w1_start) = if self.offset {
            (&b.zeros_w0, &b.zeros_w1)
        } else {
            (&b.w0_init, &b.w1_init)
        };
        [
            (&b.w0, w0_start, &b.distance_w0, h * d),
            (&b.w1, w1_start, &b.distance_w1, CLASSES_U32 * h),
        ]
        .into_iter()
        .map(|(w, w_init, partial, block)| {
            let params = MetricsParams {
                rows: 0,
                row_offset: 0,
                cells: k,
                hidden: h,
                words: 0,
                block,
                parts: DISTANCE_PARTS,
                pad: 0,
            };
            self.kernels.squared_distance.dispatch(
                self.device(),
                &[&uniform_buffer(self.device(), &params), w, w_init, partial],
                [DISTANCE_PARTS.div_ceil(GROUP), k, 1],
            )
        })
        .collect()
    }
}

/// Returns the number of chunks of `rows` samples that cover `n` samples.
pub(super) fn chunk_count(n: usize, rows: usize) -> usize {
    chunk_ranges(n, rows).len()
}
