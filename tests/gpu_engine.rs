//! Whole training runs of the float32 GPU engine against the float64 CPU engine.
//!
//! Every test prints a message and returns early when no GPU adapter exists, so the suite
//! passes on machines without a Vulkan driver.

mod common;

use common::{Fixture, assert_within, cell, describe, open_gpu_engine};

use lazysweep::cpu::CpuEngine;
use lazysweep::engine::{CellOutcome, CellSpec, Engine, EngineEvent, Precision};
use lazysweep::optim::OptimizerKind::{self, *};

/// Builds the GPU tests' problem: 64 training and 200 test samples, d = 20, hidden = 24.
fn fixture(steps: u64) -> Fixture {
    Fixture::new(64, 200, 20, 24, 21, steps)
}

/// Returns a learning rate per rule that trains without diverging at every alpha below.
fn stable_eta(optimizer: OptimizerKind) -> f64 {
    match optimizer {
        Gd => 0.1,
        _ => 1e-3,
    }
}

const ALPHAS: [f64; 3] = [1e-2, 1.0, 1e2];

fn grid() -> Vec<CellSpec> {
    let mut cells = Vec::new();
    for optimizer in OptimizerKind::ALL {
        for alpha in ALPHAS {
            cells.push(cell(optimizer, alpha, stable_eta(optimizer)));
        }
    }
    cells
}

/// Relative tolerance on each recorded loss of a cell with output scale `alpha`.
///
/// Inputs and parameters are rounded to float32 (unit roundoff u = 2^-24), products sum
/// 20 to 64 terms and the loss 640, so one evaluation at alpha = 1 agrees to about 1e-6.
/// The base 1e-4 leaves room for thirty steps to compound that, including RMSProp and
/// Adam dividing by sqrt(v). The output F = alpha (f - f0) also carries an absolute
/// error of about alpha u |f| times a small growth factor (64 here). Where training has
/// pushed F y past 1, the soft hinge is exp(beta_l (1 - F y)) / beta_l, whose relative
/// error is beta_l = 20 times F's absolute error, so large alpha needs the second term.
/// On lavapipe the largest differences were below 2e-6 for alpha <= 1 and 1.1e-3 for
/// RMSProp at alpha = 100, whose loss fell from 1e-3 to 1e-9.
fn loss_tolerance(alpha: f64) -> f64 {
    1e-4 + 20.0 * alpha * 2f64.powi(-24) * 64.0
}

#[test]
fn loss_trajectories_match_cpu() {
    let Some(mut gpu) = open_gpu_engine() else {
        return;
    };
    let fixture = fixture(30);
    let cells = grid();
    let expected = CpuEngine::new()
        .train(fixture.problem(), &cells, &mut |_| {})
        .unwrap();
    let actual = gpu
        .train(fixture.gpu_problem(), &cells, &mut |_| {})
        .unwrap();

    let mut worst = 0.0f64;
    for ((cell, cpu), gpu) in cells.iter().zip(&expected).zip(&actual) {
        let what = describe(cell);
        assert_eq!(
            cpu.diverged_step, None,
            "{what}: the CPU run diverged, so the grid is not well-conditioned"
        );
        assert_eq!(gpu.diverged_step, None, "{what}: diverged on the GPU only");
        assert_eq!(gpu.steps_run, cpu.steps_run, "{what}: steps run");
        assert_eq!(
            gpu.losses.len(),
            cpu.losses.len(),
            "{what}: recorded losses"
        );
        let mut worst_cell = 0.0f64;
        for (t, (&g, &c)) in gpu.losses.iter().zip(&cpu.losses).enumerate() {
            let relative = (g - c).abs() / c.abs();
            worst = worst.max(relative);
            worst_cell = worst_cell.max(relative);
            assert!(
                relative <= loss_tolerance(cell.alpha),
                "{what}: loss at step {t} is {g} on the GPU, {c} on the CPU"
            );
        }
        eprintln!("{what}: largest relative loss difference {worst_cell:e}");
        assert!(
            (gpu.final_loss - cpu.final_loss).abs() <= loss_tolerance(cell.alpha) * cpu.final_loss,
            "{what}: final loss {} vs {}",
            gpu.final_loss,
            cpu.final_loss
        );
    }
    eprintln!("largest relative loss difference: {worst:e}");
}

