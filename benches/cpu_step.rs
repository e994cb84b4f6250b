//! Throughput of the float64 CPU engine: cell-steps per second for a batch of 8 RMSProp
//! cells, n = 2000, d = 784, hidden = 1000.
//!
//! Each measured iteration trains the batch for `STEPS` steps. A batch also has a fixed
//! cost (f(theta_0) on both sets and the final evaluation), which the zero-step run
//! measures, so the time of one step is the difference divided by `STEPS`.
//!
//! `RUST_LOG=lazysweep=debug` logs the time of each phase of every trained batch.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lazysweep::cpu::CpuEngine;
use lazysweep::data::Prepared;
use lazysweep::engine::{CellSpec, Engine, Problem, TrainSettings};
use lazysweep::model::{Activation, ActivationNorm, CLASSES, InitialWeights};
use lazysweep::optim::{OptimizerKind, OptimizerSettings};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

const N: usize = 2000;
const N_TEST: usize = 100;
const D: usize = 784;
const HIDDEN: usize = 1000;
const CELLS: usize = 8;
const STEPS: u64 = 4;

fn random_data() -> Prepared {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut draw = |count: usize| -> Vec<f64> {
        (0..count).map(|_| StandardNormal.sample(&mut rng)).collect()
    };
    Prepared {
        name: "random".into(),
        d: D,
        x_train: draw(N * D),
        y_train: (0..N).map(|i| (i % CLASSES) as u8).collect(),
        x_test: draw(N_TEST * D),
        y_test: (0..N_TEST).map(|i| (i % CLASSES) as u8).collect(),
        train_indices: (0..N).collect(),
        test_indices: (0..N_TEST).collect(),
    }
}

fn bench_cpu_steps(c: &mut Criterion) {
    // An error only means a logger is already installed.
    let _ = env_logger::try_init();
    let data = random_data();
    let init = InitialWeights::draw(D, HIDDEN, CLASSES, 1);
    let cells: Vec<CellSpec> = (0..CELLS)
        .map(|i| CellSpec {
            optimizer: OptimizerKind::Rmsprop,
            alpha: 10f64.powi(i as i32 - 4),
            eta: 1e-4,
        })
        .collect();

    let mut group = c.benchmark_group("cpu_engine");
    group.sample_size(10);
    for steps in [0, STEPS] {
        let settings = TrainSettings {
            steps,
            activation: Activation::normalized(ActivationNorm::SecondMoment),
            optimizer: OptimizerSettings::default(),
            divergence_factor: 1e6,
            record_losses: false,
            precision: lazysweep::engine::Precision::F64,
        };
        let problem = Problem { data: &data, init: &init, settings: &settings };
        group.throughput(Throughput::Elements(CELLS as u64 * steps.max(1)));
        group.bench_function(format!("rmsprop_8cells_n2000_d784_h1000_{steps}steps"), |b| {
            b.iter(|| CpuEngine::new().train(problem, &cells, &mut |_| {}).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench_cpu_steps);
criterion_main!(benches);
