//! A stand-alone batched matrix product on the GPU, for tests and benchmarks of the kernel
//! the engine uses.

use wgpu::Buffer;

use super::device::{GpuDevice, GpuError};
use super::kernels::{
    Dispatch, MatmulConfig, MatmulKernel, MatmulKind, MatmulShape, panels_supported, read_buffer,
    storage_buffer,
};
use super::layout::Scalar;

/// The operands of one product, uploaded once, and the prepared dispatch.
pub struct GpuMatmul {
    gpu: GpuDevice,
    c: Buffer,
    dispatch: Dispatch,
}

impl GpuMatmul {
    /// Uploads A, B and the initial C (read only when `shape.accumulate` is set).
    pub fn new(
        gpu: &GpuDevice,
        config: MatmulConfig,
        shape: &MatmulShape,
        a: &[f32],
        b: &[f32],
        c: &[f32],
    ) -> Result<Self, GpuError> {
        for (what, values) in [("operand A", a), ("operand B", b), ("result C", c)] {
            gpu.check_binding(what, 4 * values.len() as u64)?;
        }
        let kernel = MatmulKernel::new(gpu, config, Scalar::F32)?;
        let (c_buffer, dispatch) = gpu.checked("preparing a matrix product", || {
            let a = storage_buffer(&gpu.device, "A", a);
            let b = storage_buffer(&gpu.device, "B", b);
            let c = storage_buffer(&gpu.device, "C", c);
            let dispatch = kernel.prepare(gpu, shape, &a, &b, &c);
            (c, dispatch)
        })?;
        Ok(Self {
            gpu: gpu.clone(),
            c: c_buffer,
            dispatch: dispatch?,
        })
    }

    /// Runs the product `repeats` times in one submission and waits for it to finish.
    pub fn run(&self, repeats: usize) -> Result<(), GpuError> {
        self.gpu.checked("running a matrix product", || {
            let mut encoder = self.gpu.device.create_command_encoder(&Default::default());
            {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                for _ in 0..repeats {
                    self.dispatch.record(&mut pass);
                }
            }
            self.gpu.queue.submit([encoder.finish()]);
        })?;
        self.gpu.wait("running a matrix product")
    }

    /// Returns the contents of C.
    pub fn read(&self) -> Result<Vec<f32>, GpuError> {
        read_buffer(&self.gpu, &self.c, "the product C")
    }
}

/// Kernels that [`measure_matmul_config`] times: the register-blocked kernel in four
/// workgroup shapes of 64 invocations, the workgroup-memory tiled kernel and the kernel that
/// reads packed operands through uniform buffers.
pub const MATMUL_CANDIDATES: [MatmulConfig; 6] = [
    MatmulConfig::registers(8, 8),
    MatmulConfig::registers(16, 4),
    MatmulConfig::registers(4, 16),
    MatmulConfig::registers(32, 2),
    MatmulConfig::TILED,
    MatmulConfig::PANELS,
];

/// Times of one candidate workgroup shape on the probe product.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatmulTiming {
    pub config: MatmulConfig,
    /// The fastest of the timed runs, in seconds.
    pub seconds: f64,
}

/// Times every kernel of [`MATMUL_CANDIDATES`] that the adapter runs on a forward-pass
/// product of 256 samples, 256 inputs and 512 hidden units, and returns the fastest with
/// all timings.
///
/// Which kernel wins depends on the adapter: GPUs gain from staging tiles in workgroup
/// memory, while CPU-hosted drivers such as lavapipe pay more for its barriers than they
/// save and read uniform buffers far faster than storage buffers, so the choice is
/// measured on the adapter in use.
pub fn measure_matmul_config(
    gpu: &GpuDevice,
) -> Result<(MatmulConfig, Vec<MatmulTiming>), GpuError> {
    const RUNS: usize = 3;
    let (n, d, width) = (256u32, 256u32, 512u32);
    let shape = MatmulShape {
        batch: 1,
        m: n,
        n: width,
        k: d,
        a: super::kernels::Operand::row_major(d),
        b: super::kernels::Operand::transposed(d),
        c: super::kernels::Operand::row_major(width),
        scale: 1.0,
        accumulate: false,
    };
    let values =
        |len: u32| -> Vec<f32> { (0..len).map(|i| ((i % 31) as f32 - 15.0) / 31.0).collect() };
    let (a, b, c) = (
        values(n * d),
        values(width * d),
        vec![0.0; (n * width) as usize],
    );

    let mut timings = Vec::with_capacity(MATMUL_CANDIDATES.len());
    let candidates = MATMUL_CANDIDATES
        .into_iter()
        .filter(|config| config.kind != MatmulKind::Panels || panels_supported(gpu));
    for config in candidates {
        let product = GpuMatmul::new(gpu, config, &shape, &a, &b, &c)?;
        // The first run compiles the pipeline in some drivers, so it is not timed.
        product.run(1)?;
        let mut best = f64::INFINITY;
        for _ in 0..RUNS {
            let started = std::time::Instant::now();
            product.run(1)?;
            best = best.min(started.elapsed().as_secs_f64());
        }
        timings.push(MatmulTiming {
            config,
            seconds: best,
        });
    }
    let fastest = timings
        .iter()
        .min_by(|x, y| x.seconds.total_cmp(&y.seconds))
        .expect("candidates are not empty")
        .config;
    Ok((fastest, timings))
}
