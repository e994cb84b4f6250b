//! The float64 CPU engine: the reference every other engine is checked against.
//!
//! All cells of a batch share the training inputs X (n x d), so the hidden pre-activations
//! of every cell come from one product X [W0_1; ...; W0_K]^T, and the W0 gradients of
//! every cell from one product [Delta_1 ... Delta_K]^T X. The per-cell work in between
//! (output layer, loss, W1 gradient, optimizer update) is small by comparison.

pub mod gemm;
mod math;
mod network;
mod timing;

use log::debug;
use rayon::prelude::*;

use crate::engine::{
    CellOutcome, CellSpec, Engine, EngineError, EngineEvent, Precision, Problem, measured_step,
    validate_batch,
};
use crate::model::CLASSES;
use crate::optim::{Applied, Update};

use network::{Network, Workspace};
use timing::{Phase, PhaseTimer};

/// The float64 CPU engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuEngine;

impl CpuEngine {
    pub fn new() -> Self {
        Self
    }

    /// Estimates the bytes a batch of `cells` cells needs beyond the data itself.
    pub fn batch_bytes(n_train: usize, d: usize, hidden: usize, cells: usize) -> usize {
        // zhat (which becomes sigma' and then Delta in place) and sigma(zhat).
        let activations = 2 * n_train * hidden * cells;
        // W0, its gradient and up to two moments per cell.
        let parameters = 4 * hidden * d * cells + 6 * CLASSES * hidden * cells;
        8 * (activations + parameters)
    }
}

impl Engine for CpuEngine {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn default_precision(&self) -> Precision {
        Precision::F64
    }

    fn precision(&self, mode: Precision) -> Result<&'static str, EngineError> {
        match mode {
            Precision::F64 => Ok("float64"),
            Precision::Offset => Ok("offset-float64"),
            Precision::F32 | Precision::Df64 => Err(EngineError::UnsupportedPrecision {
                engine: "cpu",
                precision: mode,
                hint: "the CPU engine computes in float64: use --precision f64 or offset, or \
                       --backend gpu for f32 and df64",
            }),
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
        let mut timer = PhaseTimer::start();
        let net = Network::new(problem);
        let (reference, initial) = net.reference();
        let mut initial = Some(initial);
        timer.lap(Phase::Reference);
        debug!(
            "cpu: batch of {} cells, n = {}, d = {}, hidden = {}",
            cells.len(),
            net.n,
            net.d,
            net.hidden,
        );

        let mut ws = Workspace::new(&net, cells);
        timer.lap(Phase::Allocation);
        let mut outcomes: Vec<Option<CellOutcome>> = vec![None; cells.len()];
        let steps = problem.settings.steps;

        for t in 0..=steps {
            let active = ws.slots.len();
            if active == 0 {
                break;
            }

            // Every cell is at theta_0 at step 0, whose forward pass the reference has done.
            // The copy is dropped afterwards, which frees 2 n hidden floats.
            net.forward_train(&mut ws, &reference, initial.take().as_ref(), &mut timer);
            let mut bad = net.loss_and_output_gradient(&mut ws, &reference, cells, t);
            timer.lap(Phase::Loss);

            if t == steps {
                // theta_T is reached: only the metrics remain.
                for s in (0..ws.slots.len()).rev() {
                    if bad.contains(&s) {
                        finish_diverged(&mut ws, s, t, cells, &mut outcomes, on_event);
                    }
                }
                break;
            }

            net.backward(&mut ws, &bad, &mut timer);
            let non_finite = update_all(&mut ws, &net, cells, problem, t, &bad);
            timer.lap(Phase::Update);

            for &s in &non_finite {
                ws.slots[s].last_loss = f64::NAN;
            }
            bad.extend(non_finite.iter().copied());
            bad.sort_unstable();
            bad.dedup();
            for &s in bad.iter().rev() {
                let step = if non_finite.contains(&s) { t + 1 } else { t };
                finish_diverged(&mut ws, s, step, cells, &mut outcomes, on_event);
            }
            on_event(EngineEvent::Step { active });
        }

        let finished = net.evaluate(&mut ws, &reference, steps);
        timer.lap(Phase::Evaluate);
        debug!(
            "cpu: batch trained in {:.3} s: {timer}",
            timer.total().as_secs_f64()
        );
        for (cell, outcome) in finished {
            on_event(EngineEvent::CellFinished {
                index: cell,
                outcome: &outcome,
            });
            outcomes[cell] = Some(outcome);
        }

        Ok(outcomes
            .into_iter()
            .map(|outcome| outcome.expect("every cell finishes or diverges"))
            .collect())
    }
}

/// Loss and gradient of one cell at arbitrary parameters.
#[derive(Debug, Clone)]
pub struct Gradient {
    pub loss: f64,
    /// dL/dW0, hidden x d, row-major.
    pub w0: Vec<f64>,
    /// dL/dW1, classes x hidden, row-major.
    pub w1: Vec<f64>,
}

/// Computes L(theta) and its gradient for one cell at theta = (w0, w1), with the output
/// shifted by f(theta_0, x) for the theta_0 of `problem`. In the offset formulation, w0
/// and w1 are the changes theta - theta_0. The engine's own forward and
/// backward passes do the work, so this is what tests compare with finite differences.
pub fn loss_and_gradient(
    problem: Problem<'_>,
    cell: CellSpec,
    w0: &[f64],
    w1: &[f64],
) -> Result<Gradient, EngineError> {
    validate_batch(problem, &[cell])?;
    CpuEngine.precision(problem.settings.precision)?;
    let net = Network::new(problem);
    let (reference, _) = net.reference();
    let mut ws = Workspace::new(&net, &[cell]);
    ws.w0_stack.copy_from_slice(w0);
    ws.slots[0].w1.copy_from_slice(w1);

    let mut timer = PhaseTimer::start();
    // The parameters are not theta_0, so the forward pass runs in full.
    net.forward_train(&mut ws, &reference, None, &mut timer);
    net.loss_and_output_gradient(&mut ws, &reference, &[cell], 0);
    net.backward(&mut ws, &[], &mut timer);
    Ok(Gradient {
        loss: ws.slots[0].last_loss,
        w0: ws.dw0_stack.clone(),
        w1: ws.slots[0].dw1.clone(),
    })
}

