//! Scaled softplus sigma(u) = (a / beta) ln(1 + exp(beta u)) with beta = 5.

use std::fmt;
use std::str::FromStr;

/// Sharpness beta of the scaled softplus.
pub const BETA: f64 = 5.0;

/// Normalization of the activation constant `a` for u ~ N(0, 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActivationNorm {
    /// E[sigma(u)^2] = 1, so the output variance at initialization is 1 (a = 1.40438...).
    SecondMoment,
    /// Var[sigma(u)] = 1 (a = 1.74833...).
    Variance,
}

impl FromStr for ActivationNorm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "second-moment" => Ok(Self::SecondMoment),
            "variance" => Ok(Self::Variance),
            other => Err(format!(
                "invalid activation normalization '{other}': expected 'second-moment' or 'variance'"
            )),
        }
    }
}

impl fmt::Display for ActivationNorm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SecondMoment => "second-moment",
            Self::Variance => "variance",
        })
    }
}

/// The scaled softplus with its constant `a`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Activation {
    pub a: f64,
}

impl Activation {
    /// Builds the activation whose constant satisfies the given normalization.
    pub fn normalized(norm: ActivationNorm) -> Self {
        Self {
            a: activation_constant(norm),
        }
    }

    /// Returns sigma(u).
    pub fn value(&self, u: f64) -> f64 {
        self.a / BETA * softplus(BETA * u)
    }

    /// Returns sigma'(u) = a * logistic(beta u).
    pub fn derivative(&self, u: f64) -> f64 {
        self.a * logistic(BETA * u)
    }

    /// Returns (sigma(u), sigma'(u)) from a single exponential.
    #[inline]
    pub fn value_and_derivative(&self, u: f64) -> (f64, f64) {
        let x = BETA * u;
        let e = (-x.abs()).exp();
        let softplus = x.max(0.0) + e.ln_1p();
        let logistic = if x >= 0.0 {
            1.0 / (1.0 + e)
        } else {
            e / (1.0 + e)
        };
        (self.a / BETA * softplus, self.a * logistic)
    }

    /// Returns sigma(u0 + e) - sigma(u0) without the cancellation of subtracting two values
    /// of sigma, given `s0` = logistic(beta u0).
    ///
    /// sigma(u0 + e) - sigma(u0) = (a / beta) ln(1 + s0 (exp(beta e) - 1)), which ln_1p and
    /// exp_m1 evaluate to a few ulps of the difference itself. For |beta e| > 1 the
    /// difference is at least a fair fraction of sigma, so it is formed directly; that also
    /// avoids exp_m1 overflowing and s0 rounding to 1 when u0 is large.
    #[inline]
    pub fn change(&self, u0: f64, s0: f64, e: f64) -> f64 {
        let x = BETA * e;
        if x.abs() <= 1.0 {
            self.a / BETA * (s0 * x.exp_m1()).ln_1p()
        } else {
            self.value(u0 + e) - self.value(u0)
        }
    }
}

