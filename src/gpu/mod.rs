//! The float32 GPU engine on wgpu, and the device and kernels it is built from.
//!
//! Kernels are WGSL files in `shaders/`: matrix products (matmul.wgsl), the activation
//! (activation.wgsl), the loss and its gradient (loss.wgsl), the optimizer update
//! (update.wgsl) and the final metrics (metrics.wgsl).

mod batch;
mod device;
mod engine;
mod kernels;
mod layout;
mod matmul;

pub use device::{GpuDevice, GpuError};
pub use engine::GpuEngine;
pub use kernels::{MATMUL_BLOCK, MatmulConfig, MatmulShape, Operand};
pub use matmul::GpuMatmul;
