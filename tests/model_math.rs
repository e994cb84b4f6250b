//! The model's closed forms and gradients, checked against independent computations.

mod common;

use lazysweep::cpu::{CpuEngine, loss_and_gradient};
use lazysweep::engine::{CellSpec, Engine, Problem};
use lazysweep::model::activation::activation_constant;
use lazysweep::model::loss::initial_loss;
use lazysweep::model::{ActivationNorm, CLASSES};
use lazysweep::optim::OptimizerKind;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Values of a from mpmath.quad at 30 significant digits:
/// 1 / sqrt(E[s(u)^2]) and 1 / sqrt(Var[s(u)]) for s(u) = ln(1 + exp(5u)) / 5, u ~ N(0, 1).
const A_SECOND_MOMENT: f64 = 1.404_383_347_631_872_493_221_989_240_27;
const A_VARIANCE: f64 = 1.748_328_402_246_497_070_222_666_402_52;

#[test]
fn activation_constant_matches_high_precision_integral() {
    let second = activation_constant(ActivationNorm::SecondMoment);
    let variance = activation_constant(ActivationNorm::Variance);
    assert!(
        (second - A_SECOND_MOMENT).abs() <= 1e-12 * A_SECOND_MOMENT,
        "{second}"
    );
    assert!(
        (variance - A_VARIANCE).abs() <= 1e-12 * A_VARIANCE,
        "{variance}"
    );
}

#[test]
fn loss_at_initialization_is_closed_form() {
    let (n, d, hidden) = (37, 11, 6);
    let data = common::synthetic(n, 5, d, 1);
    let init = common::init(d, hidden, 2);
    let settings = common::settings(0);
    let problem = Problem {
        data: &data,
        init: &init,
        settings: &settings,
    };

    for alpha in [1e-4, 0.3, 1.0, 7.5, 1e4] {
        // 10 ln(1 + e^20) / (20 alpha^2), with ln(1 + e^20) = 20 + ln(1 + e^-20).
        let expected = 10.0 * (20.0 + (-20.0f64).exp().ln_1p()) / (20.0 * alpha * alpha);
        assert_eq!(initial_loss(alpha, CLASSES).to_bits(), expected.to_bits());

        let cells = [CellSpec {
            optimizer: OptimizerKind::Gd,
            alpha,
            eta: 1.0,
        }];
        let outcome = CpuEngine::new()
            .train(problem, &cells, &mut |_| {})
            .unwrap();
        let loss = outcome[0].losses[0];
        // The sum of n * classes equal terms rounds at most once per term.
        let bound = (n * CLASSES) as f64 * f64::EPSILON * expected;
        assert!(
            (loss - expected).abs() <= bound,
            "alpha {alpha}: {loss} vs {expected}"
        );
    }
}

#[test]
fn gradient_matches_finite_differences() {
    let (n, d, hidden) = (23, 9, 7);
    let data = common::synthetic(n, 4, d, 3);
    let init = common::init(d, hidden, 4);
    let settings = common::settings(1);
    let problem = Problem {
        data: &data,
        init: &init,
        settings: &settings,
    };

    // Move away from theta_0 so that F != 0 and every term of the gradient contributes.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let w0: Vec<f64> = init
        .w0
        .iter()
        .map(|w| w + 0.3 * rng.gen_range(-1.0..1.0))
        .collect();
    let w1: Vec<f64> = init
        .w1
        .iter()
        .map(|w| w + 0.3 * rng.gen_range(-1.0..1.0))
        .collect();

    for alpha in [0.01, 0.5, 1.0, 20.0] {
        let cell = CellSpec {
            optimizer: OptimizerKind::Gd,
            alpha,
            eta: 1.0,
        };
        let grad = loss_and_gradient(problem, cell, &w0, &w1).unwrap();
        let loss_at =
            |w0: &[f64], w1: &[f64]| loss_and_gradient(problem, cell, w0, w1).unwrap().loss;

        let step = 1e-6;
        let scale = grad
            .w0
            .iter()
            .chain(&grad.w1)
            .fold(0.0f64, |m, g| m.max(g.abs()));
        let check = |analytic: f64, plus: f64, minus: f64, what: String| {
            let numeric = (plus - minus) / (2.0 * step);
            // Central differences: O(step^2) truncation plus rounding of L / step.
            let tolerance = 1e-6 * scale + f64::EPSILON * grad.loss.abs() / step;
            assert!(
                (numeric - analytic).abs() <= tolerance,
                "alpha {alpha}, {what}: numeric {numeric}, analytic {analytic}, tolerance {tolerance}"
            );
        };

        for i in (0..w0.len()).step_by(5) {
            let mut plus = w0.clone();
            let mut minus = w0.clone();
            plus[i] += step;
            minus[i] -= step;
            check(
                grad.w0[i],
                loss_at(&plus, &w1),
                loss_at(&minus, &w1),
                format!("dW0[{i}]"),
            );
        }
        for i in (0..w1.len()).step_by(3) {
            let mut plus = w1.clone();
            let mut minus = w1.clone();
            plus[i] += step;
            minus[i] -= step;
            check(
                grad.w1[i],
                loss_at(&w0, &plus),
                loss_at(&w0, &minus),
                format!("dW1[{i}]"),
            );
        }
    }
}
