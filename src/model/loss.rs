//! Soft hinge loss l(F, y) = ln(1 + exp(beta_l (1 - F y))) / beta_l with beta_l = 20.

use super::activation::{logistic, softplus};

/// Sharpness beta_l of the soft hinge.
pub const BETA_LOSS: f64 = 20.0;

/// Returns l(F, y) for a target y of +1 or -1.
#[inline]
pub fn soft_hinge(output: f64, target: f64) -> f64 {
    softplus(BETA_LOSS * (1.0 - output * target)) / BETA_LOSS
}

/// Returns dl/dF = -y * logistic(beta_l (1 - F y)).
#[inline]
pub fn soft_hinge_derivative(output: f64, target: f64) -> f64 {
    -target * logistic(BETA_LOSS * (1.0 - output * target))
}

/// Returns l(F, y) - l(0, y) without the cancellation of subtracting two losses.
///
/// With s = logistic(beta_l), l(F, y) - l(0, y) = ln(1 + s (exp(-beta_l F y) - 1)) / beta_l,
/// which ln_1p and exp_m1 evaluate to a few ulps of the difference itself. For
/// |beta_l F| > 1 the difference is a fair fraction of the loss and is formed directly.
#[inline]
pub fn soft_hinge_change(output: f64, target: f64) -> f64 {
    let x = -BETA_LOSS * output * target;
    if x.abs() <= 1.0 {
        (logistic(BETA_LOSS) * x.exp_m1()).ln_1p() / BETA_LOSS
    } else {
        soft_hinge(output, target) - soft_hinge(0.0, target)
    }
}

/// Returns the target +1 for the true class and -1 for the others.
#[inline]
pub fn target(label: u8, class: usize) -> f64 {
    if label as usize == class { 1.0 } else { -1.0 }
}

/// Returns the loss per sample at theta_0, where F = 0 for every output:
/// classes * ln(1 + e^beta_l) / (beta_l alpha^2).
pub fn initial_loss(alpha: f64, classes: usize) -> f64 {
    classes as f64 * softplus(BETA_LOSS) / (BETA_LOSS * alpha * alpha)
}
