//! Forward pass, loss, backward pass and evaluation of a batch of cells in float64.

use rayon::prelude::*;

use super::gemm::{MatMut, MatRef, gemm, gemm_accumulate};
use super::math;
use super::timing::{Phase, PhaseTimer};
use crate::engine::{CellOutcome, CellSpec, Precision, Problem, TrainSettings};
use crate::model::activation::{BETA, logistic};
use crate::model::loss::{soft_hinge, soft_hinge_change, soft_hinge_derivative, target};
use crate::model::{Activation, CLASSES, InitialWeights};

/// Elements per parallel chunk in elementwise passes.
const CHUNK: usize = 1 << 14;

/// The data, theta_0 and settings of a batch, with the shapes spelled out.
pub(super) struct Network<'a> {
    pub n: usize,
    pub n_test: usize,
    pub d: usize,
    pub hidden: usize,
    x: &'a [f64],
    y: &'a [u8],
    x_test: &'a [f64],
    y_test: &'a [u8],
    init: &'a InitialWeights,
    activation: Activation,
    settings: &'a TrainSettings,
    inv_sqrt_d: f64,
    inv_sqrt_h: f64,
    /// Train in the offset formulation: the stored parameters are delta = theta - theta_0
    /// and the outputs are f(theta) - f(theta_0), formed without subtracting f(theta_0).
    pub offset: bool,
}

/// Quantities at theta_0 shared by every cell: f(theta_0, x) on both sets and the signs of
/// the test pre-activations. In the offset formulation the outputs are already differences,
/// so `f0_train` and `f0_test` are zero and `hidden_train` and `hidden_test` hold the
/// hidden layer at theta_0.
pub(super) struct Reference {
    f0_train: Vec<f64>,
    f0_test: Vec<f64>,
    positive0_test: Vec<bool>,
    w0_norm: f64,
    w1_norm: f64,
    hidden_train: Option<HiddenAtStart>,
    hidden_test: Option<HiddenAtStart>,
}

/// The hidden layer at theta_0 on one set of samples, each rows x hidden: zhat_0,
/// logistic(beta zhat_0) and sigma(zhat_0).
pub(super) struct HiddenAtStart {
    hidden: usize,
    zhat: Vec<f64>,
    logistic: Vec<f64>,
    z: Vec<f64>,
}

impl HiddenAtStart {
    fn new(activation: Activation, hidden: usize, zhat: Vec<f64>) -> Self {
        let logistic = zhat.par_iter().map(|&u| logistic(BETA * u)).collect();
        let mut z = vec![0.0; zhat.len()];
        zhat.par_chunks(CHUNK)
            .zip(z.par_chunks_mut(CHUNK))
            .for_each(|(zhat, z)| math::activation_values(activation, zhat, z));
        Self {
            hidden,
            zhat,
            logistic,
            z,
        }
    }

    /// Turns the pre-activation changes e = zhat - zhat_0 of `rows` samples starting at
    /// `start`, for every slot (rows x width), into sigma'(zhat) in place, and writes
    /// sigma(zhat) - sigma(zhat_0) into `change` and sigma(zhat) into `z`.
    fn apply_change(
        &self,
        activation: Activation,
        start: usize,
        e: &mut [f64],
        change: &mut [f64],
        z: &mut [f64],
        width: usize,
    ) {
        let h = self.hidden;
        e.par_chunks_mut(width)
            .zip(change.par_chunks_mut(width))
            .zip(z.par_chunks_mut(width))
            .enumerate()
            .for_each(|(i, ((e, change), z))| {
                let row = (start + i) * h..(start + i + 1) * h;
                let (u0, s0, z0) = (
                    &self.zhat[row.clone()],
                    &self.logistic[row.clone()],
                    &self.z[row],
                );
                for s in 0..width / h {
                    let cols = s * h..(s + 1) * h;
                    let (e, change, z) = (
                        &mut e[cols.clone()],
                        &mut change[cols.clone()],
                        &mut z[cols],
                    );
                    for j in 0..h {
                        let dz = activation.change(u0[j], s0[j], e[j]);
                        change[j] = dz;
                        z[j] = z0[j] + dz;
                        e[j] = activation.derivative(u0[j] + e[j]);
                    }
                }
            });
    }
}

