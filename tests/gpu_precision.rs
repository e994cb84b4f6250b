//! The rounding measures, the offset formulation and the df64 mode of the GPU engine,
//! against the float64 CPU engine and against float64 evaluations of its float32 functions.
//!
//! Every test prints a message and returns early when no GPU adapter exists, so the suite
//! passes on machines without a Vulkan driver.

mod common;

use std::time::Instant;

use common::{
    Fixture, assert_within, cell, describe, has_shader_f64, open_gpu_device, open_gpu_engine,
    runs_f64,
};

use lazysweep::cpu::CpuEngine;
use lazysweep::engine::{
    CellOutcome, CellSpec, Engine, Precision, Problem, TRUST_LIMIT, TrainSettings, is_trusted,
};
use lazysweep::gpu::{GpuEngine, GpuFunctions, MatmulConfig, Scalar};
use lazysweep::model::activation::{BETA, logistic};
use lazysweep::model::loss::soft_hinge_change;
use lazysweep::model::{Activation, ActivationNorm};
use lazysweep::optim::OptimizerKind::{self, *};

/// Unit roundoff of float32.
const UNIT: f64 = 1.0 / 16_777_216.0;

/// 100 training and 200 test samples, d = 20, hidden = 24, so that one training sample
/// is one percentage point of accuracy.
fn fixture(steps: u64) -> Fixture {
    Fixture::new(100, 200, 20, 24, 31, steps)
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// Trains `cells` with `engine` in `precision` on the fixture's problem.
fn train(
    engine: &mut dyn Engine,
    fixture: &Fixture,
    precision: Precision,
    cells: &[CellSpec],
) -> Vec<CellOutcome> {
    let settings = TrainSettings {
        precision,
        ..fixture.settings.clone()
    };
    let problem = Problem {
        settings: &settings,
        ..fixture.problem()
    };
    engine.train(problem, cells, &mut |_| {}).unwrap()
}

/// Relative tolerance on each recorded loss of an offset cell with output scale `alpha`.
///
/// The GPU rounds inputs and parameters to float32 (u = 2^-24) and sums products of 20 to
/// 100 terms and a loss of 1000 terms, so one evaluation agrees to about 1e-6; the base
/// 1e-4 leaves room for thirty steps to compound that through RMSProp's and Adam's
/// divisions by sqrt(v). F = alpha (f - f0) is formed from f - f0 directly, so its
/// absolute error is about alpha u |f - f0| times a growth factor (64 here), where
/// |f - f0| is about |F| / alpha, below 1 at the large alphas where the term matters. Where
/// F y has passed 1 the soft hinge's relative error is beta_l = 20 times F's absolute
/// error.
fn loss_tolerance(alpha: f64) -> f64 {
    1e-4 + 20.0 * alpha * UNIT * 64.0
}

/// Unit roundoff of float64.
const UNIT_F64: f64 = f64::EPSILON / 2.0;

/// Relative tolerance on each recorded loss of a cell trained in float64 on the GPU and
/// on the CPU, with output scale `alpha`. Both compute in float64 but add in different
/// orders, so one evaluation agrees to a few u. The base 1e-11 is 1e-4 scaled by the
/// ratio of the unit roundoffs, for the same thirty steps. F = alpha (f - f0) cancels in the
/// plain formulation, so its absolute error is about alpha u |f| times a growth factor
/// (64), with |f| about 1 on this fixture, and the soft hinge multiplies it by 20.
fn loss_tolerance_f64(alpha: f64) -> f64 {
    1e-11 + 20.0 * alpha * UNIT_F64 * 64.0
}

/// How closely a GPU mode must agree with the CPU engine on the well-conditioned cells.
struct Agreement {
    /// Relative tolerance on each loss, for output scale alpha.
    loss: fn(f64) -> f64,
    /// Absolute tolerance on the accuracies and the sign consistency.
    fraction: f64,
    /// Relative tolerance on the relative weight changes.
    change: f64,
}

/// Offset and df64 round inputs and parameters to float32: one sample of 100 or 200 may
/// change class, which is at most one percentage point of accuracy.
const FLOAT32_AGREEMENT: Agreement = Agreement {
    loss: loss_tolerance,
    fraction: 0.01 + 1e-12,
    change: 1e-3,
};

#[test]
fn offset_matches_cpu_offset() {
    matches_cpu(Precision::Offset, Precision::Offset, &FLOAT32_AGREEMENT);
}

#[test]
fn df64_matches_cpu_offset() {
    matches_cpu(Precision::Df64, Precision::Offset, &FLOAT32_AGREEMENT);
}

/// The f64 mode runs the plain formulation as the CPU's f64 mode does, so every count
/// agrees and the weight changes agree to float64 rounding, compounded over the steps.
#[test]
fn f64_matches_cpu_f64() {
    let Some(gpu) = open_gpu_engine() else { return };
    if !runs_f64(gpu.device()) {
        return;
    }
    let agreement = Agreement {
        loss: loss_tolerance_f64,
        fraction: 1e-12,
        change: 1e-9,
    };
    matches_cpu(Precision::F64, Precision::F64, &agreement);
}

/// Trains every optimizer at alpha from 1e-2 to 1e2 in `precision` on the GPU and in
/// `cpu_precision` on the CPU, and compares losses, accuracies and measures.
fn matches_cpu(precision: Precision, cpu_precision: Precision, agreement: &Agreement) {
    let Some(mut gpu) = open_gpu_engine() else {
        return;
    };
    let fixture = fixture(30);
    // Small learning rates keep every cell well-conditioned. RMSProp's first steps are
    // about eta sign(G), so at large eta a gradient entry near zero takes the sign of its
    // rounding error and the float32 and float64 trajectories separate. Plain RMSProp's
    // step stays about eta whatever alpha is, so F = alpha (f - f0) moves by about
    // alpha eta per step: at alpha = 100 and eta = 1e-3 even the two float64 formulations
    // differed by 6e-8 on this fixture, against 1e-14 at eta = 1e-5.
    let mut cells = Vec::new();
    for optimizer in OptimizerKind::ALL {
        for alpha in [1e-2, 1e-1, 1.0, 1e1, 1e2] {
            let eta = match optimizer {
                Gd => 0.1,
                Rmsprop => 1e-5,
                _ => 1e-3,
            };
            cells.push(cell(optimizer, alpha, eta));
        }
    }
    let expected = train(&mut CpuEngine::new(), &fixture, cpu_precision, &cells);
    let actual = train(&mut gpu, &fixture, precision, &cells);

    let mut worst = 0.0f64;
    for ((cell, cpu), gpu) in cells.iter().zip(&expected).zip(&actual) {
        let label = describe(cell);
        assert_eq!(cpu.diverged_step, None, "{label}: diverged on the CPU");
        assert_eq!(gpu.diverged_step, None, "{label}: diverged on the GPU only");
        assert_eq!(
            gpu.losses.len(),
            cpu.losses.len(),
            "{label}: recorded losses"
        );
        let tolerance = (agreement.loss)(cell.alpha);
        let mut worst_cell = 0.0f64;
        for (t, (&g, &c)) in gpu.losses.iter().zip(&cpu.losses).enumerate() {
            let error = relative(g, c);
            worst_cell = worst_cell.max(error);
            assert!(
                error <= tolerance,
                "{label}: loss at step {t} is {g} on the GPU, {c} on the CPU"
            );
        }
        worst = worst.max(worst_cell);
        eprintln!("{label}: largest relative loss difference {worst_cell:e}");
        let fraction = agreement.fraction;
        assert_within(
            &label,
            "train accuracy",
            gpu.train_acc,
            cpu.train_acc,
            fraction,
        );
        assert_within(
            &label,
            "test accuracy",
            gpu.test_acc,
            cpu.test_acc,
            fraction,
        );
        assert_within(
            &label,
            "sign consistency",
            gpu.sign_consistency,
            cpu.sign_consistency,
            fraction.min(1e-3),
        );
        for (name, g, c) in [
            ("W0", gpu.rel_change_w0, cpu.rel_change_w0),
            ("W1", gpu.rel_change_w1, cpu.rel_change_w1),
        ] {
            assert!(
                relative(g, c) <= agreement.change,
                "{label}: relative change of {name} {g} vs {c}"
            );
        }
        assert_eq!(
            is_trusted(gpu.lost_update, gpu.cancellation),
            Some(true),
            "{label}: lost update {}, cancellation {}",
            gpu.lost_update,
            gpu.cancellation
        );
        if precision == Precision::F64 {
            assert!(
                relative(gpu.cancellation, cpu.cancellation) <= 1e-6,
                "{label}: cancellation {} vs {} on the CPU",
                gpu.cancellation,
                cpu.cancellation
            );
        } else {
            assert_eq!(gpu.cancellation, UNIT, "{label}: {precision} cancellation");
        }
    }
    eprintln!("{precision}: largest relative loss difference {worst:e}");
}

#[test]
fn chunked_batch_matches_whole() {
    let Some(mut whole) = open_gpu_engine() else {
        return;
    };
    let Some(mut chunked) = open_gpu_engine() else {
        return;
    };
    // 100 training and 200 test samples in chunks of 17 (the last one short), so each
    // chunk reads its own rows of the hidden layer at theta_0, and 5 cells in passes of 2.
    chunked.limit_batch(17, 2);
    let fixture = fixture(12);
    let cells: Vec<CellSpec> = OptimizerKind::ALL
        .iter()
        .map(|&optimizer| cell(optimizer, 10.0, 1e-3))
        .collect();
    for precision in [Precision::Offset, Precision::Df64] {
        let expected = train(&mut whole, &fixture, precision, &cells);
        let actual = train(&mut chunked, &fixture, precision, &cells);
        for ((cell, a), b) in cells.iter().zip(&expected).zip(&actual) {
            let label = format!("{precision} {}", describe(cell));
            same_in_chunks(&label, cell.alpha, a, b);
        }
    }
}

/// Checks that a cell trained in chunks and passes agrees with the same cell trained
/// whole, up to the rounding of a different summation order.
fn same_in_chunks(label: &str, alpha: f64, a: &CellOutcome, b: &CellOutcome) {
    assert_eq!(a.diverged_step, None, "{label}: diverged");
    assert_eq!(b.diverged_step, None, "{label}: diverged in chunks");
    assert_eq!(a.losses.len(), b.losses.len(), "{label}: recorded losses");
    // Chunks add the gradient in a different order, so only rounding may differ.
    for (t, (&x, &y)) in a.losses.iter().zip(&b.losses).enumerate() {
        assert!(
            relative(y, x) <= loss_tolerance(alpha),
            "{label}: loss at step {t}: {x} vs {y}"
        );
    }
    for (t, (&x, &y)) in a
        .loss_changes
        .iter()
        .zip(&b.loss_changes)
        .enumerate()
        .skip(1)
    {
        assert!(relative(y, x) <= 1e-4, "{label}: L_{t} - L_0: {x} vs {y}");
    }
    assert_within(label, "test accuracy", a.test_acc, b.test_acc, 0.01 + 1e-12);
    assert_within(
        label,
        "sign consistency",
        a.sign_consistency,
        b.sign_consistency,
        1e-3,
    );
    assert!(
        relative(b.rel_change_w0, a.rel_change_w0) <= 1e-3,
        "{label}: relative change of W0 {} vs {}",
        b.rel_change_w0,
        a.rel_change_w0
    );
}

/// Cells whose updates are at most 1e-10 of theta_0, far below float32's resolution of
/// 6e-8. The loss is scaled by alpha^-2, so G is about 1 / alpha. GD's update eta G is
/// then about 1e-10 at alpha 1e4 and eta 1e-6. The modified rules fold alpha into v, so
/// their updates are about eta / alpha. Plain RMSProp is not among them, because its
/// update stays near eta whatever alpha is (or eta G / eps once sqrt(v) falls below eps).
fn corner_cells() -> Vec<CellSpec> {
    vec![
        cell(Gd, 1e4, 1e-6),
        cell(ModifiedRmsprop, 1e8, 1e-3),
        cell(ModifiedAdam, 1e8, 1e-3),
    ]
}

#[test]
fn corner_float32_untrusted_other_modes_track_cpu() {
    let Some(mut gpu) = open_gpu_engine() else {
        return;
    };
    let fixture = fixture(20);
    let cells = corner_cells();
    let expected = train(&mut CpuEngine::new(), &fixture, Precision::Offset, &cells);
    let plain = train(&mut gpu, &fixture, Precision::F32, &cells);
    for (cell, plain) in cells.iter().zip(&plain) {
        let label = describe(cell);
        eprintln!(
            "{label}: float32 lost update {:e}, cancellation {:e}",
            plain.lost_update, plain.cancellation
        );
        assert_eq!(
            is_trusted(plain.lost_update, plain.cancellation),
            Some(false),
            "{label}: plain float32 is trusted"
        );
    }
    let mut precisions = vec![Precision::Offset, Precision::Df64];
    // Plain float64 resolves updates down to about 1e-16 of theta, so the corner's 1e-10
    // to 1e-11 still leave L_t - L_0 about 1e-5 of its cancelling terms.
    if has_shader_f64(gpu.device()) {
        precisions.push(Precision::F64);
    }
    for precision in precisions {
        let actual = train(&mut gpu, &fixture, precision, &cells);
        for ((cell, cpu), gpu) in cells.iter().zip(&expected).zip(&actual) {
            let label = format!("{precision} {}", describe(cell));
            tracks_cpu_offset(&label, gpu, cpu);
        }
    }
}

/// Checks that a corner cell trained on the GPU is trusted and that its loss changes at
/// every step and its final output changes agree with the CPU offset engine's to 1e-4.
fn tracks_cpu_offset(label: &str, gpu: &CellOutcome, cpu: &CellOutcome) {
    eprintln!("{label}: lost update {:e}", gpu.lost_update);
    assert_eq!(
        is_trusted(gpu.lost_update, gpu.cancellation),
        Some(true),
        "{label}: not trusted"
    );
    assert_eq!(
        gpu.loss_changes.len(),
        cpu.loss_changes.len(),
        "{label}: recorded changes"
    );
    let mut worst = 0.0f64;
    for (t, (&g, &c)) in gpu
        .loss_changes
        .iter()
        .zip(&cpu.loss_changes)
        .enumerate()
        .skip(1)
    {
        let error = relative(g, c);
        worst = worst.max(error);
        // Both engines compute L_t - L_0 from f - f_0 without cancellation, so in offset
        // the GPU's error is float32 rounding of a well-conditioned sum. df64 also loses
        // the part of each update below 2^-48 of theta, about 1e-5 of an update of 1e-10,
        // and plain f64 forms f - f_0 by cancellation, losing u / 1e-10, about 1e-6 of it.
        assert!(
            error <= 1e-4,
            "{label}: L_{t} - L_0 is {g} on the GPU, {c} on the CPU"
        );
    }
    eprintln!("{label}: largest relative loss-change difference {worst:e}");

    // The final output changes f(theta_T) - f(theta_0) agree to float32 rounding of the
    // change itself, as the loss changes do.
    assert_eq!(
        gpu.output_changes.len(),
        cpu.output_changes.len(),
        "{label}: outputs"
    );
    assert!(
        !cpu.output_changes.is_empty(),
        "{label}: no output changes recorded"
    );
    let difference: f64 = gpu
        .output_changes
        .iter()
        .zip(&cpu.output_changes)
        .map(|(g, c)| (g - c) * (g - c))
        .sum();
    let norm: f64 = cpu.output_changes.iter().map(|c| c * c).sum();
    let output_error = (difference / norm).sqrt();
    eprintln!("{label}: output change error {output_error:e}");
    assert!(
        output_error <= 1e-4,
        "{label}: output change error {output_error:e}"
    );
}

#[test]
fn float32_measures_on_well_conditioned_cell() {
    let Some(mut gpu) = open_gpu_engine() else {
        return;
    };
    let fixture = fixture(30);
    let cells = [cell(Gd, 1.0, 0.5), cell(ModifiedAdam, 1e-1, 1e-2)];
    let expected = train(&mut CpuEngine::new(), &fixture, Precision::F64, &cells);
    let actual = train(&mut gpu, &fixture, Precision::F32, &cells);

    for ((cell, cpu), gpu) in cells.iter().zip(&expected).zip(&actual) {
        let label = describe(cell);
        eprintln!(
            "{label}: lost update {:e}, cancellation {:e}",
            gpu.lost_update, gpu.cancellation
        );
        // Rounding old - u to float32 loses some of every update, so a zero here means the
        // measure was optimized away.
        assert!(
            gpu.lost_update > 0.0,
            "{label}: lost update {}",
            gpu.lost_update
        );
        assert!(
            gpu.lost_update <= TRUST_LIMIT,
            "{label}: lost update {}",
            gpu.lost_update
        );
        // u ||f|| / ||f - f0|| is at least u times a ratio of norms of order one here.
        assert!(
            gpu.cancellation > 0.0 && gpu.cancellation <= TRUST_LIMIT,
            "{label}: cancellation {}",
            gpu.cancellation
        );
        assert_eq!(
            is_trusted(gpu.lost_update, gpu.cancellation),
            Some(true),
            "{label}"
        );
        assert_eq!(
            gpu.loss_changes.len(),
            cpu.loss_changes.len(),
            "{label}: recorded changes"
        );
        assert_eq!(gpu.loss_changes[0], 0.0, "{label}: L_0 - L_0");
        for (t, ((&g, &c), &loss)) in gpu
            .loss_changes
            .iter()
            .zip(&cpu.loss_changes)
            .zip(&cpu.losses)
            .enumerate()
            .skip(1)
        {
            // The plain float32 change is formed from f - f0, whose relative error is the
            // cancellation estimate. That adds to the 1e-4 of L_t that the losses
            // themselves allow.
            let bound = 1e-4 * loss.abs() + 64.0 * gpu.cancellation * c.abs();
            assert!(
                (g - c).abs() <= bound,
                "{label}: L_{t} - L_0 is {g} on the GPU, {c} on the CPU"
            );
        }
    }
}

/// Returns the values of `spread64` rounded to float32.
fn spread(low: f64, high: f64, count: usize) -> Vec<f32> {
    spread64(low, high, count)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}

/// Returns `count` values spread evenly over [low, high], with the ends included.
fn spread64(low: f64, high: f64, count: usize) -> Vec<f64> {
    (0..count)
        .map(|i| low + (high - low) * i as f64 / (count - 1) as f64)
        .collect()
}

/// Checks each `values[i]` of the function `name`, computed in a type of unit roundoff
/// `unit`, against `exact(inputs[i])` in float64: a relative error of at most `units`
/// times `unit`, or an absolute one where the exact value is 0.
fn check_function<T: Copy + Into<f64> + std::fmt::Display>(
    name: &str,
    inputs: &[T],
    values: &[T],
    exact: fn(f64) -> f64,
    units: f64,
    unit: f64,
) {
    let mut worst = 0.0f64;
    for (&input, &value) in inputs.iter().zip(values) {
        let expected = exact(input.into());
        let error = if expected == 0.0 {
            value.into().abs()
        } else {
            relative(value.into(), expected)
        };
        worst = worst.max(error);
        assert!(
            error <= units * unit,
            "{name}({input}) = {value}, float64 gives {expected}"
        );
    }
    eprintln!("{name}: largest relative error {:.2} u", worst / unit);
}

#[test]
fn expm1_and_log1p_match_float64() {
    let Some(gpu) = open_gpu_device() else { return };
    let functions = GpuFunctions::new(&gpu).unwrap();

    // 1001 values, not a multiple of the 64-invocation workgroup, and tiny arguments.
    let mut x = spread(-1.0, 1.0, 1001);
    x.extend([1e-30, -1e-20, 3e-8, -2e-5, 0.0]);
    let values = functions.expm1(&x).unwrap();
    // Horner's rule with 11 coefficients errs by at most gamma_22 = 22 u times
    // sum |c_k x^k| = expm1(|x|), which is at most 2.72 |expm1(x)| for |x| <= 1, plus u
    // for the last product and 3.3e-9 of truncation (Higham, Accuracy and Stability of
    // Numerical Algorithms, section 5.1): 61 u in all, rounded up to 64 u.
    check_function("expm1", &x, &values, f64::exp_m1, 64.0, UNIT);

    let mut y = spread(-0.64, 1.72, 777);
    y.extend([1e-30, -1e-20, 3e-8, -2e-5, 0.0]);
    let values = functions.log1p(&y).unwrap();
    // s = y / (2 + y) errs by 2 u and t = s^2 by 5 u; Horner's rule over positive terms
    // adds gamma_20 and the rounded coefficients u, and 2 s q one more u. t's error moves
    // q by under 0.1 of it, so the total is below 25 u, rounded up to 32 u.
    check_function("log1p", &y, &values, f64::ln_1p, 32.0, UNIT);
}

/// The float64 exp, softplus, expm1 and log1p of real_f64.wgsl against Rust's, whose own
/// error is below 1 u.
#[test]
fn float64_functions_match_cpu() {
    let Some(gpu) = open_gpu_device() else { return };
    if !runs_f64(&gpu) {
        return;
    }
    let functions = GpuFunctions::with_scalar(&gpu, Scalar::F64).unwrap();
    // From underflow to overflow's edge, with both signs of r = x - k ln 2 and halfway
    // cases of k.
    let mut x = spread64(-745.0, 709.0, 4001);
    x.extend([
        0.0,
        1e-300,
        -1e-17,
        0.5 * std::f64::consts::LN_2,
        -1.5 * std::f64::consts::LN_2,
    ]);
    let values = functions.exp(&x).unwrap();
    // r carries an error of about u |r| and Horner's rule over 15 terms gamma_30 times
    // exp(|r|) / exp(r) <= 2, plus the final product: 63 u, rounded up to 64 u.
    check_function("exp", &x, &values, f64::exp, 64.0, UNIT_F64);

    // Down to -700, where softplus is still a normal float64; subnormal results may be
    // flushed to zero.
    let mut x = spread64(-60.0, 60.0, 1201);
    x.extend([-700.0, 700.0, 1e-20, 0.0]);
    let values = functions.softplus(&x).unwrap();
    // exp's 64 u pass through log1p with a condition number at most 1, log1p adds 64 u,
    // and max(x, 0) + log1p(...) adds one rounding of a sum of two non-negative terms.
    check_function(
        "softplus",
        &x,
        &values,
        |x| x.max(0.0) + (-x.abs()).exp().ln_1p(),
        160.0,
        UNIT_F64,
    );

    let mut x = spread64(-1.0, 1.0, 1001);
    x.extend([1e-300, -1e-20, 3e-8, -2e-5, 0.0]);
    let values = functions.expm1(&x).unwrap();
    // Horner's rule with 19 coefficients errs by at most gamma_38 times
    // expm1(|x|) <= 2.72 |expm1(x)|, plus u for the last product: 105 u, rounded up to
    // 128 u, as the float32 bound above.
    check_function("expm1", &x, &values, f64::exp_m1, 128.0, UNIT_F64);

    let mut y = spread64(-0.64, 1.72, 777);
    y.extend([1e-300, -1e-20, 3e-8, -2e-5, 0.0]);
    let values = functions.log1p(&y).unwrap();
    // 24 positive coefficients: gamma_48 and the rounded coefficients, plus s and t as
    // for float32: below 60 u, rounded up to 64 u.
    check_function("log1p", &y, &values, f64::ln_1p, 64.0, UNIT_F64);
}

#[test]
fn soft_hinge_change_matches_float64() {
    let Some(gpu) = open_gpu_device() else { return };
    let functions = GpuFunctions::new(&gpu).unwrap();
    // Both branches: |20 F| <= 1 and above, for both targets; 2 x 333 values.
    let mut outputs = spread(-0.3, 0.3, 333);
    outputs.extend(spread(-2e-6, 2e-6, 333));
    let targets: Vec<f32> = (0..outputs.len())
        .map(|i| if i % 3 == 0 { 1.0 } else { -1.0 })
        .collect();
    let values = functions.soft_hinge_change(&outputs, &targets).unwrap();
    let mut worst = 0.0f64;
    for ((&output, &y), &value) in outputs.iter().zip(&targets).zip(&values) {
        let exact = soft_hinge_change(output.into(), y.into());
        // |20 F| <= 1: expm1 errs by 64 u, and log1p's condition number
        // y / ((1 + y) ln(1 + y)) <= 1.72 on its range carries that into 110 u, plus
        // log1p's own 32 u and the division: 150 u. Otherwise the change is a difference
        // of two losses near 1 that softplus forms to a few u each, so its absolute error
        // is a few u; 16 u is allowed.
        let bound = if (20.0 * output).abs() <= 1.0 {
            150.0 * UNIT * exact.abs()
        } else {
            16.0 * UNIT * (1.0 + exact.abs())
        };
        let error = (f64::from(value) - exact).abs();
        worst = worst.max(error / exact.abs());
        assert!(
            error <= bound,
            "change at F = {output}, y = {y}: {value}, float64 gives {exact}"
        );
    }
    eprintln!(
        "soft hinge change: largest relative error {:.2} u",
        worst / UNIT
    );
}

#[test]
fn activation_change_matches_float64() {
    let Some(gpu) = open_gpu_device() else { return };
    let functions = GpuFunctions::new(&gpu).unwrap();
    let activation = Activation::normalized(ActivationNorm::SecondMoment);
    // 37 rows of 3 cells x 13 units: 1443 values, not a multiple of 64.
    let (rows, cells, hidden) = (37, 3, 13);
    let zhat0 = spread(-3.0, 3.0, rows * hidden);
    let logistic0: Vec<f32> = zhat0
        .iter()
        .map(|&u| logistic(BETA * f64::from(u)) as f32)
        .collect();
    let z0: Vec<f32> = zhat0
        .iter()
        .map(|&u| activation.value(u.into()) as f32)
        .collect();
    // e spans tiny changes, |beta e| <= 1 and the plain difference beyond it.
    let scales = [3e-9, 1e-4, 0.19, 1.5];
    let e: Vec<f32> = (0..rows * cells * hidden)
        .map(|i| {
            let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
            let scale = scales[i % scales.len()];
            (sign * scale * (1.0 + (i % 7) as f64 / 7.0)) as f32
        })
        .collect();
    let result = functions
        .activation_change(activation.a, hidden, &zhat0, &logistic0, &z0, &e)
        .unwrap();

    let mut worst = 0.0f64;
    for (i, &e) in e.iter().enumerate() {
        let start = (i / (cells * hidden)) * hidden + i % hidden;
        let (u0, s0, sigma0) = (
            f64::from(zhat0[start]),
            f64::from(logistic0[start]),
            f64::from(z0[start]),
        );
        let e = f64::from(e);
        let exact = activation.change(u0, s0, e);
        let value = f64::from(result.change[i]);
        // |beta e| <= 1: expm1 64 u, the product with s0 u, log1p's condition number
        // at most 1.72 carries those into 112 u, log1p's own 32 u and the scaling by
        // a / beta 2 u: 150 u of the change. Otherwise sigma(u0 + e) is formed in float32
        // from exp, which errs by up to 3 + 2 |x| ulp at x = beta (u0 + e) (the WGSL
        // bound), log1p (32 u) and a few roundings, and sigma(u0) was rounded once: an
        // absolute error of (40 + 10 |u0 + e|) u times the two values.
        let sigma = activation.value(u0 + e);
        let bound = if (BETA * e).abs() <= 1.0 {
            150.0 * UNIT * exact.abs()
        } else {
            (40.0 + 10.0 * (u0 + e).abs()) * UNIT * (sigma.abs() + sigma0.abs())
        };
        let error = (value - exact).abs();
        worst = worst.max(error / exact.abs());
        assert!(
            error <= bound,
            "change at u0 = {u0}, e = {e}: {value}, float64 gives {exact}"
        );
        // z = sigma(u0) + change adds one rounding of z to the change's error.
        let z = f64::from(result.z[i]);
        assert!(
            (z - (sigma0 + exact)).abs() <= bound + UNIT * z.abs(),
            "z at u0 = {u0}, e = {e}: {z}, float64 gives {}",
            sigma0 + exact
        );
        // sigma' = a logistic(beta (u0 + e)): the sum, exp (3 + 2 |x| ulp), the
        // division and the scaling by a.
        let derivative = activation.derivative(u0 + e);
        let dsigma = f64::from(result.dsigma[i]);
        assert!(
            relative(dsigma, derivative) <= (8.0 + 10.0 * (u0 + e).abs()) * UNIT,
            "sigma' at u0 = {u0}, e = {e}: {dsigma}, float64 gives {derivative}"
        );
    }
    eprintln!(
        "activation change: largest relative error {:.2} u",
        worst / UNIT
    );
}

#[test]
fn engine_names_its_precisions() {
    let Some(gpu) = open_gpu_engine() else { return };
    assert_eq!(gpu.precision(Precision::F32).unwrap(), "float32");
    assert_eq!(gpu.precision(Precision::Offset).unwrap(), "offset-float32");
    assert_eq!(gpu.precision(Precision::Df64).unwrap(), "offset-df64");
    if has_shader_f64(gpu.device()) {
        assert_eq!(gpu.precision(Precision::F64).unwrap(), "float64");
    } else {
        let err = gpu.precision(Precision::F64).unwrap_err().to_string();
        assert!(err.contains("--precision f64"), "{err}");
        assert!(err.contains("--backend cpu"), "{err}");
    }
}

/// Prints the time per step of each GPU mode: 8 cells, n = 500, d = 784, hidden = 100.
/// The difference between runs of 12 and 4 steps leaves out the upload, the hidden layer
/// at theta_0 and the metrics.
#[test]
#[ignore = "timing: run with --ignored --nocapture"]
fn precision_step_time() {
    let Some(mut gpu) = open_gpu_engine() else {
        return;
    };
    let mut fixture = Fixture::new(500, 100, 784, 100, 41, 4);
    fixture.settings.record_losses = false;
    let cells: Vec<CellSpec> = OptimizerKind::ALL
        .iter()
        .cycle()
        .take(8)
        .map(|&optimizer| cell(optimizer, 1.0, 1e-3))
        .collect();
    for precision in [Precision::F32, Precision::Offset, Precision::Df64].repeat(2) {
        let mut seconds = Vec::new();
        for steps in [4, 12] {
            fixture.settings.steps = steps;
            let started = Instant::now();
            train(&mut gpu, &fixture, precision, &cells);
            seconds.push(started.elapsed().as_secs_f64());
        }
        eprintln!(
            "{precision}: {:.3} s per step ({:.2} s for 4 steps, {:.2} s for 12)",
            (seconds[1] - seconds[0]) / 8.0,
            seconds[0],
            seconds[1]
        );
    }
}

/// A GD cell whose parameters overflow is flagged in f64 at the step the CPU's float64
/// engine flags it, with the loss threshold out of the way, and its neighbour trains on.
/// This checks that the float64 `is_finite` of the shaders detects infinities and NaN.
#[test]
fn f64_overflow_matches_cpu() {
    let Some(mut gpu) = open_gpu_engine() else {
        return;
    };
    if !runs_f64(gpu.device()) {
        return;
    }
    let mut fixture = fixture(12);
    fixture.settings.divergence_factor = f64::INFINITY;
    let cells = [cell(Gd, 1.0, 1e300), cell(Gd, 1.0, 0.1)];
    let cpu = train(&mut CpuEngine::new(), &fixture, Precision::F64, &cells);
    let ours = train(&mut gpu, &fixture, Precision::F64, &cells);
    let cpu_step = cpu[0]
        .diverged_step
        .expect("eta 1e300 overflows on the CPU");
    let gpu_step = ours[0]
        .diverged_step
        .expect("eta 1e300 overflows on the GPU");
    eprintln!("overflow flagged at step {gpu_step} on the GPU, {cpu_step} on the CPU");
    assert!(
        cpu_step.abs_diff(gpu_step) <= 1,
        "diverged at step {gpu_step} on the GPU, {cpu_step} on the CPU"
    );
    assert_eq!(ours[1].diverged_step, None, "the neighbour diverged too");
    assert!(relative(ours[1].final_loss, cpu[1].final_loss) <= 1e-12);
}

/// The tuned kernel choice gives f64 the register kernel on lavapipe, so this trains with
/// the register kernel in another workgroup shape and with the workgroup-memory tiled
/// kernel, both compiled in float64, and compares each with the CPU float64 engine.
#[test]
fn f64_product_kernels_match_cpu() {
    let Some(gpu) = open_gpu_device() else { return };
    if !runs_f64(&gpu) {
        return;
    }
    let fixture = fixture(8);
    let cells = [cell(Gd, 1.0, 0.1), cell(ModifiedAdam, 10.0, 1e-3)];
    let expected = train(&mut CpuEngine::new(), &fixture, Precision::F64, &cells);
    for config in [MatmulConfig::registers(16, 4), MatmulConfig::TILED] {
        let mut engine = GpuEngine::with_config(gpu.clone(), config).unwrap();
        let actual = train(&mut engine, &fixture, Precision::F64, &cells);
        for ((cell, cpu), ours) in cells.iter().zip(&expected).zip(&actual) {
            let label = format!("{config} {}", describe(cell));
            assert_eq!(
                ours.losses.len(),
                cpu.losses.len(),
                "{label}: recorded losses"
            );
            for (t, (&g, &c)) in ours.losses.iter().zip(&cpu.losses).enumerate() {
                assert!(
                    relative(g, c) <= loss_tolerance_f64(cell.alpha),
                    "{label}: loss at step {t} is {g} on the GPU, {c} on the CPU"
                );
            }
        }
    }
}