#[test]
fn metrics_match_cpu() {
    let Some(mut gpu) = open_gpu_engine() else {
        return;
    };
    let fixture = fixture(30);
    let cells = grid();
    let expected = CpuEngine::new()
        .train(fixture.problem(), &cells, &mut |_| {})
        .unwrap();
    let actual = gpu
        .train(fixture.gpu_problem(), &cells, &mut |_| {})
        .unwrap();

    for ((cell, cpu), gpu) in cells.iter().zip(&expected).zip(&actual) {
        let what = describe(cell);
        // One of 64 training samples is 1.6 points, so near-ties may flip one sample there.
        assert_within(
            &what,
            "train accuracy",
            gpu.train_acc,
            cpu.train_acc,
            1.0 / 64.0 + 1e-12,
        );
        assert_within(
            &what,
            "test accuracy",
            gpu.test_acc,
            cpu.test_acc,
            0.01 + 1e-12,
        );
        assert_within(
            &what,
            "sign consistency",
            gpu.sign_consistency,
            cpu.sign_consistency,
            1e-3,
        );
        for (name, g, c) in [
            ("W0", gpu.rel_change_w0, cpu.rel_change_w0),
            ("W1", gpu.rel_change_w1, cpu.rel_change_w1),
        ] {
            assert!(
                (g - c).abs() <= 1e-3 * c.abs() + 1e-6,
                "{what}: relative change of {name} {g} vs {c}"
            );
        }
    }
}

#[test]
fn chunked_batch_matches_whole() {
    let Some(mut whole) = open_gpu_engine() else {
        return;
    };
    let Some(mut chunked) = open_gpu_engine() else {
        return;
    };
    // 64 training and 200 test samples in chunks of 17 (the last one short), and the 15
    // cells in passes of 4.
    chunked.limit_batch(17, 4);
    let fixture = fixture(12);
    let cells = grid();
    let expected = whole
        .train(fixture.gpu_problem(), &cells, &mut |_| {})
        .unwrap();
    let actual = chunked
        .train(fixture.gpu_problem(), &cells, &mut |_| {})
        .unwrap();

    for ((cell, a), b) in cells.iter().zip(&expected).zip(&actual) {
        let what = describe(cell);
        assert_eq!(a.diverged_step, b.diverged_step, "{what}: diverged step");
        assert_eq!(a.losses.len(), b.losses.len(), "{what}: recorded losses");
        // Chunks add the gradient in a different order, so only rounding may differ.
        for (t, (&x, &y)) in a.losses.iter().zip(&b.losses).enumerate() {
            assert!(
                (x - y).abs() <= loss_tolerance(cell.alpha) * x.abs(),
                "{what}: loss at step {t}: {x} vs {y}"
            );
        }
        assert_within(&what, "test accuracy", a.test_acc, b.test_acc, 0.01 + 1e-12);
        assert_within(
            &what,
            "sign consistency",
            a.sign_consistency,
            b.sign_consistency,
            1e-3,
        );
    }
}

#[test]
fn diverging_cell_is_isolated() {
    let Some(mut gpu) = open_gpu_engine() else {
        return;
    };
    let fixture = fixture(30);
    let neighbours = [
        cell(Gd, 1.0, 1.0),
        cell(Rmsprop, 1e2, 1e-3),
        cell(ModifiedAdam, 1e-2, 1e-3),
    ];
    let with_diverging = [
        neighbours[0],
        cell(Gd, 1.0, 1e8),
        neighbours[1],
        neighbours[2],
    ];

    let cpu = CpuEngine::new()
        .train(fixture.problem(), &with_diverging, &mut |_| {})
        .unwrap();
    let mixed = gpu
        .train(fixture.gpu_problem(), &with_diverging, &mut |_| {})
        .unwrap();
    let alone = gpu
        .train(fixture.gpu_problem(), &neighbours, &mut |_| {})
        .unwrap();

    let cpu_step = cpu[1]
        .diverged_step
        .expect("GD with eta 1e8 diverges on the CPU");
    let gpu_step = mixed[1]
        .diverged_step
        .expect("GD with eta 1e8 diverges on the GPU");
    assert!(
        cpu_step.abs_diff(gpu_step) <= 1,
        "diverged at step {gpu_step} on the GPU, {cpu_step} on the CPU"
    );
    assert_eq!(mixed[1].steps_run, gpu_step);
    assert!(
        mixed[1].test_acc.is_nan(),
        "a diverged cell reports no accuracy"
    );

    for (i, (beside, apart)) in [&mixed[0], &mixed[2], &mixed[3]]
        .into_iter()
        .zip(&alone)
        .enumerate()
    {
        let what = describe(&neighbours[i]);
        assert_eq!(
            beside.diverged_step, None,
            "{what}: diverged beside the diverging cell"
        );
        assert_same_outcome(beside, apart, &what);
    }
}