/// sigma(zhat), sigma'(zhat) and f of theta_0 on the training set (n x hidden, n x hidden
/// and n x classes). Every cell starts at theta_0, so this is the forward pass of every
/// slot at step 0.
pub(super) struct InitialHidden {
    z: Vec<f64>,
    dsigma: Vec<f64>,
    f: Vec<f64>,
}

/// The training state of one cell in the batch.
pub(super) struct Slot {
    /// Index of the cell in the batch.
    pub cell: usize,
    /// W1, or delta W1 = W1 - W1_0 in the offset formulation.
    pub w1: Vec<f64>,
    /// W1_0 + delta W1 in the offset formulation, which the backward pass needs; empty
    /// otherwise.
    pub w1_total: Vec<f64>,
    pub dw1: Vec<f64>,
    pub v0: Vec<f64>,
    pub m0: Vec<f64>,
    pub v1: Vec<f64>,
    pub m1: Vec<f64>,
    pub losses: Vec<f64>,
    pub loss_changes: Vec<f64>,
    /// f - f_0 on the training set at the last step, when losses are recorded.
    pub output_changes: Vec<f64>,
    pub loss0: f64,
    pub last_loss: f64,
    pub train_correct: usize,
    /// ||f|| and ||f - f_0|| on the training set at the last loss evaluation, where f is
    /// what the forward pass formed (the change itself in the offset formulation).
    pub output_norm: f64,
    pub change_norm: f64,
    /// Magnitudes of the update lost to rounding and of the update intended, summed over
    /// the measured steps.
    pub lost_sum: f64,
    pub intended_sum: f64,
}

impl Slot {
    /// Returns the fraction of the measured updates that rounding lost, 0 when no update
    /// was measured.
    pub fn lost_update(&self) -> f64 {
        if self.intended_sum > 0.0 {
            self.lost_sum / self.intended_sum
        } else {
            0.0
        }
    }

    /// Returns the estimated relative rounding error of f - f_0 at the last loss
    /// evaluation.
    pub fn cancellation(&self) -> f64 {
        f64::EPSILON / 2.0 * self.output_norm / self.change_norm
    }
}

/// Every buffer of a batch. Slot s owns block s of the stacked W0 and its gradient; the
/// activation buffers hold n rows of (active slots x hidden) columns.
pub(super) struct Workspace {
    pub slots: Vec<Slot>,
    pub w0_stack: Vec<f64>,
    pub dw0_stack: Vec<f64>,
    /// Length of one W0 block: hidden x d.
    pub block: usize,
    /// sigma(zhat) - sigma(zhat_0) in the offset formulation, laid out like `z`; empty
    /// otherwise.
    change: Vec<f64>,
    /// Pre-activations zhat. The forward pass replaces them by sigma'(zhat) and the
    /// backward pass by Delta, so that each pass reads and writes one buffer in place.
    zhat: Vec<f64>,
    z: Vec<f64>,
    f: Vec<f64>,
    gf: Vec<f64>,
}

impl Workspace {
    pub fn new(net: &Network<'_>, cells: &[CellSpec]) -> Self {
        let k = cells.len();
        let (h, d, c) = (net.hidden, net.d, CLASSES);
        let mut w0_stack = Vec::with_capacity(k * h * d);
        if net.offset {
            w0_stack.resize(k * h * d, 0.0);
        } else {
            for _ in 0..k {
                w0_stack.extend_from_slice(&net.init.w0);
            }
        }
        let slots = cells
            .iter()
            .enumerate()
            .map(|(cell, spec)| {
                let v = spec.optimizer.uses_second_moment();
                let m = spec.optimizer.uses_first_moment();
                let moment =
                    |used: bool, len: usize| if used { vec![0.0; len] } else { Vec::new() };
                let (w1, w1_total) = if net.offset {
                    (vec![0.0; c * h], net.init.w1.clone())
                } else {
                    (net.init.w1.clone(), Vec::new())
                };
                Slot {
                    cell,
                    w1,
                    w1_total,
                    dw1: vec![0.0; c * h],
                    v0: moment(v, h * d),
                    m0: moment(m, h * d),
                    v1: moment(v, c * h),
                    m1: moment(m, c * h),
                    losses: Vec::new(),
                    loss_changes: Vec::new(),
                    output_changes: Vec::new(),
                    loss0: f64::NAN,
                    last_loss: f64::NAN,
                    train_correct: 0,
                    output_norm: f64::NAN,
                    change_norm: f64::NAN,
                    lost_sum: 0.0,
                    intended_sum: 0.0,
                }
            })
            .collect();
        let activations = net.n * k * h;
        Self {
            slots,
            w0_stack,
            dw0_stack: vec![0.0; k * h * d],
            block: h * d,
            change: if net.offset {
                vec![0.0; activations]
            } else {
                Vec::new()
            },
            zhat: vec![0.0; activations],
            z: vec![0.0; activations],
            f: vec![0.0; k * net.n * c],
            gf: vec![0.0; k * net.n * c],
        }
    }

