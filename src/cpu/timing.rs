//! Wall-clock time per phase of a training batch, summed over its steps for the debug log.

use std::fmt;
use std::time::{Duration, Instant};

/// A phase of a batch. Reference and allocation run once per batch, evaluation once at
/// the end, and the others once per forward or backward pass.
#[derive(Debug, Clone, Copy)]
pub(super) enum Phase {
    /// f(theta_0, x) on both sets.
    Reference,
    /// Workspace buffers and the per-cell copies of theta_0.
    Allocation,
    /// The product X [W0_1; ...; W0_K]^T.
    ForwardGemm,
    /// sigma and sigma' of every hidden pre-activation.
    Activation,
    /// f = h^-1/2 sigma(zhat) W1^T per cell.
    OutputLayer,
    /// Loss, dL/df and training accuracy per cell.
    Loss,
    /// dL/dW1 per cell.
    Dw1,
    /// Delta = (h^-1/2 g W1) * sigma'(zhat).
    Delta,
    /// The product [Delta_1 ... Delta_K]^T X.
    BackwardGemm,
    /// Optimizer update of W0 and W1.
    Update,
    /// Test metrics and parameter changes at theta_T.
    Evaluate,
}

const PHASES: [(Phase, &str); 11] = [
    (Phase::Reference, "reference"),
    (Phase::Allocation, "allocation"),
    (Phase::ForwardGemm, "forward gemm"),
    (Phase::Activation, "activation"),
    (Phase::OutputLayer, "output layer"),
    (Phase::Loss, "loss"),
    (Phase::Dw1, "dW1"),
    (Phase::Delta, "delta"),
    (Phase::BackwardGemm, "backward gemm"),
    (Phase::Update, "update"),
    (Phase::Evaluate, "evaluate"),
];

/// Accumulates the time between consecutive laps into the phase named at each lap.
pub(super) struct PhaseTimer {
    totals: [Duration; PHASES.len()],
    last: Instant,
}

impl PhaseTimer {
    pub fn start() -> Self {
        Self {
            totals: [Duration::ZERO; PHASES.len()],
            last: Instant::now(),
        }
    }

    /// Adds the time since the previous lap (or the start) to `phase`.
    pub fn lap(&mut self, phase: Phase) {
        let now = Instant::now();
        self.totals[phase as usize] += now - self.last;
        self.last = now;
    }

    pub fn total(&self) -> Duration {
        self.totals.iter().sum()
    }
}

impl fmt::Display for PhaseTimer {
    /// Writes "name seconds" for every phase that took any time, in the order of a step.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (phase, name) in PHASES {
            let time = self.totals[phase as usize];
            if time.is_zero() {
                continue;
            }
            if !first {
                f.write_str(", ")?;
            }
            write!(f, "{name} {:.3} s", time.as_secs_f64())?;
            first = false;
        }
        Ok(())
    }
}
