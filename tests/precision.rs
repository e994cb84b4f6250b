//! The offset formulation and the rounding measures of the float64 CPU engine, checked
//! against the plain formulation, closed forms and first-order expansions.

mod common;

use common::{Fixture, cell};

use lazysweep::cpu::{CpuEngine, loss_and_gradient};
use lazysweep::engine::{CellOutcome, CellSpec, Engine, Precision, TrainSettings, is_trusted};
use lazysweep::model::activation::{BETA, logistic};
use lazysweep::model::loss::{BETA_LOSS, soft_hinge, soft_hinge_change};
use lazysweep::model::{Activation, ActivationNorm};
use lazysweep::optim::OptimizerKind::*;

/// 48 training and 40 test samples, d = 15, hidden = 11.
fn fixture(steps: u64) -> Fixture {
    Fixture::new(48, 40, 15, 11, 5, steps)
}

fn train(fixture: &Fixture, precision: Precision, cells: &[CellSpec]) -> Vec<CellOutcome> {
    let settings = TrainSettings {
        precision,
        ..fixture.settings.clone()
    };
    let problem = lazysweep::engine::Problem {
        settings: &settings,
        ..fixture.problem()
    };
    CpuEngine::new().train(problem, cells, &mut |_| {}).unwrap()
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
}

#[test]
fn activation_change_matches_taylor_series() {
    let activation = Activation::normalized(ActivationNorm::SecondMoment);
    for u0 in [-3.0, -0.4, 0.0, 0.7, 2.5, 9.0] {
        let s0 = logistic(BETA * u0);
        for e in [1e-15, -3e-12, 2e-9, -1e-6] {
            // The derivatives of sigma are a s, a beta s (1 - s) and a beta^2 s (1 - s)
            // (1 - 2 s). The quartic term is below beta^3 e^3 / 24 ~ 1e-17 of the result for
            // |e| <= 1e-6.
            let (a, b, s) = (activation.a, BETA, s0);
            let taylor = a * s * e
                + a * b * s * (1.0 - s) * e * e / 2.0
                + a * b * b * s * (1.0 - s) * (1.0 - 2.0 * s) * e * e * e / 6.0;
            let change = activation.change(u0, s0, e);
            assert!(
                relative(change, taylor) < 1e-14,
                "u0 = {u0}, e = {e}: {change} vs {taylor}"
            );
        }
    }
}

#[test]
fn activation_change_matches_difference_for_large_steps() {
    let activation = Activation::normalized(ActivationNorm::SecondMoment);
    for u0 in [-3.0, 0.0, 2.5, 9.0] {
        let s0 = logistic(BETA * u0);
        // Both branches: |beta e| below and above 1.
        for e in [0.15, -0.19, 0.5, -4.0, 30.0] {
            let direct = activation.value(u0 + e) - activation.value(u0);
            let change = activation.change(u0, s0, e);
            assert!(
                relative(change, direct) < 1e-12,
                "u0 = {u0}, e = {e}: {change} vs {direct}"
            );
        }
    }
}

#[test]
fn loss_change_matches_taylor_series() {
    // dl/dF at 0 is -y s and d2l/dF2 is beta_l s (1 - s), with s = logistic(beta_l).
    let s = logistic(BETA_LOSS);
    for y in [1.0, -1.0] {
        for output in [1e-14, -2e-10, 5e-7] {
            let taylor = -y * s * output + 0.5 * BETA_LOSS * s * (1.0 - s) * output * output;
            let change = soft_hinge_change(output, y);
            assert!(
                relative(change, taylor) < 1e-14,
                "F = {output}, y = {y}: {change} vs {taylor}"
            );
        }
        for output in [0.03, -0.2, 1.5] {
            let direct = soft_hinge(output, y) - soft_hinge(0.0, y);
            let change = soft_hinge_change(output, y);
            assert!(relative(change, direct) < 1e-12, "F = {output}, y = {y}");
        }
    }
}

