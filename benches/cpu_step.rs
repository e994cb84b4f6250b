//! Throughput of the float64 CPU engine: cell-steps per second for a batch of 8 RMSProp
//! cells, n = 2000, d = 784, hidden = 1000.
//!
//! Each measured iteration trains the batch for `STEPS` steps. A batch also has a fixed
//! cost (f(theta_0) on both sets and the final evaluation), which the zero-step run
//! measures, so the time of one step is the difference divided by `STEPS`.
//!
//! `RUST_LOG=lazysweep=debug` logs the time of each phase of every trained batch.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lazysweep::cpu::CpuEngine;
use lazysweep::engine::{Engine, Precision, Problem};
use lazysweep::model::{CLASSES, InitialWeights};

const N: usize = 2000;
const N_TEST: usize = 100;
const D: usize = 784;
const HIDDEN: usize = 1000;
const CELLS: usize = 8;
const STEPS: u64 = 4;

fn bench_cpu_steps(c: &mut Criterion) {
    // An error only means a logger is already installed.
    let _ = env_logger::try_init();
    let data = common::random_data(N, N_TEST, D);
    let init = InitialWeights::draw(D, HIDDEN, CLASSES, 1);
    let cells = common::rmsprop_cells(CELLS);

    let mut group = c.benchmark_group("cpu_engine");
    group.sample_size(10);
    for steps in [0, STEPS] {
        let settings = common::settings(steps, Precision::F64);
        let problem = Problem {
            data: &data,
            init: &init,
            settings: &settings,
        };
        group.throughput(Throughput::Elements(CELLS as u64 * steps.max(1)));
        group.bench_function(
            format!("rmsprop_8cells_n2000_d784_h1000_{steps}steps"),
            |b| {
                b.iter(|| {
                    CpuEngine::new()
                        .train(problem, &cells, &mut |_| {})
                        .unwrap()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_cpu_steps);
criterion_main!(benches);
