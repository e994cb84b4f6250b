//! Identities of the optimizers and independence of the cells in a CPU batch.

mod common;

use common::{Fixture, cell};

use lazysweep::cpu::CpuEngine;
use lazysweep::engine::{CellOutcome, CellSpec, Engine, EngineEvent};
use lazysweep::optim::OptimizerKind::*;

/// Builds the CPU tests' problem: 40 training and 30 test samples, d = 13, hidden = 9.
fn fixture(steps: u64) -> Fixture {
    Fixture::new(40, 30, 13, 9, 11, steps)
}

fn train(fixture: &Fixture, cells: &[CellSpec]) -> Vec<CellOutcome> {
    CpuEngine::new()
        .train(fixture.problem(), cells, &mut |_| {})
        .unwrap()
}

/// Asserts two outcomes are bit-identical, treating NaN fields as equal to NaN.
fn assert_identical(a: &CellOutcome, b: &CellOutcome, what: &str) {
    let bits = |o: &CellOutcome| {
        [
            o.final_loss,
            o.train_acc,
            o.test_acc,
            o.sign_consistency,
            o.rel_change_w0,
            o.rel_change_w1,
        ]
        .map(f64::to_bits)
    };
    assert_eq!(a.steps_run, b.steps_run, "{what}: steps_run");
    assert_eq!(a.diverged_step, b.diverged_step, "{what}: diverged_step");
    assert_eq!(bits(a), bits(b), "{what}: metrics");
    let losses = |o: &CellOutcome| o.losses.iter().map(|l| l.to_bits()).collect::<Vec<_>>();
    assert_eq!(losses(a), losses(b), "{what}: loss trajectory");
}

#[test]
fn modified_rmsprop_at_alpha_one_is_rmsprop() {
    let fixture = fixture(25);
    for eta in [1e-3, 0.1] {
        let out = train(
            &fixture,
            &[cell(Rmsprop, 1.0, eta), cell(ModifiedRmsprop, 1.0, eta)],
        );
        assert_identical(&out[0], &out[1], &format!("eta {eta}"));
        let out = train(
            &fixture,
            &[cell(Adam, 1.0, eta), cell(ModifiedAdam, 1.0, eta)],
        );
        assert_identical(&out[0], &out[1], &format!("adam, eta {eta}"));
    }
}

#[test]
fn modified_rmsprop_equals_rescaled_rmsprop() {
    // Modified RMSProp with (eta, alpha, eps) takes the same steps as RMSProp with
    // (eta / alpha, alpha, eps / alpha), because its v is alpha^2 times RMSProp's v.
    // With eta = 1e-3 the differences in rounding between the two forms stay below 1e-10
    // relative over 30 steps for every alpha below; larger steps amplify them.
    let eta = 1e-3;
    let eps = 1e-3;
    for (alpha, exact) in [(4.0, true), (0.25, true), (3.0, false), (0.07, false)] {
        let mut modified = fixture(30);
        modified.settings.optimizer.eps = eps;
        let mut plain = fixture(30);
        plain.settings.optimizer.eps = eps / alpha;

        let a = &train(&modified, &[cell(ModifiedRmsprop, alpha, eta)])[0];
        let b = &train(&plain, &[cell(Rmsprop, alpha, eta / alpha)])[0];
        assert!(
            a.losses[30] < a.losses[0],
            "alpha {alpha}: the loss did not decrease"
        );
        if exact {
            // A power-of-two alpha scales every intermediate exactly.
            assert_identical(a, b, &format!("alpha {alpha}"));
        } else {
            for (t, (x, y)) in a.losses.iter().zip(&b.losses).enumerate() {
                assert!(
                    (x - y).abs() <= 1e-10 * x.abs(),
                    "alpha {alpha}, step {t}: {x} vs {y}"
                );
            }
        }
    }
}

#[test]
fn batch_matches_cells_trained_alone() {
    let fixture = fixture(20);
    let cells = [
        cell(Gd, 1.0, 0.5),
        cell(Rmsprop, 0.1, 1e-3),
        cell(ModifiedRmsprop, 10.0, 1e-2),
        cell(Gd, 1.0, 1e7),
        cell(Adam, 0.5, 1e-2),
        cell(ModifiedAdam, 3.0, 1e-2),
    ];
    let batch = train(&fixture, &cells);
    assert!(
        batch[3].diverged_step.is_some(),
        "the eta = 1e7 cell should diverge"
    );
    for (i, spec) in cells.iter().enumerate() {
        let alone = train(&fixture, &[*spec]);
        assert_identical(&batch[i], &alone[0], &format!("cell {i} ({spec:?})"));
    }

    // Removing the diverging cell leaves every other cell bit-identical.
    let stable: Vec<CellSpec> = cells.iter().copied().filter(|c| c.eta < 1e6).collect();
    let without = train(&fixture, &stable);
    let with: Vec<&CellOutcome> = batch.iter().filter(|o| o.diverged_step.is_none()).collect();
    assert_eq!(with.len(), without.len());
    for (i, (a, b)) in with.iter().zip(&without).enumerate() {
        assert_identical(a, b, &format!("stable cell {i}"));
    }
}

#[test]
fn diverged_cell_stops_and_reports_step() {
    let fixture = fixture(50);
    let mut finished = Vec::new();
    let mut on_event = |event: EngineEvent<'_>| {
        if let EngineEvent::CellFinished { index, outcome } = event {
            finished.push((index, outcome.steps_run));
        }
    };
    let out = CpuEngine::new()
        .train(
            fixture.problem(),
            &[cell(Gd, 1.0, 0.1), cell(Gd, 1.0, 1e8)],
            &mut on_event,
        )
        .unwrap();

    let diverged = &out[1];
    let step = diverged.diverged_step.expect("eta = 1e8 must diverge");
    assert!(step < 50, "{step}");
    assert_eq!(diverged.steps_run, step);
    assert!(diverged.test_acc.is_nan());
    assert_eq!(diverged.losses.len() as u64, step + 1);

    assert_eq!(out[0].diverged_step, None);
    assert_eq!(out[0].steps_run, 50);
    assert_eq!(out[0].losses.len(), 51);
    // The diverged cell is reported when it stops, before the other cell finishes.
    assert_eq!(finished, vec![(1, step), (0, 50)]);
}

#[test]
fn training_learns_the_synthetic_task() {
    let fixture = fixture(200);
    let out = train(
        &fixture,
        &[cell(ModifiedRmsprop, 1.0, 1e-2), cell(Gd, 0.1, 0.1)],
    );
    for (i, o) in out.iter().enumerate() {
        assert!(
            o.losses[200] < 0.5 * o.losses[0],
            "cell {i}: {} -> {}",
            o.losses[0],
            o.losses[200]
        );
        assert!(
            o.train_acc > 0.5,
            "cell {i}: train accuracy {}",
            o.train_acc
        );
        assert!(o.test_acc > 0.2, "cell {i}: test accuracy {}", o.test_acc);
        assert!(o.sign_consistency > 0.0, "cell {i}");
        assert!(o.sign_consistency <= 1.0, "cell {i}");
        assert!(o.rel_change_w0 > 0.0);
        assert!(o.rel_change_w1 > 0.0);
    }
}

#[test]
fn invalid_alpha_is_rejected() {
    let fixture = fixture(1);
    let err = CpuEngine::new()
        .train(fixture.problem(), &[cell(Gd, 0.0, 1.0)], &mut |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("alpha = 0"), "{err}");
}