    /// Removes slot `s`, moving the last slot into its place, and returns it.
    pub fn remove_slot(&mut self, s: usize) -> Slot {
        let last = self.slots.len() - 1;
        if s != last {
            let block = self.block;
            let (head, tail) = self.w0_stack.split_at_mut(last * block);
            head[s * block..(s + 1) * block].swap_with_slice(&mut tail[..block]);
        }
        self.slots.swap_remove(s)
    }
}

impl<'a> Network<'a> {
    pub fn new(problem: Problem<'a>) -> Self {
        let data = problem.data;
        let init = problem.init;
        Self {
            n: data.n_train(),
            n_test: data.n_test(),
            d: data.d,
            hidden: init.hidden,
            x: &data.x_train,
            y: &data.y_train,
            x_test: &data.x_test,
            y_test: &data.y_test,
            init,
            activation: problem.settings.activation,
            settings: problem.settings,
            inv_sqrt_d: 1.0 / (data.d as f64).sqrt(),
            inv_sqrt_h: 1.0 / (init.hidden as f64).sqrt(),
            offset: problem.settings.precision == Precision::Offset,
        }
    }
}
impl Network<'_> {
    /// Returns W1 of theta_0.
    pub fn init_w1(&self) -> &[f64] {
        &self.init.w1
    }

    /// Computes f(theta_0, x) on both sets and the signs of the test pre-activations, and
    /// returns them with the hidden layer of theta_0 on the training set.
    pub fn reference(&self) -> (Reference, InitialHidden) {
        let (h, c) = (self.hidden, CLASSES);
        let w0 = &self.init.w0;
        let w1 = &self.init.w1;

        let pre_activations = |x: &[f64], rows: usize| -> Vec<f64> {
            let mut zhat = vec![0.0; rows * h];
            gemm(
                self.inv_sqrt_d,
                MatRef::row_major(x, rows, self.d),
                MatRef::row_major(w0, h, self.d).t(),
                MatMut::row_major(&mut zhat, rows, h),
            );
            zhat
        };
        let outputs = |z: &[f64], rows: usize| -> Vec<f64> {
            let mut f = vec![0.0; rows * c];
            gemm(
                self.inv_sqrt_h,
                MatRef::row_major(z, rows, h),
                MatRef::row_major(w1, c, h).t(),
                MatMut::row_major(&mut f, rows, c),
            );
            f
        };

        let zhat_train = pre_activations(self.x, self.n);
        let zhat_test = pre_activations(self.x_test, self.n_test);
        let positive0_test = zhat_test.par_iter().map(|&u| u > 0.0).collect();
        let (w0_norm, w1_norm) = (norm(w0), norm(w1));

        if self.offset {
            let train = HiddenAtStart::new(self.activation, h, zhat_train);
            let test = HiddenAtStart::new(self.activation, h, zhat_test);
            let dsigma = train
                .zhat
                .par_iter()
                .map(|&u| self.activation.derivative(u))
                .collect();
            let initial = InitialHidden {
                z: train.z.clone(),
                dsigma,
                f: vec![0.0; self.n * c],
            };
            let reference = Reference {
                f0_train: vec![0.0; self.n * c],
                f0_test: vec![0.0; self.n_test * c],
                positive0_test,
                w0_norm,
                w1_norm,
                hidden_train: Some(train),
                hidden_test: Some(test),
            };
            return (reference, initial);
        }

        // The pre-activations become sigma' in place.
        let mut dsigma_train = zhat_train;
        let mut z_train = vec![0.0; self.n * h];
        dsigma_train
            .par_chunks_mut(CHUNK)
            .zip(z_train.par_chunks_mut(CHUNK))
            .for_each(|(zhat, z)| math::activation_in_place(self.activation, zhat, z));
        let f0_train = outputs(&z_train, self.n);

        let mut z_test = vec![0.0; self.n_test * h];
        zhat_test
            .par_chunks(CHUNK)
            .zip(z_test.par_chunks_mut(CHUNK))
            .for_each(|(zhat, z)| math::activation_values(self.activation, zhat, z));
        let f0_test = outputs(&z_test, self.n_test);

        let initial = InitialHidden {
            z: z_train,
            dsigma: dsigma_train,
            f: f0_train.clone(),
        };
        let reference = Reference {
            f0_train,
            f0_test,
            positive0_test,
            w0_norm,
            w1_norm,
            hidden_train: None,
            hidden_test: None,
        };
        (reference, initial)
    }

    /// Computes zhat, sigma(zhat), sigma'(zhat) and the outputs f on the training set for
    /// every active slot. sigma'(zhat) overwrites zhat.
    ///
    /// With `initial`, every slot must still be at theta_0, and the hidden layer and
    /// outputs are copied from it in place of the two products. The copies are
    /// bit-identical to what the products give, because the stacked product computes each
    /// slot's block exactly as the single-cell product of `Network::reference` does.
    ///
    /// In the offset formulation the product gives e = zhat - zhat_0, the hidden change
    /// sigma(zhat) - sigma(zhat_0) is formed from e directly, and the outputs are
    /// f - f_0 = h^-1/2 (W1_0 (z - z_0) + delta W1 z).
    pub fn forward_train(
        &self,
        ws: &mut Workspace,
        reference: &Reference,
        initial: Option<&InitialHidden>,
        timer: &mut PhaseTimer,
    ) {
        let active = ws.slots.len();
        let width = active * self.hidden;
        let len = self.n * width;
        if let Some(initial) = initial {
            self.copy_initial(ws, initial, timer);
            return;
        }
        gemm(
            self.inv_sqrt_d,
            MatRef::row_major(self.x, self.n, self.d),
            MatRef::row_major(&ws.w0_stack[..active * ws.block], width, self.d).t(),
            MatMut::row_major(&mut ws.zhat[..len], self.n, width),
        );
        timer.lap(Phase::ForwardGemm);

        let activation = self.activation;
        match &reference.hidden_train {
            Some(start) => start.apply_change(
                activation,
                0,
                &mut ws.zhat[..len],
                &mut ws.change[..len],
                &mut ws.z[..len],
                width,
            ),
            None => ws.zhat[..len]
                .par_chunks_mut(CHUNK)
                .zip(ws.z[..len].par_chunks_mut(CHUNK))
                .for_each(|(zhat, z)| math::activation_in_place(activation, zhat, z)),
        }
        timer.lap(Phase::Activation);

        let per_slot = self.n * CLASSES;
        for (s, slot) in ws.slots.iter().enumerate() {
            let f = &mut ws.f[s * per_slot..(s + 1) * per_slot];
            self.output_layer(&ws.z, &ws.change, s, width, self.n, &slot.w1, f);
        }
        timer.lap(Phase::OutputLayer);
    }

    /// Writes the outputs of slot `s` for `rows` samples into `f` (rows x classes): f from
    /// sigma(zhat) and W1, or in the offset formulation f - f_0 from sigma(zhat),
    /// the hidden change and delta W1.
    #[allow(clippy::too_many_arguments)]
    fn output_layer(
        &self,
        z: &[f64],
        change: &[f64],
        s: usize,
        width: usize,
        rows: usize,
        w1: &[f64],
        f: &mut [f64],
    ) {
        let h = self.hidden;
        let len = rows * width;
        fn hidden_of_slot(
            values: &[f64],
            s: usize,
            h: usize,
            len: usize,
            width: usize,
        ) -> MatRef<'_> {
            MatRef::new(&values[s * h..len], len / width, h, width, 1)
        }
        let out = MatMut::row_major(f, rows, CLASSES);
        if !self.offset {
            let w1 = MatRef::row_major(w1, CLASSES, h).t();
            gemm(
                self.inv_sqrt_h,
                hidden_of_slot(z, s, h, len, width),
                w1,
                out,
            );
            return;
        }
        let w1_start = MatRef::row_major(&self.init.w1, CLASSES, h).t();
        gemm(
            self.inv_sqrt_h,
            hidden_of_slot(change, s, h, len, width),
            w1_start,
            out,
        );
        let out = MatMut::row_major(f, rows, CLASSES);
        let delta_w1 = MatRef::row_major(w1, CLASSES, h).t();
        gemm_accumulate(
            self.inv_sqrt_h,
            hidden_of_slot(z, s, h, len, width),
            delta_w1,
            out,
        );
    }

    /// Copies the hidden layer and outputs of theta_0 into every active slot.
    fn copy_initial(&self, ws: &mut Workspace, initial: &InitialHidden, timer: &mut PhaseTimer) {
        let h = self.hidden;
        let active = ws.slots.len();
        let width = active * h;
        let len = self.n * width;
        ws.z[..len]
            .par_chunks_mut(width)
            .zip(ws.zhat[..len].par_chunks_mut(width))
            .zip(initial.z.par_chunks(h))
            .zip(initial.dsigma.par_chunks(h))
            .for_each(|(((z, dsigma), z0), dsigma0)| {
                for s in 0..active {
                    z[s * h..(s + 1) * h].copy_from_slice(z0);
                    dsigma[s * h..(s + 1) * h].copy_from_slice(dsigma0);
                }
            });
        timer.lap(Phase::Activation);

        let per_slot = self.n * CLASSES;
        for f in ws.f[..active * per_slot].chunks_mut(per_slot) {
            f.copy_from_slice(&initial.f);
        }
        timer.lap(Phase::OutputLayer);
    }

    /// Computes each slot's loss at step t, its gradient with respect to f and its training
    /// accuracy, and returns the slots whose loss is non-finite or has exploded.
    pub fn loss_and_output_gradient(
        &self,
        ws: &mut Workspace,
        reference: &Reference,
        cells: &[CellSpec],
        t: u64,
    ) -> Vec<usize> {
        let per_slot = self.n * CLASSES;
        let active = ws.slots.len();
        let record = self.settings.record_losses;
        let factor = self.settings.divergence_factor;

        ws.slots
            .par_iter_mut()
            .zip(ws.f[..active * per_slot].par_chunks(per_slot))
            .zip(ws.gf[..active * per_slot].par_chunks_mut(per_slot))
            .enumerate()
            .filter_map(|(s, ((slot, f), gf))| {
                let alpha = cells[slot.cell].alpha;
                let fit = self.loss_of_slot(alpha, f, &reference.f0_train, gf, record);
                let loss = fit.loss;
                slot.last_loss = loss;
                slot.train_correct = fit.correct;
                slot.output_norm = fit.output_norm;
                slot.change_norm = fit.change_norm;
                if t == 0 {
                    slot.loss0 = loss;
                }
                if record {
                    slot.losses.push(loss);
                    slot.loss_changes.push(fit.loss_change);
                    if t == self.settings.steps {
                        let f0 = &reference.f0_train;
                        slot.output_changes = f.iter().zip(f0).map(|(a, b)| a - b).collect();
                    }
                }
                let exploded = !loss.is_finite() || loss > factor * slot.loss0;
                exploded.then_some(s)
            })
            .collect()
    }

    /// Returns the loss, correct predictions and output norms of one cell and writes dL/df
    /// into `gf`.
    fn loss_of_slot(
        &self,
        alpha: f64,
        f: &[f64],
        f0: &[f64],
        gf: &mut [f64],
        with_change: bool,
    ) -> Fit {
        let gradient_scale = 1.0 / (alpha * self.n as f64);
        let mut total = 0.0;
        let mut total_change = 0.0;
        let mut correct = 0;
        let (mut output_sq, mut change_sq) = (0.0, 0.0);
        for i in 0..self.n {
            let label = self.y[i];
            let row = i * CLASSES;
            let mut best = (f64::NEG_INFINITY, 0);
            for k in 0..CLASSES {
                let change = f[row + k] - f0[row + k];
                output_sq += f[row + k] * f[row + k];
                change_sq += change * change;
                let output = alpha * change;
                let y = target(label, k);
                total += soft_hinge(output, y);
                if with_change {
                    total_change += soft_hinge_change(output, y);
                }
                gf[row + k] = soft_hinge_derivative(output, y) * gradient_scale;
                if output > best.0 {
                    best = (output, k);
                }
            }
            if best.1 == label as usize {
                correct += 1;
            }
        }
        // Dividing, not multiplying by a reciprocal, rounds once.
        let denominator = alpha * alpha * self.n as f64;
        Fit {
            loss: total / denominator,
            loss_change: if with_change {
                total_change / denominator
            } else {
                f64::NAN
            },
            correct,
            output_norm: output_sq.sqrt(),
            change_norm: change_sq.sqrt(),
        }
    }

    /// Computes dW1 and the stacked dW0 of every slot not in `skip`.
    ///
    /// With g = dL/df: dW1 = h^-1/2 g^T z, Delta = (h^-1/2 g W1) * sigma'(zhat) elementwise,
    /// and dW0 = d^-1/2 Delta^T x. Delta overwrites sigma'(zhat) in the zhat buffer.
    pub fn backward(&self, ws: &mut Workspace, skip: &[usize], timer: &mut PhaseTimer) {
        let (h, c, n) = (self.hidden, CLASSES, self.n);
        let active = ws.slots.len();
        let width = active * h;
        let len = n * width;
        let per_slot = n * c;

        for (s, slot) in ws.slots.iter_mut().enumerate() {
            if skip.contains(&s) {
                continue;
            }
            gemm(
                self.inv_sqrt_h,
                MatRef::row_major(&ws.gf[s * per_slot..(s + 1) * per_slot], n, c).t(),
                MatRef::new(&ws.z[s * h..len], n, h, width, 1),
                MatMut::row_major(&mut slot.dw1, c, h),
            );
        }
        timer.lap(Phase::Dw1);

        let slots = &ws.slots;
        let gf = &ws.gf;
        let inv_sqrt_h = self.inv_sqrt_h;
        ws.zhat[..len]
            .par_chunks_mut(width)
            .enumerate()
            .for_each_init(
                || vec![0.0; h],
                |back, (i, row)| {
                    for (s, slot) in slots.iter().enumerate() {
                        let delta = &mut row[s * h..(s + 1) * h];
                        if skip.contains(&s) {
                            delta.fill(0.0);
                            continue;
                        }
                        // back = g_i W1, the error propagated to the hidden layer.
                        back.fill(0.0);
                        let g = &gf[s * per_slot + i * c..s * per_slot + (i + 1) * c];
                        let w1 = if slot.w1_total.is_empty() {
                            &slot.w1
                        } else {
                            &slot.w1_total
                        };
                        for (k, &gk) in g.iter().enumerate() {
                            let w1_row = &w1[k * h..(k + 1) * h];
                            for (out, &w) in back.iter_mut().zip(w1_row) {
                                *out += gk * w;
                            }
                        }
                        // delta contains sigma'(zhat) until this line replaces it.
                        for (out, &b) in delta.iter_mut().zip(back.iter()) {
                            *out = b * (*out * inv_sqrt_h);
                        }
                    }
                },
            );
        timer.lap(Phase::Delta);

        gemm(
            self.inv_sqrt_d,
            MatRef::row_major(&ws.zhat[..len], n, width).t(),
            MatRef::row_major(self.x, n, self.d),
            MatMut::row_major(&mut ws.dw0_stack[..active * ws.block], width, self.d),
        );
        timer.lap(Phase::BackwardGemm);
    }

    /// Computes the test metrics and parameter changes of every slot still in the batch,
    /// which has just had its loss evaluated at theta_T, and returns (cell, outcome) pairs.
    pub fn evaluate(
        &self,
        ws: &mut Workspace,
        reference: &Reference,
        steps: u64,
    ) -> Vec<(usize, CellOutcome)> {
        let active = ws.slots.len();
        if active == 0 {
            return Vec::new();
        }
        let (h, c, d) = (self.hidden, CLASSES, self.d);
        let width = active * h;
        let rows_per_chunk = (ws.zhat.len() / width).min(self.n_test).max(1);

        let mut same_sign = vec![0usize; active];
        let mut test_correct = vec![0usize; active];
        let mut f = vec![0.0; rows_per_chunk * c];

        for start in (0..self.n_test).step_by(rows_per_chunk) {
            let rows = rows_per_chunk.min(self.n_test - start);
            let len = rows * width;
            gemm(
                self.inv_sqrt_d,
                MatRef::row_major(&self.x_test[start * d..(start + rows) * d], rows, d),
                MatRef::row_major(&ws.w0_stack[..active * ws.block], width, d).t(),
                MatMut::row_major(&mut ws.zhat[..len], rows, width),
            );

            let samples = start * h..(start + rows) * h;
            let positive0 = &reference.positive0_test[samples.clone()];
            // In the offset formulation the product gave e, and zhat = zhat_0 + e.
            let zhat0 = reference
                .hidden_test
                .as_ref()
                .map(|start| &start.zhat[samples]);
            for (s, count) in same_sign.iter_mut().enumerate() {
                *count += ws.zhat[..len]
                    .par_chunks(width)
                    .zip(positive0.par_chunks(h))
                    .enumerate()
                    .map(|(i, (row, before))| {
                        let row = &row[s * h..(s + 1) * h];
                        let zhat0 = zhat0.map(|u0| &u0[i * h..(i + 1) * h]);
                        (0..h)
                            .filter(|&j| {
                                let u = zhat0.map_or(row[j], |u0| u0[j] + row[j]);
                                (u > 0.0) == before[j]
                            })
                            .count()
                    })
                    .sum::<usize>();
            }

            let activation = self.activation;
            match &reference.hidden_test {
                Some(hidden0) => hidden0.apply_change(
                    activation,
                    start,
                    &mut ws.zhat[..len],
                    &mut ws.change[..len],
                    &mut ws.z[..len],
                    width,
                ),
                None => ws.zhat[..len]
                    .par_chunks(CHUNK)
                    .zip(ws.z[..len].par_chunks_mut(CHUNK))
                    .for_each(|(zhat, z)| math::activation_values(activation, zhat, z)),
            }

            for (s, slot) in ws.slots.iter().enumerate() {
                let f = &mut f[..rows * c];
                self.output_layer(&ws.z, &ws.change, s, width, rows, &slot.w1, f);
                let f0 = &reference.f0_test[start * c..(start + rows) * c];
                let labels = &self.y_test[start..start + rows];
                test_correct[s] += count_correct(&f[..rows * c], f0, labels);
            }
        }

        let block = ws.block;
        ws.slots
            .iter()
            .enumerate()
            .map(|(s, slot)| {
                let w0 = &ws.w0_stack[s * block..(s + 1) * block];
                let (change_w0, change_w1) = if self.offset {
                    (norm(w0), norm(&slot.w1))
                } else {
                    (
                        distance(w0, &self.init.w0),
                        distance(&slot.w1, &self.init.w1),
                    )
                };
                let outcome = CellOutcome {
                    steps_run: steps,
                    diverged_step: None,
                    final_loss: slot.last_loss,
                    train_acc: slot.train_correct as f64 / self.n as f64,
                    test_acc: test_correct[s] as f64 / self.n_test as f64,
                    sign_consistency: same_sign[s] as f64 / (self.n_test * h) as f64,
                    rel_change_w0: change_w0 / reference.w0_norm,
                    rel_change_w1: change_w1 / reference.w1_norm,
                    losses: slot.losses.clone(),
                    loss_changes: slot.loss_changes.clone(),
                    output_changes: slot.output_changes.clone(),
                    lost_update: slot.lost_update(),
                    cancellation: slot.cancellation(),
                };
                (slot.cell, outcome)
            })
            .collect()
    }
}

