//! GFLOP/s of the GPU matrix-product kernel on the layouts of a training step.
//!
//! Criterion reports throughput in elements per second, where one element is one
//! floating-point operation, so "Gelem/s" reads as GFLOP/s. Without a GPU adapter the
//! benchmark prints why and measures nothing.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lazysweep::gpu::{GpuDevice, GpuMatmul, MatmulConfig, MatmulShape, Operand};

/// zhat = X W0stack^T for n samples of dimension d and `width` stacked hidden units.
fn forward(n: u32, d: u32, width: u32) -> MatmulShape {
    MatmulShape {
        batch: 1,
        m: n,
        n: width,
        k: d,
        a: Operand::row_major(d),
        b: Operand::transposed(d),
        c: Operand::row_major(width),
        scale: 1.0,
        accumulate: false,
    }
}

/// dW0stack = Delta^T X, accumulated as across sample chunks.
fn gradient(n: u32, d: u32, width: u32) -> MatmulShape {
    MatmulShape {
        batch: 1,
        m: width,
        n: d,
        k: n,
        a: Operand::transposed(width),
        b: Operand::row_major(d),
        c: Operand::row_major(d),
        scale: 1.0,
        accumulate: true,
    }
}

/// f_c = Z_c W1_c^T for each of `cells` cells: n samples, `hidden` units per cell and 10
/// classes, one batch entry per cell.
fn output(n: u32, hidden: u32, cells: u32) -> MatmulShape {
    let classes = 10;
    MatmulShape {
        batch: cells,
        m: n,
        n: classes,
        k: hidden,
        a: Operand::row_major(cells * hidden).with_batch_stride(hidden),
        b: Operand::transposed(hidden).with_batch_stride(classes * hidden),
        c: Operand::row_major(classes).with_batch_stride(n * classes),
        scale: 1.0,
        accumulate: false,
    }
}

/// Delta_c = g_c W1_c for each of `cells` cells: n samples, 10 classes and `hidden` units
/// per cell, written into the stacked n x (cells hidden) layout.
fn delta(n: u32, hidden: u32, cells: u32) -> MatmulShape {
    let classes = 10;
    MatmulShape {
        batch: cells,
        m: n,
        n: hidden,
        k: classes,
        a: Operand::row_major(classes).with_batch_stride(n * classes),
        b: Operand::row_major(hidden).with_batch_stride(classes * hidden),
        c: Operand::row_major(cells * hidden).with_batch_stride(hidden),
        scale: 1.0,
        accumulate: false,
    }
}

/// dW1_c = g_c^T Z_c for each of `cells` cells: 10 classes by `hidden` units, summed over
/// n samples.
fn output_gradient(n: u32, hidden: u32, cells: u32) -> MatmulShape {
    let classes = 10;
    MatmulShape {
        batch: cells,
        m: classes,
        n: hidden,
        k: n,
        a: Operand::transposed(classes).with_batch_stride(n * classes),
        b: Operand::row_major(cells * hidden).with_batch_stride(hidden),
        c: Operand::row_major(hidden).with_batch_stride(classes * hidden),
        scale: 1.0,
        accumulate: false,
    }
}

/// C = A B with every operand row-major and square.
fn square(size: u32) -> MatmulShape {
    MatmulShape {
        batch: 1,
        m: size,
        n: size,
        k: size,
        a: Operand::row_major(size),
        b: Operand::row_major(size),
        c: Operand::row_major(size),
        scale: 1.0,
        accumulate: false,
    }
}

fn filled(len: u32) -> Vec<f32> {
    (0..len).map(|i| ((i % 97) as f32 - 48.0) / 97.0).collect()
}

fn bench_products(c: &mut Criterion) {
    let gpu = match GpuDevice::new() {
        Ok(gpu) => gpu,
        Err(err) => {
            eprintln!("gpu_matmul: skipped: {err}");
            return;
        }
    };
    eprintln!(
        "gpu_matmul: adapter '{}' ({:?})",
        gpu.info.name, gpu.info.device_type
    );

    let configs = [MatmulConfig::default(), MatmulConfig::PANELS];
    let mut group = c.benchmark_group("gpu_matmul");
    group.sample_size(10);
    for config in configs {
        let shape = square(1024);
        let a = filled(shape.m * shape.k);
        let product = GpuMatmul::new(&gpu, config, &shape, &a, &a, &a).unwrap();
        let label = format!("square 1024 {config}");
        group.throughput(Throughput::Elements(shape.flops() as u64));
        group.bench_function(BenchmarkId::from_parameter(label), |bench| {
            bench.iter(|| product.run(1).unwrap());
        });
    }
    for (n, d, width) in [(2000, 784, 8000), (500, 784, 2000)] {
        for (name, shape) in [
            ("forward", forward(n, d, width)),
            ("gradient", gradient(n, d, width)),
        ] {
            let a = filled(shape.m * shape.k);
            let b = filled(shape.k * shape.n);
            let c_init = vec![0.0; (shape.m * shape.n) as usize];
            for config in configs {
                let product = GpuMatmul::new(&gpu, config, &shape, &a, &b, &c_init).unwrap();
                let label = format!("{name} {n}x{d}x{width} {config}");
                group.throughput(Throughput::Elements(shape.flops() as u64));
                group.bench_function(BenchmarkId::from_parameter(label), |bench| {
                    bench.iter(|| product.run(1).unwrap());
                });
            }
        }
    }
    // The three thin batched products of 8 cells of 250 hidden units, each with one
    // dimension of 10 classes: the output layer, Delta and dW1.
    let (n, hidden, cells) = (500, 250, 8);
    for (name, shape) in [
        ("output", output(n, hidden, cells)),
        ("delta", delta(n, hidden, cells)),
        ("output-gradient", output_gradient(n, hidden, cells)),
    ] {
        // Large enough for every operand of the three layouts.
        let a = filled(n * cells * hidden);
        let b = filled(n * cells * hidden);
        let c_init = vec![0.0; (n * cells * hidden) as usize];
        for config in configs {
            let product = GpuMatmul::new(&gpu, config, &shape, &a, &b, &c_init).unwrap();
            let label = format!(
                "{name} {}x{}x{} batch {cells} {config}",
                shape.m, shape.k, shape.n
            );
            group.throughput(Throughput::Elements(shape.flops() as u64));
            group.bench_function(BenchmarkId::from_parameter(label), |bench| {
                bench.iter(|| product.run(1).unwrap());
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_products);
criterion_main!(benches);
