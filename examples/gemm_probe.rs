use lazysweep::cpu::gemm::{MatMut, MatRef, gemm};
use lazysweep::model::{Activation, ActivationNorm};
use rayon::prelude::*;
use std::time::Instant;
fn main() {
    let (n, d, kh) = (2000usize, 784usize, 8000usize);
    let x: Vec<f64> = (0..n * d).map(|i| ((i * 7919) % 1000) as f64 / 1000.0).collect();
    let w: Vec<f64> = (0..kh * d).map(|i| ((i * 104729) % 1000) as f64 / 1000.0).collect();
    let mut z = vec![0.0; n * kh];
    for _ in 0..3 {
        let t = Instant::now();
        gemm(1.0, MatRef::row_major(&x, n, d), MatRef::row_major(&w, kh, d).t(), MatMut::row_major(&mut z, n, kh));
        let s = t.elapsed().as_secs_f64();
        println!("forward {:.3}s {:.1} GFLOP/s", s, 2.0 * (n * d * kh) as f64 / s / 1e9);
        let mut g = vec![0.0; kh * d];
        let t = Instant::now();
        gemm(1.0, MatRef::row_major(&z, n, kh).t(), MatRef::row_major(&x, n, d), MatMut::row_major(&mut g, kh, d));
        let s = t.elapsed().as_secs_f64();
        println!("backward {:.3}s {:.1} GFLOP/s", s, 2.0 * (n * d * kh) as f64 / s / 1e9);
        let act = Activation::normalized(ActivationNorm::SecondMoment);
        let mut a = vec![0.0; n * kh];
        let mut b = vec![0.0; n * kh];
        let t = Instant::now();
        z.par_chunks(1 << 14).zip(a.par_chunks_mut(1 << 14)).zip(b.par_chunks_mut(1 << 14)).for_each(|((z, a), b)| {
            for ((&u, a), b) in z.iter().zip(a.iter_mut()).zip(b.iter_mut()) {
                (*a, *b) = act.value_and_derivative(u * 1e-3);
            }
        });
        println!("activation {:.3}s", t.elapsed().as_secs_f64());
    }
}
