//! Throughput of the GPU engine: cell-steps per second of 8 RMSProp cells in each GPU
//! precision mode the adapter runs, and where the time of one step goes.
//!
//! On a discrete or integrated GPU the shape is that of the CPU engine's benchmark:
//! n = 2000, d = 784, hidden 1000. A CPU-hosted adapter such as lavapipe takes seconds per
//! step of that shape, so there the benchmark uses n = 500 and hidden 100 unless
//! `LAZYSWEEP_BENCH_FULL_SHAPE=1` is set; every benchmark id names its shape. As in `cpu_step`, each mode trains for 0 and for
//! `STEPS` steps, and the time of one step is the difference divided by `STEPS`.
//!
//! Before the timed runs, the benchmark prints each kernel's time in one step of each
//! mode, measured with GPU timestamps, and the share of the matrix products. Without a
//! GPU adapter it prints why and measures nothing.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lazysweep::engine::{Engine, Precision, Problem};
use lazysweep::gpu::{GpuDevice, GpuEngine, StepProfile};
use lazysweep::model::{CLASSES, InitialWeights};

const N_TEST: usize = 100;
const D: usize = 784;
const CELLS: usize = 8;
const STEPS: u64 = 4;
/// The GPU modes, of which those the adapter cannot run (df64 after a failed self-test,
/// f64 without 64-bit floats in shaders) are left out with a message.
const MODES: [Precision; 4] = [
    Precision::F32,
    Precision::Offset,
    Precision::Df64,
    Precision::F64,
];

fn print_profile(precision: Precision, profile: &StepProfile) {
    let total = profile.total_seconds();
    println!(
        "{precision}: one step in {:.2} ms of kernel time",
        1e3 * total
    );
    println!(
        "  {:<24} {:>10} {:>10} {:>7}",
        "kernel", "dispatches", "ms", "share"
    );
    for kernel in &profile.kernels {
        println!(
            "  {:<24} {:>10} {:>10.3} {:>6.1}%",
            kernel.name,
            kernel.dispatches,
            1e3 * kernel.seconds,
            100.0 * kernel.seconds / total
        );
    }
    println!(
        "  matrix products: {:.1}% of the step",
        100.0 * profile.product_share()
    );
}

fn bench_gpu_steps(c: &mut Criterion) {
    // An error only means a logger is already installed.
    let _ = env_logger::try_init();
    let gpu = match GpuDevice::new() {
        Ok(gpu) => gpu,
        Err(err) => {
            eprintln!("gpu_step: nothing measured: {err}");
            return;
        }
    };
    let full_shape = std::env::var("LAZYSWEEP_BENCH_FULL_SHAPE").is_ok_and(|v| v == "1");
    let (n, hidden) = if gpu.is_real_gpu() || full_shape {
        (2000, 1000)
    } else {
        (500, 100)
    };
    println!("adapter '{}' ({:?})", gpu.info.name, gpu.info.device_type);
    let mut engine = GpuEngine::with_device(gpu).expect("the GPU engine opens");
    let data = common::random_data(n, N_TEST, D);
    let init = InitialWeights::draw(D, hidden, CLASSES, 1);
    let cells = common::rmsprop_cells(CELLS);
    let modes: Vec<Precision> = MODES
        .into_iter()
        .filter(|&precision| match engine.precision(precision) {
            Ok(_) => true,
            Err(err) => {
                println!("{precision}: not measured: {err}");
                false
            }
        })
        .collect();

    for &precision in &modes {
        let settings = common::settings(1, precision);
        let problem = Problem {
            data: &data,
            init: &init,
            settings: &settings,
        };
        match engine.profile_step(problem, &cells) {
            Ok(Some(profile)) => print_profile(precision, &profile),
            Ok(None) => println!("{precision}: the adapter has no timestamp queries"),
            Err(err) => println!("{precision}: not profiled: {err}"),
        }
    }

    let mut group = c.benchmark_group("gpu_engine");
    group.sample_size(10);
    for &precision in &modes {
        for steps in [0, STEPS] {
            let settings = common::settings(steps, precision);
            let problem = Problem {
                data: &data,
                init: &init,
                settings: &settings,
            };
            group.throughput(Throughput::Elements(CELLS as u64 * steps.max(1)));
            let id = format!("{precision}_rmsprop_8cells_n{n}_d{D}_h{hidden}_{steps}steps");
            group.bench_function(id, |b| {
                b.iter(|| engine.train(problem, &cells, &mut |_| {}).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_gpu_steps);
criterion_main!(benches);