/// Returns ln(1 + exp(x)) without overflow for large x or loss of precision for very negative x.
#[inline]
pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// Returns 1 / (1 + exp(-x)) without overflow.
#[inline]
pub fn logistic(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Computes the constant `a` of the scaled softplus for the given normalization.
///
/// The Gaussian moments E[s(u)] and E[s(u)^2] of s(u) = ln(1 + exp(beta u)) / beta are
/// integrated by composite 20-point Gauss-Legendre quadrature over [-12, 12] in panels of
/// width 1/4. Plain Gauss-Hermite quadrature converges slowly here (about 1e-11 relative
/// error with 300 nodes) because s has complex singularities at distance pi/beta from
/// the real axis. The panels are narrow enough for the composite rule to reach rounding
/// level. The Gaussian tail beyond |u| = 12 weighs less than 1e-30.
pub fn activation_constant(norm: ActivationNorm) -> f64 {
    let (m1, m2) = softplus_gaussian_moments();
    match norm {
        ActivationNorm::SecondMoment => 1.0 / m2.sqrt(),
        ActivationNorm::Variance => 1.0 / (m2 - m1 * m1).sqrt(),
    }
}

/// Returns (E[s(u)], E[s(u)^2]) for u ~ N(0, 1) and s(u) = softplus(beta u) / beta.
fn softplus_gaussian_moments() -> (f64, f64) {
    const HALF_RANGE: f64 = 12.0;
    const PANELS: usize = 96;

    let (nodes, weights) = gauss_legendre(20);
    let width = 2.0 * HALF_RANGE / PANELS as f64;
    let norm = 1.0 / (2.0 * std::f64::consts::PI).sqrt();

    let mut m1 = 0.0;
    let mut m2 = 0.0;
    for panel in 0..PANELS {
        let center = -HALF_RANGE + (panel as f64 + 0.5) * width;
        for (&x, &w) in nodes.iter().zip(&weights) {
            let u = center + 0.5 * width * x;
            let density = norm * (-0.5 * u * u).exp() * 0.5 * width * w;
            let s = softplus(BETA * u) / BETA;
            m1 += density * s;
            m2 += density * s * s;
        }
    }
    (m1, m2)
}

/// Returns the nodes and weights of n-point Gauss-Legendre quadrature on [-1, 1].
///
/// Nodes are the roots of the Legendre polynomial P_n, found by Newton's method from
/// the Chebyshev-like guess cos(pi (i + 3/4) / (n + 1/2)).
pub fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut nodes = vec![0.0; n];
    let mut weights = vec![0.0; n];
    for i in 0..n.div_ceil(2) {
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut derivative = 0.0;
        for _ in 0..100 {
            let (p, dp) = legendre_with_derivative(n, x);
            derivative = dp;
            let step = p / dp;
            x -= step;
            if step.abs() < 1e-16 {
                let (_, dp) = legendre_with_derivative(n, x);
                derivative = dp;
                break;
            }
        }
        let w = 2.0 / ((1.0 - x * x) * derivative * derivative);
        nodes[i] = -x;
        nodes[n - 1 - i] = x;
        weights[i] = w;
        weights[n - 1 - i] = w;
    }
    (nodes, weights)
}

/// Returns (P_n(x), P_n'(x)) by the three-term recurrence.
fn legendre_with_derivative(n: usize, x: f64) -> (f64, f64) {
    let mut p_prev = 1.0;
    let mut p = x;
    for k in 2..=n {
        let k = k as f64;
        let p_next = ((2.0 * k - 1.0) * x * p - (k - 1.0) * p_prev) / k;
        p_prev = p;
        p = p_next;
    }
    let n = n as f64;
    (p, n * (x * p - p_prev) / (x * x - 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_integrates_polynomials() {
        let (x, w) = gauss_legendre(20);
        // A 20-point rule is exact for degree 39; the integral of u^38 over [-1, 1] is 2/39.
        let integral: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(38)).sum();
        assert!((integral - 2.0 / 39.0).abs() < 1e-14, "{integral}");
        let total: f64 = w.iter().sum();
        assert!((total - 2.0).abs() < 1e-14);
    }

    #[test]
    fn softplus_is_stable_at_extremes() {
        assert_eq!(softplus(1000.0), 1000.0);
        assert!(softplus(-1000.0) >= 0.0);
        assert!((softplus(-40.0) - (-40.0f64).exp()).abs() < 1e-30);
        assert!((softplus(0.0) - 2f64.ln()).abs() < 1e-16);
        assert_eq!(logistic(-1000.0), 0.0);
        assert_eq!(logistic(1000.0), 1.0);
    }

    #[test]
    fn value_and_derivative_match_separate_forms() {
        let act = Activation { a: 1.3 };
        for &u in &[-30.0, -2.5, -0.1, 0.0, 0.3, 4.0, 250.0] {
            let (v, d) = act.value_and_derivative(u);
            assert_eq!(v, act.value(u), "value at {u}");
            assert!(
                (d - act.derivative(u)).abs() <= 1e-16 * act.a,
                "derivative at {u}"
            );
        }
    }
}
