//! The GPU matrix-product kernel against a float64 product of the same float32 inputs.
//!
//! Every test prints a message and returns early when no GPU adapter exists, so the suite
//! passes on machines without a Vulkan driver.

mod common;

use common::open_gpu_device;

use lazysweep::gpu::{
    GpuDevice, GpuMatmul, MatmulConfig, MatmulKind, MatmulShape, Operand, panels_supported,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

fn index(op: Operand, batch: u32, i: u32, j: u32) -> usize {
    (op.offset + batch * op.batch_stride + i * op.row_stride + j * op.col_stride) as usize
}

/// Runs the product on the GPU and checks every element of C.
///
/// The inputs are float32 on both sides, so the only error is float32 rounding in the
/// kernel: k products and k sums accumulated one after the other, a multiplication by
/// `scale` and, when accumulating, one more addition. The standard bound for a recursive
/// dot product (Higham, Accuracy and Stability of Numerical Algorithms, section 3.1) gives
/// |computed - exact| <= gamma_(k+2) (|scale| sum_k |a_ik| |b_kj| + |c_ij|), with
/// gamma_m = m u / (1 - m u) and u = 2^-24. Elements of C that the product does not cover
/// must keep their values exactly.
/// Returns `configs` without the panel kernel when the adapter cannot run it, saying so.
fn runnable(gpu: &GpuDevice, configs: &[MatmulConfig]) -> Vec<MatmulConfig> {
    if !panels_supported(gpu) {
        eprintln!(
            "adapter '{}' has no subgroups of 8 invocations: the panel kernel is not tested",
            gpu.info.name
        );
    }
    configs
        .iter()
        .copied()
        .filter(|config| config.kind != MatmulKind::Panels || panels_supported(gpu))
        .collect()
}

fn check_product(
    gpu: &GpuDevice,
    config: MatmulConfig,
    shape: &MatmulShape,
    a: &[f32],
    b: &[f32],
    c: &[f32],
) {
    let product = GpuMatmul::new(gpu, config, shape, a, b, c).unwrap();
    product.run(1).unwrap();
    let result = product.read().unwrap();

    let unit = 2f64.powi(-24);
    let steps = f64::from(shape.k + 2);
    let gamma = steps * unit / (1.0 - steps * unit);
    let mut covered = vec![false; c.len()];
    for batch in 0..shape.batch {
        for i in 0..shape.m {
            for j in 0..shape.n {
                let mut exact = 0.0f64;
                let mut magnitude = 0.0f64;
                for kk in 0..shape.k {
                    let x = f64::from(a[index(shape.a, batch, i, kk)]);
                    let y = f64::from(b[index(shape.b, batch, kk, j)]);
                    exact += x * y;
                    magnitude += (x * y).abs();
                }
                let at = index(shape.c, batch, i, j);
                covered[at] = true;
                let scale = shape.scale;
                exact *= scale;
                magnitude *= scale.abs();
                if shape.accumulate {
                    exact += f64::from(c[at]);
                    magnitude += f64::from(c[at]).abs();
                }
                let error = (f64::from(result[at]) - exact).abs();
                assert!(
                    error <= gamma * magnitude,
                    "C[{batch}]({i}, {j}) = {} but float64 gives {exact}: error {error:e} above bound {:e} \
                     for m = {}, n = {}, k = {}",
                    result[at],
                    gamma * magnitude,
                    shape.m,
                    shape.n,
                    shape.k
                );
            }
        }
    }
    for (at, (&got, &before)) in result.iter().zip(c).enumerate() {
        if !covered[at] {
            assert_eq!(
                got.to_bits(),
                before.to_bits(),
                "C[{at}] lies outside the product but changed"
            );
        }
    }
}

fn plain(m: u32, n: u32, k: u32) -> MatmulShape {
    MatmulShape {
        batch: 1,
        m,
        n,
        k,
        a: Operand::row_major(k),
        b: Operand::row_major(n),
        c: Operand::row_major(n),
        scale: 1.0,
        accumulate: false,
    }
}

const SHAPES: [(u32, u32, u32); 4] = [(37, 53, 29), (1, 1, 1), (65, 7, 130), (8, 16, 8)];

#[test]
fn row_major_products() {
    let Some(gpu) = open_gpu_device() else { return };
    for (m, k, n) in SHAPES {
        let shape = plain(m, n, k);
        let a = random((m * k) as usize, 1);
        let b = random((k * n) as usize, 2);
        let c = random((m * n) as usize, 3);
        check_product(&gpu, MatmulConfig::default(), &shape, &a, &b, &c);
    }
}

#[test]
fn other_workgroup_shapes() {
    let Some(gpu) = open_gpu_device() else { return };
    let configs = [
        MatmulConfig::registers(16, 4),
        MatmulConfig::registers(1, 64),
        MatmulConfig::registers(3, 5),
        MatmulConfig::TILED,
        MatmulConfig::PANELS,
    ];
    for config in runnable(&gpu, &configs) {
        for (m, k, n) in SHAPES {
            let shape = plain(m, n, k);
            let a = random((m * k) as usize, 4);
            let b = random((k * n) as usize, 5);
            check_product(&gpu, config, &shape, &a, &b, &vec![0.0; (m * n) as usize]);
        }
    }
}

#[test]
fn scaled_accumulating_product() {
    let Some(gpu) = open_gpu_device() else { return };
    let (m, k, n) = (37, 53, 29);
    let shape = MatmulShape {
        scale: 0.125,
        accumulate: true,
        ..plain(m, n, k)
    };
    let a = random((m * k) as usize, 6);
    let b = random((k * n) as usize, 7);
    let c = random((m * n) as usize, 8);
    let configs = [
        MatmulConfig::default(),
        MatmulConfig::TILED,
        MatmulConfig::PANELS,
    ];
    for config in runnable(&gpu, &configs) {
        check_product(&gpu, config, &shape, &a, &b, &c);
    }
}

/// Shapes that cut the panel kernel's work in every way it plans: more than one panel of
/// rows and of columns with ragged last panels, more steps of k than the windows of one
/// dispatch (so later parts add to C), batched operands at offsets, and thin products
/// (k = 0, n = 9), which the panel kernel hands to the register kernel.
#[test]
fn panel_products_cut_into_windows() {
    let Some(gpu) = open_gpu_device() else { return };
    if runnable(&gpu, &[MatmulConfig::PANELS]).is_empty() {
        return;
    }
    let config = MatmulConfig::PANELS;
    // (m, k, n): panels of 128 rows and 24 columns leave 128 steps of k per window, so
    // k = 1300 takes three dispatches per tile of C, of at most five windows each.
    for (m, k, n) in [
        (130, 1300, 19),
        (17, 20, 300),
        (121, 641, 135),
        (130, 700, 9),
        (5, 0, 7),
    ] {
        let shape = MatmulShape {
            scale: 0.5,
            accumulate: true,
            ..plain(m, n, k)
        };
        let a = random((m * k) as usize, 16);
        let b = random((k * n) as usize, 17);
        let c = random((m * n) as usize, 18);
        check_product(&gpu, config, &shape, &a, &b, &c);
    }

    // Two batch entries of transposed A at an offset, B row-major at an offset, and C
    // inside a wider matrix.
    let (batch, m, k, n) = (2u32, 129u32, 650u32, 17u32);
    let a_offset = 3;
    let b_offset = 5;
    let shape = MatmulShape {
        batch,
        m,
        n,
        k,
        a: Operand::transposed(m)
            .with_offset(a_offset)
            .with_batch_stride(m * k),
        b: Operand::row_major(n)
            .with_offset(b_offset)
            .with_batch_stride(k * n + 1),
        c: Operand::row_major(2 * n)
            .with_offset(1)
            .with_batch_stride(n),
        scale: 1.0,
        accumulate: false,
    };
    let a = random((a_offset + batch * m * k) as usize, 19);
    let b = random((b_offset + batch * (k * n + 1)) as usize, 20);
    let c = random((1 + m * 2 * n) as usize, 21);
    check_product(&gpu, config, &shape, &a, &b, &c);
}

/// The four products of a training step, with the engine's layouts: X is n x d, W0 of the
/// `cells` cells is stacked into (cells h) x d, W1 is 10 x h per cell, zhat and Delta are
/// n x (cells h), and f and g = dL/df are [cell][sample][class].
#[test]
fn training_step_products() {
    let Some(gpu) = open_gpu_device() else { return };
    let classes = 10;
    let configs = [
        MatmulConfig::default(),
        MatmulConfig::TILED,
        MatmulConfig::PANELS,
    ];
    let cases = [(37u32, 53u32, 29u32, 3u32), (1, 1, 1, 1), (65, 7, 130, 2)];
    for (config, (n, d, h, cells)) in runnable(&gpu, &configs)
        .into_iter()
        .flat_map(|c| cases.map(|case| (c, case)))
    {
        let width = cells * h;
        let x = random((n * d) as usize, 9);
        let w0 = random((width * d) as usize, 10);
        let z = random((n * width) as usize, 11);
        let w1 = random((cells * classes * h) as usize, 12);
        let g = random((cells * n * classes) as usize, 13);
        // Representable in float32, so that the kernel multiplies by exactly this scale.
        let scale = f64::from(1.0 / (d as f32).sqrt());

        // zhat = X W0stack^T / sqrt(d)
        let forward = MatmulShape {
            batch: 1,
            m: n,
            n: width,
            k: d,
            a: Operand::row_major(d),
            b: Operand::transposed(d),
            c: Operand::row_major(width),
            scale,
            accumulate: false,
        };
        check_product(
            &gpu,
            config,
            &forward,
            &x,
            &w0,
            &vec![0.0; (n * width) as usize],
        );

        // f_c = Z_c W1_c^T, one batch entry per cell.
        let output = MatmulShape {
            batch: cells,
            m: n,
            n: classes,
            k: h,
            a: Operand::row_major(width).with_batch_stride(h),
            b: Operand::transposed(h).with_batch_stride(classes * h),
            c: Operand::row_major(classes).with_batch_stride(n * classes),
            scale,
            accumulate: false,
        };
        check_product(
            &gpu,
            config,
            &output,
            &z,
            &w1,
            &vec![0.0; (cells * n * classes) as usize],
        );

        // dW1_c = g_c^T Z_c, added to an earlier chunk's sum.
        let w1_gradient = MatmulShape {
            batch: cells,
            m: classes,
            n: h,
            k: n,
            a: Operand::transposed(classes).with_batch_stride(n * classes),
            b: Operand::row_major(width).with_batch_stride(h),
            c: Operand::row_major(h).with_batch_stride(classes * h),
            scale,
            accumulate: true,
        };
        let earlier = random((cells * classes * h) as usize, 14);
        check_product(&gpu, config, &w1_gradient, &g, &z, &earlier);

        // dW0stack = Delta^T X, added to an earlier chunk's sum.
        let w0_gradient = MatmulShape {
            batch: 1,
            m: width,
            n: d,
            k: n,
            a: Operand::transposed(width),
            b: Operand::row_major(d),
            c: Operand::row_major(d),
            scale,
            accumulate: true,
        };
        let earlier = random((width * d) as usize, 15);
        check_product(&gpu, config, &w0_gradient, &z, &x, &earlier);
    }
}

#[test]
fn workgroup_shape_measured_on_adapter() {
    let Some(gpu) = open_gpu_device() else { return };
    let (chosen, timings) = lazysweep::gpu::measure_matmul_config(&gpu).unwrap();
    assert_eq!(
        timings.len(),
        runnable(&gpu, &lazysweep::gpu::MATMUL_CANDIDATES).len()
    );
    for timing in &timings {
        assert!(timing.seconds.is_finite(), "{timing:?}");
        assert!(timing.seconds > 0.0, "{timing:?}");
    }
    let fastest = timings
        .iter()
        .map(|t| t.seconds)
        .fold(f64::INFINITY, f64::min);
    let chosen_time = timings.iter().find(|t| t.config == chosen).unwrap().seconds;
    assert_eq!(chosen_time, fastest, "chose {chosen:?} from {timings:?}");
}