#[test]
fn offset_matches_plain_on_well_conditioned_cells() {
    let fixture = fixture(25);
    // RMSProp's first steps are about eta sign(G), so where an entry of G is near zero its
    // sign follows rounding. At large eta the two formulations' trajectories then separate
    // exponentially, so only a small eta keeps RMSProp well-conditioned here.
    let cells: Vec<CellSpec> = [
        cell(Gd, 1.0, 0.5),
        cell(Gd, 1e-2, 1e-3),
        cell(Rmsprop, 1e2, 1e-5),
        cell(ModifiedRmsprop, 10.0, 1e-2),
        cell(Adam, 1e-1, 1e-3),
        cell(ModifiedAdam, 1.0, 1e-2),
    ]
    .to_vec();
    let plain = train(&fixture, Precision::F64, &cells);
    let offset = train(&fixture, Precision::Offset, &cells);

    for ((cell, a), b) in cells.iter().zip(&plain).zip(&offset) {
        let what = format!(
            "{} alpha = {:e}, eta = {:e}",
            cell.optimizer, cell.alpha, cell.eta
        );
        assert_eq!(a.diverged_step, None, "{what}: plain diverged");
        assert_eq!(b.diverged_step, None, "{what}: offset diverged");
        for (t, (&x, &y)) in a.losses.iter().zip(&b.losses).enumerate() {
            assert!(
                relative(y, x) < 1e-10,
                "{what}: loss at step {t}: {x} vs {y}"
            );
        }
        // The loss changes of the two formulations agree to the rounding of the plain
        // one, which is about 1e-16 of L over |L_t - L_0|.
        let last = a.loss_changes.len() - 1;
        let (x, y) = (a.loss_changes[last], b.loss_changes[last]);
        assert!(
            relative(y, x) < 1e-10,
            "{what}: final loss change {x} vs {y}"
        );
        assert!(
            relative(b.rel_change_w0, a.rel_change_w0) < 1e-10,
            "{what}: W0 change"
        );
        assert!(
            relative(b.rel_change_w1, a.rel_change_w1) < 1e-10,
            "{what}: W1 change"
        );
        assert_eq!(a.test_acc, b.test_acc, "{what}: test accuracy");
        assert_eq!(a.train_acc, b.train_acc, "{what}: train accuracy");
        assert_eq!(
            a.sign_consistency, b.sign_consistency,
            "{what}: sign consistency"
        );
        assert_eq!(
            is_trusted(a.lost_update, a.cancellation),
            Some(true),
            "{what}: plain trust"
        );
        assert_eq!(
            is_trusted(b.lost_update, b.cancellation),
            Some(true),
            "{what}: offset trust"
        );
    }
}

#[test]
fn plain_float64_freezes_where_offset_moves() {
    // With GD at alpha = 1 and eta = 1e-17 each update is about 1e-17 of theta, below the
    // half ulp of float64 for most entries.
    let fixture = fixture(4);
    let frozen = [cell(Gd, 1.0, 1e-17)];
    let plain = &train(&fixture, Precision::F64, &frozen)[0];
    let offset = &train(&fixture, Precision::Offset, &frozen)[0];

    assert!(
        plain.lost_update > 0.5,
        "plain lost only {} of its update",
        plain.lost_update
    );
    assert_eq!(
        is_trusted(plain.lost_update, plain.cancellation),
        Some(false)
    );
    assert!(
        offset.lost_update < 1e-12,
        "offset lost {} of its update",
        offset.lost_update
    );
    assert!(
        offset.cancellation < 1e-15,
        "offset cancellation {}",
        offset.cancellation
    );
    assert_eq!(
        is_trusted(offset.lost_update, offset.cancellation),
        Some(true)
    );
    // The offset loss keeps moving by about eta |G|^2 per step.
    let changes = &offset.loss_changes;
    assert!(
        changes.windows(2).all(|w| w[1] < w[0]),
        "offset loss changes {changes:?}"
    );
}

#[test]
fn offset_first_update_is_gradient_step() {
    let fixture = fixture(1);
    let (alpha, eta) = (1.0, 1e-17);
    let spec = cell(Gd, alpha, eta);
    let outcome = &train(&fixture, Precision::Offset, &[spec])[0];
    let init = &fixture.init;
    let gradient = loss_and_gradient(fixture.problem(), spec, &init.w0, &init.w1).unwrap();

    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let squared = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>();
    // delta W0 = -eta G0 and delta W1 = -eta G1 hold exactly when both norms match
    // eta |G| and the first-order loss change <G, delta> is -eta |G|^2, by the equality
    // case of Cauchy-Schwarz. The second-order term is about eta |H| ~ 1e-17 of it.
    let expected_w0 = eta * norm(&gradient.w0) / norm(&init.w0);
    let expected_w1 = eta * norm(&gradient.w1) / norm(&init.w1);
    assert!(
        relative(outcome.rel_change_w0, expected_w0) < 1e-12,
        "W0 change {} vs {expected_w0}",
        outcome.rel_change_w0
    );
    assert!(
        relative(outcome.rel_change_w1, expected_w1) < 1e-12,
        "W1 change {} vs {expected_w1}",
        outcome.rel_change_w1
    );
    let expected_change = -eta * (squared(&gradient.w0) + squared(&gradient.w1));
    let change = outcome.loss_changes[1];
    assert!(
        relative(change, expected_change) < 1e-12,
        "loss change {change} vs {expected_change}"
    );
}

