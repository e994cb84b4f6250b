//! Full-batch optimizers: gradient descent, RMSProp and Adam, each with an alpha-folded
//! ("modified") variant that accumulates the second moment from (alpha G)^2.
//!
//! With the loss scaled by alpha^-2 the gradient G is O(1/alpha), so plain RMSProp's second
//! moment v is O(1/alpha^2) and its step stops depending on alpha while sqrt(v) >> eps.
//! Folding alpha into v makes v independent of alpha (Kanoh and Sugiyama, arXiv:2103.03466,
//! Algorithm 1). At alpha = 1 the modified rules are the plain ones.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The update rule of one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    Gd,
    Rmsprop,
    ModifiedRmsprop,
    Adam,
    ModifiedAdam,
}

impl OptimizerKind {
    pub const ALL: [OptimizerKind; 5] = [
        Self::Gd,
        Self::Rmsprop,
        Self::ModifiedRmsprop,
        Self::Adam,
        Self::ModifiedAdam,
    ];

    /// Returns the command-line name, such as `modified-rmsprop`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gd => "gd",
            Self::Rmsprop => "rmsprop",
            Self::ModifiedRmsprop => "modified-rmsprop",
            Self::Adam => "adam",
            Self::ModifiedAdam => "modified-adam",
        }
    }

    /// Returns whether the rule keeps a second moment v.
    pub fn uses_second_moment(self) -> bool {
        self != Self::Gd
    }

    /// Returns whether the rule keeps a first moment m (Adam's momentum).
    pub fn uses_first_moment(self) -> bool {
        matches!(self, Self::Adam | Self::ModifiedAdam)
    }

    /// Returns the factor that multiplies G before it is squared into v.
    pub fn fold(self, alpha: f64) -> f64 {
        match self {
            Self::ModifiedRmsprop | Self::ModifiedAdam => alpha,
            _ => 1.0,
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OptimizerKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|kind| kind.name()).collect();
                format!(
                    "unknown optimizer '{s}': expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// Position of eps in the denominator of the adaptive step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EpsPlacement {
    /// eta G / (sqrt(v) + eps), the usual convention (PyTorch, the paper's equation 7).
    Outside,
    /// eta G / sqrt(v + eps), as written in the paper's Algorithm 1.
    Inside,
}

impl FromStr for EpsPlacement {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "outside" => Ok(Self::Outside),
            "inside" => Ok(Self::Inside),
            other => Err(format!(
                "invalid eps placement '{other}': expected 'outside' (sqrt(v) + eps) or \
                 'inside' (sqrt(v + eps))"
            )),
        }
    }
}

impl fmt::Display for EpsPlacement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Outside => "outside",
            Self::Inside => "inside",
        })
    }
}

/// Hyperparameters shared by every cell of a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OptimizerSettings {
    /// Decay of RMSProp's second moment.
    pub rho: f64,
    pub eps: f64,
    pub eps_placement: EpsPlacement,
    /// Decay of Adam's first moment.
    pub adam_beta1: f64,
    /// Decay of Adam's second moment.
    pub adam_beta2: f64,
}

impl Default for OptimizerSettings {
    fn default() -> Self {
        Self {
            rho: 0.999,
            eps: 1e-8,
            eps_placement: EpsPlacement::Outside,
            adam_beta1: 0.9,
            adam_beta2: 0.999,
        }
    }
}

/// The update of one cell at one step, with every constant resolved.
#[derive(Debug, Clone, Copy)]
pub struct Update {
    pub kind: OptimizerKind,
    pub eta: f64,
    pub fold: f64,
    /// Decay of v: rho for RMSProp, beta2 for Adam.
    pub decay_v: f64,
    pub decay_m: f64,
    /// Multiplies m before use: 1 / (1 - beta1^(t+1)) for Adam, else 1.
    pub m_correction: f64,
    /// Multiplies v before use: 1 / (1 - beta2^(t+1)) for Adam, else 1.
    pub v_correction: f64,
    pub eps: f64,
    pub eps_placement: EpsPlacement,
}

