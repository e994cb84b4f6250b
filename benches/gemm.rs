//! Float64 GEMM throughput of the two products that dominate a CPU training step, for a
//! batch of 8 cells with n = 2000, d = 784, hidden = 1000. Criterion's "elem/s" is FLOP/s
//! here, counting 2 m k n per product.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lazysweep::cpu::gemm::{MatMut, MatRef, gemm};

const N: usize = 2000;
const D: usize = 784;
const WIDTH: usize = 8 * 1000;

fn filled(len: usize, step: usize) -> Vec<f64> {
    (0..len)
        .map(|i| ((i * step) % 1000) as f64 / 1000.0 - 0.5)
        .collect()
}

fn bench_products(c: &mut Criterion) {
    let x = filled(N * D, 7919);
    let w0 = filled(WIDTH * D, 104_729);
    let mut zhat = vec![0.0; N * WIDTH];
    let mut dw0 = vec![0.0; WIDTH * D];

    let mut group = c.benchmark_group("gemm_f64");
    group.sample_size(10);
    group.throughput(Throughput::Elements((2 * N * D * WIDTH) as u64));
    group.bench_function("forward_x_w0t_2000x784x8000", |b| {
        b.iter(|| {
            gemm(
                1.0,
                MatRef::row_major(&x, N, D),
                MatRef::row_major(&w0, WIDTH, D).t(),
                MatMut::row_major(&mut zhat, N, WIDTH),
            )
        })
    });
    group.bench_function("backward_deltat_x_8000x2000x784", |b| {
        b.iter(|| {
            gemm(
                1.0,
                MatRef::row_major(&zhat, N, WIDTH).t(),
                MatRef::row_major(&x, N, D),
                MatMut::row_major(&mut dw0, WIDTH, D),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench_products);
criterion_main!(benches);