/// Records a diverged cell's outcome and removes its slot from the batch.
fn finish_diverged(
    ws: &mut Workspace,
    s: usize,
    step: u64,
    cells: &[CellSpec],
    outcomes: &mut [Option<CellOutcome>],
    on_event: &mut dyn FnMut(EngineEvent<'_>),
) {
    let slot = ws.remove_slot(s);
    let cell = slot.cell;
    let lost_update = slot.lost_update();
    log::debug!(
        "{} alpha = {:e}, eta = {:e} diverged at step {step}",
        cells[cell].optimizer,
        cells[cell].alpha,
        cells[cell].eta
    );
    let outcome = CellOutcome {
        steps_run: step,
        diverged_step: Some(step),
        final_loss: slot.last_loss,
        train_acc: f64::NAN,
        test_acc: f64::NAN,
        sign_consistency: f64::NAN,
        rel_change_w0: f64::NAN,
        rel_change_w1: f64::NAN,
        losses: slot.losses,
        loss_changes: slot.loss_changes,
        output_changes: Vec::new(),
        lost_update,
        cancellation: f64::NAN,
    };
    on_event(EngineEvent::CellFinished {
        index: cell,
        outcome: &outcome,
    });
    outcomes[cell] = Some(outcome);
}

/// Applies the optimizer update of step `t` to every slot not in `skip`, and returns the
/// slots whose new parameters contain a non-finite value. At the steps that
/// [`measured_step`] names, it also adds the magnitudes of each slot's update and of the part that
/// rounding lost to the slot's sums.
fn update_all(
    ws: &mut Workspace,
    net: &Network<'_>,
    cells: &[CellSpec],
    problem: Problem<'_>,
    t: u64,
    skip: &[usize],
) -> Vec<usize> {
    let block = net.hidden * net.d;
    let settings = &problem.settings.optimizer;
    let measure = measured_step(t, problem.settings.steps);
    let mut non_finite = Vec::new();

    for s in 0..ws.slots.len() {
        if skip.contains(&s) {
            continue;
        }
        let slot = &mut ws.slots[s];
        let cell = cells[slot.cell];
        let update = Update::new(cell.optimizer, cell.eta, cell.alpha, settings, t);
        let w0 = &mut ws.w0_stack[s * block..(s + 1) * block];
        let g0 = &ws.dw0_stack[s * block..(s + 1) * block];

        let applied_w0 = apply_parallel(&update, measure, w0, g0, &mut slot.v0, &mut slot.m0);
        let applied_w1 = apply_block(
            &update,
            measure,
            &mut slot.w1,
            &slot.dw1,
            &mut slot.v1,
            &mut slot.m1,
        );
        let applied = applied_w0.merge(applied_w1);
        if !applied.finite {
            non_finite.push(s);
        }
        if measure {
            slot.lost_sum += applied.lost;
            slot.intended_sum += applied.intended;
        }
        if !slot.w1_total.is_empty() {
            for ((total, &start), &delta) in
                slot.w1_total.iter_mut().zip(net.init_w1()).zip(&slot.w1)
            {
                *total = start + delta;
            }
        }
    }
    non_finite
}

/// Applies `update` to one block, measuring the rounding when `measure` is set.
fn apply_block(
    update: &Update,
    measure: bool,
    theta: &mut [f64],
    grad: &[f64],
    v: &mut [f64],
    m: &mut [f64],
) -> Applied {
    if measure {
        update.apply_measured(theta, grad, v, m)
    } else {
        let finite = update.apply(theta, grad, v, m);
        Applied {
            finite,
            intended: 0.0,
            lost: 0.0,
        }
    }
}

/// Applies `update` to a large block in parallel chunks. Empty moments stay empty in every
/// chunk, as the rules that do not use them expect.
fn apply_parallel(
    update: &Update,
    measure: bool,
    theta: &mut [f64],
    grad: &[f64],
    v: &mut [f64],
    m: &mut [f64],
) -> Applied {
    const CHUNK: usize = 1 << 14;
    fn moment_chunks(moment: &mut [f64], chunks: usize) -> Vec<&mut [f64]> {
        if moment.is_empty() {
            (0..chunks).map(|_| &mut [][..]).collect()
        } else {
            moment.chunks_mut(CHUNK).collect()
        }
    }
    let chunks = theta.len().div_ceil(CHUNK);
    let (v_chunks, m_chunks) = (moment_chunks(v, chunks), moment_chunks(m, chunks));
    theta
        .par_chunks_mut(CHUNK)
        .zip(grad.par_chunks(CHUNK))
        .zip(v_chunks.into_par_iter().zip(m_chunks.into_par_iter()))
        .map(|((w, g), (v, m))| apply_block(update, measure, w, g, v, m))
        .collect::<Vec<_>>()
        .into_iter()
        // Merged in chunk order, so the sums do not depend on how rayon splits the work.
        .fold(
            Applied {
                finite: true,
                intended: 0.0,
                lost: 0.0,
            },
            Applied::merge,
        )
}