impl Update {
    /// Resolves the update for `step` (0-based) of a cell with the given alpha and eta.
    pub fn new(
        kind: OptimizerKind,
        eta: f64,
        alpha: f64,
        settings: &OptimizerSettings,
        step: u64,
    ) -> Self {
        let adam = kind.uses_first_moment();
        let power = i32::try_from(step + 1).unwrap_or(i32::MAX);
        let (decay_v, m_correction, v_correction) = if adam {
            (
                settings.adam_beta2,
                1.0 / (1.0 - settings.adam_beta1.powi(power)),
                1.0 / (1.0 - settings.adam_beta2.powi(power)),
            )
        } else {
            (settings.rho, 1.0, 1.0)
        };
        Self {
            kind,
            eta,
            fold: kind.fold(alpha),
            decay_v,
            decay_m: settings.adam_beta1,
            m_correction,
            v_correction,
            eps: settings.eps,
            eps_placement: settings.eps_placement,
        }
    }

    /// Applies the update to `theta` in place and returns whether every new value is finite.
    ///
    /// `v` and `m` are the optimizer's moments for these parameters; they may be empty when
    /// the rule does not use them.
    pub fn apply(&self, theta: &mut [f64], grad: &[f64], v: &mut [f64], m: &mut [f64]) -> bool {
        self.step::<false>(theta, grad, v, m).finite
    }

    /// Applies the update like [`Update::apply`] and also measures how much of it rounding
    /// lost. The new values are bit-identical to those of `apply`.
    pub fn apply_measured(
        &self,
        theta: &mut [f64],
        grad: &[f64],
        v: &mut [f64],
        m: &mut [f64],
    ) -> Applied {
        self.step::<true>(theta, grad, v, m)
    }

    fn step<const MEASURE: bool>(
        &self,
        theta: &mut [f64],
        grad: &[f64],
        v: &mut [f64],
        m: &mut [f64],
    ) -> Applied {
        assert_eq!(theta.len(), grad.len());
        let mut applied = Applied {
            finite: true,
            intended: 0.0,
            lost: 0.0,
        };
        let mut subtract = |t: &mut f64, u: f64| {
            let old = *t;
            *t = old - u;
            applied.finite &= t.is_finite();
            if MEASURE {
                // new - old is exact while |u| <= |old| (Sterbenz), so this is the rounding
                // error of old - u up to a relative 2^-53 of it.
                applied.intended += u.abs();
                applied.lost += ((*t - old) + u).abs();
            }
        };
        match self.kind {
            OptimizerKind::Gd => {
                for (t, &g) in theta.iter_mut().zip(grad) {
                    subtract(t, self.eta * g);
                }
            }
            OptimizerKind::Rmsprop | OptimizerKind::ModifiedRmsprop => {
                assert_eq!(v.len(), theta.len());
                let keep = 1.0 - self.decay_v;
                for ((t, &g), v) in theta.iter_mut().zip(grad).zip(v.iter_mut()) {
                    let folded = self.fold * g;
                    *v = self.decay_v * *v + keep * (folded * folded);
                    subtract(t, self.eta * g / self.denominator(*v));
                }
            }
            OptimizerKind::Adam | OptimizerKind::ModifiedAdam => {
                assert_eq!(v.len(), theta.len());
                assert_eq!(m.len(), theta.len());
                let keep_v = 1.0 - self.decay_v;
                let keep_m = 1.0 - self.decay_m;
                let moments = v.iter_mut().zip(m.iter_mut());
                for ((t, &g), (v, m)) in theta.iter_mut().zip(grad).zip(moments) {
                    let folded = self.fold * g;
                    *m = self.decay_m * *m + keep_m * g;
                    *v = self.decay_v * *v + keep_v * (folded * folded);
                    let m_hat = *m * self.m_correction;
                    let v_hat = *v * self.v_correction;
                    subtract(t, self.eta * m_hat / self.denominator(v_hat));
                }
            }
        }
        applied
    }

    #[inline]
    fn denominator(&self, v: f64) -> f64 {
        match self.eps_placement {
            EpsPlacement::Outside => v.sqrt() + self.eps,
            EpsPlacement::Inside => (v + self.eps).sqrt(),
        }
    }
}

/// Outcome of applying an update to a block of parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Applied {
    /// Whether every new value is finite.
    pub finite: bool,
    /// Sum of |u| over the block, where u is the exact update; zero unless measured.
    pub intended: f64,
    /// Sum of |fl(theta - u) - (theta - u)|: the part of the update lost to rounding.
    pub lost: f64,
}