#[test]
fn diverged_cell_reported_before_pass_ends() {
    let Some(mut gpu) = open_gpu_engine() else {
        return;
    };
    // 100 steps span several submissions of 32, and the cell diverges in the first.
    let fixture = fixture(100);
    let cells = [cell(Gd, 1.0, 1.0), cell(Gd, 1.0, 1e8)];

    // Each event as (Step events seen so far, index of the finished cell).
    let mut finished = Vec::new();
    let mut steps_seen = 0;
    let mut reported = Vec::new();
    let outcomes = gpu
        .train(fixture.gpu_problem(), &cells, &mut |event| match event {
            EngineEvent::Step { .. } => steps_seen += 1,
            EngineEvent::CellFinished { index, outcome } => {
                finished.push((steps_seen, index));
                reported.push((index, outcome.clone()));
            }
        })
        .unwrap();

    assert_eq!(finished.len(), 2, "each cell finishes once: {finished:?}");
    let (diverged_at, diverged_index) = finished[0];
    assert_eq!(
        diverged_index, 1,
        "the diverging cell is reported first: {finished:?}"
    );
    assert!(
        diverged_at < 100,
        "reported after {diverged_at} of 100 steps"
    );
    assert_eq!(finished[1], (100, 0), "the other cell finishes at the end");
    // Debug text compares NaN metrics as equal, which PartialEq does not.
    for (index, outcome) in &reported {
        assert_eq!(
            format!("{outcome:?}"),
            format!("{:?}", outcomes[*index]),
            "cell {index}: reported and returned outcomes"
        );
    }
}

/// Asserts two outcomes are bit-identical: each cell's arithmetic on the GPU must not
/// depend on the other cells of its batch.
fn assert_same_outcome(a: &CellOutcome, b: &CellOutcome, what: &str) {
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
    assert_eq!(bits(a), bits(b), "{what}: metrics");
    let losses = |o: &CellOutcome| o.losses.iter().map(|l| l.to_bits()).collect::<Vec<_>>();
    assert_eq!(losses(a), losses(b), "{what}: loss trajectory");
}

#[test]
fn engine_names_backend_and_precision() {
    let Some(gpu) = open_gpu_engine() else { return };
    assert_eq!(gpu.name(), "gpu");
    assert_eq!(gpu.precision(Precision::F32).unwrap(), "float32");
}

#[test]
fn step_profile_times_every_kernel() {
    let Some(mut engine) = open_gpu_engine() else {
        return;
    };
    // Training samples in chunks of 20: 64 samples make 4 chunks.
    engine.limit_batch(20, 64);
    let fixture = fixture(1);
    let cells = [cell(Gd, 1.0, 0.1), cell(ModifiedAdam, 10.0, 1e-3)];

    let Some(profile) = engine.profile_step(fixture.gpu_problem(), &cells).unwrap() else {
        eprintln!("skipped: the adapter has no timestamp queries");
        return;
    };
    let dispatches = |name: &str| {
        profile
            .kernels
            .iter()
            .find(|k| k.name == name)
            .map_or(0, |k| k.dispatches)
    };

    // Each chunk runs the hidden product, the output layer, dW1, Delta and dW0; then
    // one loss sum, one update of W0 and of W1, and the step counter.
    let products: usize = profile
        .kernels
        .iter()
        .filter(|k| k.is_product())
        .map(|k| k.dispatches)
        .sum();
    assert_eq!(products, 4 * 5, "{profile:?}");
    assert_eq!(dispatches("loss_rows"), 4, "{profile:?}");
    assert_eq!(dispatches("finish_loss"), 1, "{profile:?}");
    assert_eq!(dispatches("update"), 2, "{profile:?}");
    assert_eq!(dispatches("advance_step"), 1, "{profile:?}");
    assert!(
        profile.kernels.iter().all(|k| k.seconds >= 0.0),
        "{profile:?}"
    );

    let share = profile.product_share();
    assert!(share > 0.0, "product share {share}");
    assert!(share <= 1.0, "product share {share}");
}
