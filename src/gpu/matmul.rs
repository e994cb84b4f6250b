//! A stand-alone batched matrix product on the GPU, for tests and benchmarks of the kernel
//! the engine uses.

use wgpu::Buffer;

use super::device::{GpuDevice, GpuError};
use super::kernels::{
    Dispatch, MatmulConfig, MatmulKernel, MatmulShape, read_buffer, storage_buffer,
};

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
        let kernel = MatmulKernel::new(gpu, config)?;
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