impl Applied {
    /// Combines the measurements of two blocks.
    pub fn merge(self, other: Applied) -> Applied {
        Applied {
            finite: self.finite && other.finite,
            intended: self.intended + other.intended,
            lost: self.lost + other.lost,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimizer_names_round_trip() {
        for kind in OptimizerKind::ALL {
            assert_eq!(kind.name().parse::<OptimizerKind>(), Ok(kind));
        }
        let err = "sgd".parse::<OptimizerKind>().unwrap_err();
        assert!(err.contains("modified-rmsprop"), "{err}");
    }

    #[test]
    fn first_rmsprop_step_is_sign_step() {
        // With v_0 = 0, v_1 = (1 - rho) G^2, so the step is eta / sqrt(1 - rho) * sign(G)
        // up to eps.
        let settings = OptimizerSettings {
            eps: 0.0,
            ..Default::default()
        };
        let update = Update::new(OptimizerKind::Rmsprop, 0.01, 3.0, &settings, 0);
        let mut theta = [1.0, 1.0];
        let mut v = [0.0, 0.0];
        assert!(update.apply(&mut theta, &[2.0, -5.0], &mut v, &mut []));
        let step = 0.01 / (1.0f64 - 0.999).sqrt();
        assert!((theta[0] - (1.0 - step)).abs() < 1e-15);
        assert!((theta[1] - (1.0 + step)).abs() < 1e-15);
    }

    #[test]
    fn adam_bias_correction_first_step() {
        // After one step m_hat = G and v_hat = (fold G)^2, so the step is eta / fold.
        let settings = OptimizerSettings {
            eps: 0.0,
            ..Default::default()
        };
        let update = Update::new(OptimizerKind::ModifiedAdam, 0.5, 4.0, &settings, 0);
        let mut theta = [0.0];
        let (mut v, mut m) = ([0.0], [0.0]);
        assert!(update.apply(&mut theta, &[0.3], &mut v, &mut m));
        assert!((theta[0] + 0.5 / 4.0).abs() < 1e-15, "{}", theta[0]);
    }

    #[test]
    fn non_finite_update_is_reported() {
        let settings = OptimizerSettings::default();
        let update = Update::new(OptimizerKind::Gd, 1.0, 1.0, &settings, 0);
        let mut theta = [0.0, 1.0];
        assert!(!update.apply(&mut theta, &[f64::INFINITY, 0.0], &mut [], &mut []));
    }

    #[test]
    fn measured_update_matches_plain_update() {
        let settings = OptimizerSettings::default();
        let grad = [0.25, -3.0, 1e-3];
        for kind in OptimizerKind::ALL {
            let update = Update::new(kind, 0.1, 7.0, &settings, 3);
            let (mut plain, mut measured) = ([1.0, -2.0, 0.5], [1.0, -2.0, 0.5]);
            let (mut v1, mut m1, mut v2, mut m2) = ([0.1; 3], [0.2; 3], [0.1; 3], [0.2; 3]);
            assert!(update.apply(&mut plain, &grad, &mut v1, &mut m1));
            let applied = update.apply_measured(&mut measured, &grad, &mut v2, &mut m2);
            assert!(applied.finite);
            assert_eq!(
                plain.map(f64::to_bits),
                measured.map(f64::to_bits),
                "{kind}"
            );
            assert!(applied.intended > 0.0, "{kind}");
        }
    }

    #[test]
    fn update_below_resolution_is_lost() {
        let settings = OptimizerSettings::default();
        // u = 1e-17 against theta = 1: fl(1 - 1e-17) = 1, so all of it is lost.
        let update = Update::new(OptimizerKind::Gd, 1e-17, 1.0, &settings, 0);
        let mut theta = [1.0];
        let applied = update.apply_measured(&mut theta, &[1.0], &mut [], &mut []);
        assert_eq!(theta[0], 1.0);
        assert_eq!(applied.lost, applied.intended);

        // 1 - 0.25 = 0.75 is exact in binary, so nothing is lost.
        let update = Update::new(OptimizerKind::Gd, 0.25, 1.0, &settings, 0);
        let applied = update.apply_measured(&mut theta, &[1.0], &mut [], &mut []);
        assert_eq!(theta[0], 0.75);
        assert_eq!(applied.lost, 0.0);
    }
}