#[test]
fn plain_gradient_in_offset_coordinates() {
    // At delta = 0, the offset formulation's gradient is the plain one at theta_0.
    let fixture = fixture(1);
    let spec = cell(Rmsprop, 3.0, 0.1);
    let init = &fixture.init;
    let plain = loss_and_gradient(fixture.problem(), spec, &init.w0, &init.w1).unwrap();
    let settings = TrainSettings {
        precision: Precision::Offset,
        ..fixture.settings.clone()
    };
    let problem = lazysweep::engine::Problem {
        settings: &settings,
        ..fixture.problem()
    };
    let zeros_w0 = vec![0.0; init.w0.len()];
    let zeros_w1 = vec![0.0; init.w1.len()];
    let offset = loss_and_gradient(problem, spec, &zeros_w0, &zeros_w1).unwrap();
    assert!(
        relative(offset.loss, plain.loss) < 1e-14,
        "{} vs {}",
        offset.loss,
        plain.loss
    );
    for (i, (&a, &b)) in plain.w0.iter().zip(&offset.w0).enumerate() {
        assert!(
            (a - b).abs() <= 1e-13 * a.abs().max(1e-3),
            "dW0[{i}]: {a} vs {b}"
        );
    }
    for (i, (&a, &b)) in plain.w1.iter().zip(&offset.w1).enumerate() {
        assert!(
            (a - b).abs() <= 1e-13 * a.abs().max(1e-3),
            "dW1[{i}]: {a} vs {b}"
        );
    }
}

#[test]
fn cpu_engine_rejects_gpu_precisions() {
    let fixture = fixture(1);
    for precision in [Precision::F32, Precision::Df64] {
        let settings = TrainSettings {
            precision,
            ..fixture.settings.clone()
        };
        let problem = lazysweep::engine::Problem {
            settings: &settings,
            ..fixture.problem()
        };
        let err = CpuEngine::new()
            .train(problem, &[cell(Gd, 1.0, 1.0)], &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("--precision {precision}")), "{err}");
        assert!(err.contains("--backend gpu"), "{err}");
    }
}

#[test]
fn precision_map_flags_frozen_cell() {
    use lazysweep::sweep::precision_map::{MAP_FILE, MapConfig, Mode, REPORT_FILE, precision_map};

    let dir = tempfile::tempdir().unwrap();
    let config = MapConfig {
        data: "mnist-subset".into(),
        n_train: 40,
        n_test: 30,
        hidden: 8,
        steps: 5,
        seed: 3,
        optimizers: vec![Gd],
        alphas: vec![1.0, 1e10],
        etas: vec![1e-8, 1e-1],
        modes: vec![Mode {
            gpu: false,
            precision: Precision::F64,
        }],
    };
    let report = precision_map(&config, dir.path(), None).unwrap();
    assert_eq!(report, dir.path().join(REPORT_FILE));
    assert!(dir.path().join("precision_loss_change_gd.png").exists());

    let mut reader = csv::Reader::from_path(dir.path().join(MAP_FILE)).unwrap();
    let rows: Vec<std::collections::HashMap<String, String>> =
        reader.deserialize().map(Result::unwrap).collect();
    // The reference and one more mode, 4 cells each.
    assert_eq!(rows.len(), 8);
    let find = |mode: &str, alpha: f64, eta: f64| {
        rows.iter()
            .find(|r| {
                r["mode"] == mode
                    && r["alpha"].parse::<f64>().unwrap() == alpha
                    && r["eta"].parse::<f64>().unwrap() == eta
            })
            .unwrap()
    };
    for row in rows.iter().filter(|r| r["mode"] == "cpu offset") {
        assert_eq!(
            row["loss_change_error"], "0.0",
            "the reference against itself: {row:?}"
        );
    }
    // eta/alpha = 1e-18: plain float64 keeps none of the update.
    let frozen = find("cpu f64", 1e10, 1e-8);
    assert_eq!(frozen["trusted"], "false", "{frozen:?}");
    assert!(
        frozen["loss_change_error"].parse::<f64>().unwrap() > 1e-3,
        "{frozen:?}"
    );
    let fine = find("cpu f64", 1.0, 1e-1);
    assert_eq!(fine["trusted"], "true", "{fine:?}");
    assert!(
        fine["loss_change_error"].parse::<f64>().unwrap() < 1e-10,
        "{fine:?}"
    );
}
