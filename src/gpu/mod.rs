//! The GPU engine on wgpu, and the device and kernels it is built from.
//!
//! The engine trains in the plain formulation (`--precision f32`), in the offset one
//! (`--precision offset`), which stores delta = theta - theta_0 and computes f - f_0
//! without subtracting f_0, starting from the hidden layer at theta_0 that the host
//! computes in float64, in the offset formulation with theta held in double-float
//! (`--precision df64`), or in the plain formulation in float64 on adapters with 64-bit
//! floats in shaders (`--precision f64`). Every mode measures the loss change L_t - L_0,
//! the fraction of each update lost to rounding and the cancellation in f - f_0, and
//! reads back only the per-cell results.
//!
//! Kernels are WGSL files in `shaders/`: matrix products (matmul.wgsl, matmul_tiled.wgsl
//! and matmul_panels.wgsl, one of them chosen by timing on the adapter), the activation
//! and its offset form (activation.wgsl), the loss, its change and its gradient
//! (loss.wgsl), the df64 output change (output_df64.wgsl), the optimizer update with its
//! rounding measure (update.wgsl) and the final metrics (metrics.wgsl). They compute in
//! the type `real`, which real_f32.wgsl or real_f64.wgsl declares together with exp,
//! expm1, log1p and a finiteness test in that type. The host prepends one of the two to
//! every training kernel. functions.wgsl contains softplus, logistic and the activation
//! and loss changes, and is prepended to activation.wgsl and loss.wgsl. df64.wgsl is a
//! library of double-float arithmetic that loss.wgsl, update.wgsl and output_df64.wgsl
//! prepend, checked on the adapter by df64_selftest.wgsl. cells.wgsl declares the cell
//! structs of loss.wgsl and update.wgsl, and matmul_shape.wgsl the uniform of matmul.wgsl
//! and matmul_tiled.wgsl. The panel product and the df64 kernels compute in float32 only.

mod batch;
mod device;
mod df64;
mod engine;
mod functions;
mod kernels;
mod layout;
mod matmul;
mod offset;
mod profile;

pub use device::{GpuDevice, GpuError};
pub use df64::{
    DF64_MAX_RELATIVE_ERROR, Df64SelfTest, TwoProductSample, TwoSumSample, df64_wgsl, require_df64,
    self_test as df64_self_test, with_df64_wgsl,
};
pub use engine::GpuEngine;
pub use functions::{ActivationChange, GpuFunctions};
pub use kernels::{MATMUL_BLOCK, MatmulConfig, MatmulKind, MatmulShape, Operand, panels_supported};
pub use layout::Scalar;
pub use matmul::{GpuMatmul, MATMUL_CANDIDATES, MatmulTiming, measure_matmul_config};
pub use profile::{KernelTime, StepProfile};
