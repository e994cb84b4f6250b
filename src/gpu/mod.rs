//! The float32 GPU engine on wgpu, and the device and kernels it is built from.
//!
//! Kernels are WGSL files in `shaders/`: matrix products (matmul.wgsl), the activation
//! (activation.wgsl), the loss and its gradient (loss.wgsl), the optimizer update
//! (update.wgsl) and the final metrics (metrics.wgsl). df64.wgsl is a library of
//! double-float arithmetic that kernels prepend, checked on the adapter by
//! df64_selftest.wgsl.

mod batch;
mod df64;
mod device;
mod engine;
mod kernels;
mod layout;
mod matmul;

pub use df64::{
    DF64_MAX_RELATIVE_ERROR, Df64SelfTest, TwoProductSample, TwoSumSample, df64_wgsl,
    require_df64, self_test as df64_self_test, with_df64_wgsl,
};
pub use device::{GpuDevice, GpuError};
pub use engine::GpuEngine;
pub use kernels::{MATMUL_BLOCK, MatmulConfig, MatmulShape, Operand};
pub use matmul::GpuMatmul;