/// The loss of one cell on the training set with what else the same pass measured.
struct Fit {
    loss: f64,
    /// L - L(theta_0), NaN unless requested.
    loss_change: f64,
    correct: usize,
    /// ||f|| over every sample and class, for f as the forward pass formed it.
    output_norm: f64,
    /// ||f - f_0|| over every sample and class.
    change_norm: f64,
}

/// Counts samples whose largest f - f0 is at the true label. F = alpha (f - f0) with
/// alpha > 0 has the same argmax.
fn count_correct(f: &[f64], f0: &[f64], labels: &[u8]) -> usize {
    labels
        .iter()
        .enumerate()
        .filter(|&(i, &label)| {
            let row = i * CLASSES;
            let mut best = (f64::NEG_INFINITY, 0);
            for k in 0..CLASSES {
                let output = f[row + k] - f0[row + k];
                if output > best.0 {
                    best = (output, k);
                }
            }
            best.1 == label as usize
        })
        .count()
}

/// Returns the Euclidean norm. Partial sums over fixed chunks are added in order, so the
/// result does not depend on how rayon schedules the chunks.
fn norm(values: &[f64]) -> f64 {
    let partial: Vec<f64> = values
        .par_chunks(CHUNK)
        .map(|c| c.iter().map(|v| v * v).sum())
        .collect();
    partial.iter().sum::<f64>().sqrt()
}

/// Returns the Euclidean distance, summed in the same fixed order as `norm`.
fn distance(a: &[f64], b: &[f64]) -> f64 {
    let partial: Vec<f64> = a
        .par_chunks(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum())
        .collect();
    partial.iter().sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Prepared;
    use crate::model::ActivationNorm;
    use crate::optim::{OptimizerKind, OptimizerSettings};

    #[test]
    fn initial_copy_matches_forward_pass() {
        for precision in [Precision::F64, Precision::Offset] {
            check_initial_copy(precision);
        }
    }

    fn check_initial_copy(precision: Precision) {
        let (n, n_test, d, hidden) = (37, 5, 11, 6);
        let value = |i: usize| ((i * 7919) % 1013) as f64 / 101.3 - 5.0;
        let data = Prepared {
            name: "pattern".into(),
            d,
            x_train: (0..n * d).map(value).collect(),
            y_train: (0..n).map(|i| (i % CLASSES) as u8).collect(),
            x_test: (0..n_test * d).map(|i| value(i + 5)).collect(),
            y_test: (0..n_test).map(|i| (i % CLASSES) as u8).collect(),
            train_indices: (0..n).collect(),
            test_indices: (0..n_test).collect(),
        };
        let init = InitialWeights::draw(d, hidden, CLASSES, 3);
        let settings = TrainSettings {
            steps: 0,
            activation: Activation::normalized(ActivationNorm::SecondMoment),
            optimizer: OptimizerSettings::default(),
            divergence_factor: 1e6,
            record_losses: true,
            precision,
        };
        let problem = Problem {
            data: &data,
            init: &init,
            settings: &settings,
        };
        let net = Network::new(problem);
        let (reference, initial) = net.reference();
        let cells = [CellSpec {
            optimizer: OptimizerKind::Gd,
            alpha: 1.0,
            eta: 0.1,
        }; 3];
        let mut timer = PhaseTimer::start();

        let mut computed = Workspace::new(&net, &cells);
        net.forward_train(&mut computed, &reference, None, &mut timer);
        let mut copied = Workspace::new(&net, &cells);
        net.forward_train(&mut copied, &reference, Some(&initial), &mut timer);

        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&copied.z), bits(&computed.z), "{precision}: sigma");
        assert_eq!(
            bits(&copied.zhat),
            bits(&computed.zhat),
            "{precision}: sigma'"
        );
        assert_eq!(bits(&copied.f), bits(&computed.f), "{precision}: f");
    }
}
