//! Stand-alone runs of the functions behind the loss, the offset formulation and the loss
//! change (functions.wgsl, real_f32.wgsl and real_f64.wgsl) and of the offset activation
//! kernel, in float32 or float64, for tests that compare them with the float64 CPU
//! functions.

use bytemuck::{Pod, Zeroable};
use wgpu::Buffer;

use super::device::{GpuDevice, GpuError};
use super::kernels::{
    ACTIVATE_OFFSET_BINDINGS, ACTIVATION_PARTS, Access, Kernel, element_groups, read_buffer,
    storage_buffer, uniform_buffer, uniform_bytes, wgsl, with_real, zeroed_reals,
};
use super::layout::{ActivationParams, Scalar};

/// functions_check.wgsl after functions.wgsl.
const CHECK_PARTS: [&str; 2] = [
    include_str!("../../shaders/functions.wgsl"),
    include_str!("../../shaders/functions_check.wgsl"),
];

/// `Params` in functions_check.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct CheckParams {
    count: u32,
    pad: [u32; 3],
}

/// The outputs of the offset activation kernel, each laid out like its input e.
#[derive(Debug, Clone)]
pub struct ActivationChange<T> {
    /// sigma(zhat_0 + e) - sigma(zhat_0).
    pub change: Vec<T>,
    /// sigma(zhat_0) + change.
    pub z: Vec<T>,
    /// sigma'(zhat_0 + e).
    pub dsigma: Vec<T>,
}

/// The compiled evaluation kernels. Their inputs and results are slices of f32 or f64,
/// whichever the kernels were compiled for.
pub struct GpuFunctions {
    gpu: GpuDevice,
    scalar: Scalar,
    exp: Kernel,
    softplus: Kernel,
    expm1: Kernel,
    log1p: Kernel,
    soft_hinge_change: Kernel,
    activate_offset: Kernel,
}

impl GpuFunctions {
    /// Compiles functions_check.wgsl and the activation kernels in float32.
    pub fn new(gpu: &GpuDevice) -> Result<Self, GpuError> {
        Self::with_scalar(gpu, Scalar::F32)
    }

    /// Compiles functions_check.wgsl and the activation kernels with `real` = `scalar`.
    /// Float64 needs a device with `wgpu::Features::SHADER_F64`.
    pub fn with_scalar(gpu: &GpuDevice, scalar: Scalar) -> Result<Self, GpuError> {
        use Access::{Read, ReadWrite, Uniform};
        let device = &gpu.device;
        gpu.checked("compiling the function checks", || {
            let check = device.create_shader_module(wgsl(
                "functions_check.wgsl",
                with_real(scalar, &CHECK_PARTS),
            ));
            let activation = device.create_shader_module(wgsl(
                "activation.wgsl",
                with_real(scalar, &ACTIVATION_PARTS),
            ));
            let bindings = [(0, Uniform), (1, Read), (2, Read), (3, ReadWrite)];
            Self {
                gpu: gpu.clone(),
                scalar,
                exp: Kernel::new(device, &check, "evaluate_exp", &bindings, &[]),
                softplus: Kernel::new(device, &check, "evaluate_softplus", &bindings, &[]),
                expm1: Kernel::new(device, &check, "evaluate_expm1", &bindings, &[]),
                log1p: Kernel::new(device, &check, "evaluate_log1p", &bindings, &[]),
                soft_hinge_change: Kernel::new(
                    device,
                    &check,
                    "evaluate_soft_hinge_change",
                    &bindings,
                    &[],
                ),
                activate_offset: Kernel::new(
                    device,
                    &activation,
                    "activate_offset",
                    &ACTIVATE_OFFSET_BINDINGS,
                    &[],
                ),
            }
        })
    }

    /// Returns exp(x) of each value, as the kernels compute it.
    pub fn exp<T: Pod>(&self, x: &[T]) -> Result<Vec<T>, GpuError> {
        self.evaluate(&self.exp, x, x)
    }

    /// Returns ln(1 + exp(x)) of each value.
    pub fn softplus<T: Pod>(&self, x: &[T]) -> Result<Vec<T>, GpuError> {
        self.evaluate(&self.softplus, x, x)
    }

    /// Returns exp(x) - 1 of each value, for |x| <= 1.
    pub fn expm1<T: Pod>(&self, x: &[T]) -> Result<Vec<T>, GpuError> {
        self.evaluate(&self.expm1, x, x)
    }

    /// Returns ln(1 + y) of each value, for -0.64 <= y <= 1.72.
    pub fn log1p<T: Pod>(&self, y: &[T]) -> Result<Vec<T>, GpuError> {
        self.evaluate(&self.log1p, y, y)
    }

    /// Returns l(F, y) - l(0, y) of the soft hinge for each output F and target y.
    pub fn soft_hinge_change<T: Pod>(
        &self,
        outputs: &[T],
        targets: &[T],
    ) -> Result<Vec<T>, GpuError> {
        assert_eq!(outputs.len(), targets.len(), "one target per output");
        self.evaluate(&self.soft_hinge_change, outputs, targets)
    }

    /// Runs the offset activation kernel on e (rows x cells x hidden) with the hidden layer
    /// at theta_0 (`zhat0`, `logistic0` and `z0`, each rows x hidden) and the activation
    /// constant `a`.
    pub fn activation_change<T: Pod>(
        &self,
        a: f64,
        hidden: usize,
        zhat0: &[T],
        logistic0: &[T],
        z0: &[T],
        e: &[T],
    ) -> Result<ActivationChange<T>, GpuError> {
        self.check_type::<T>();
        let rows = zhat0.len() / hidden.max(1);
        assert_eq!(rows * hidden, zhat0.len(), "zhat0 must hold whole rows");
        assert_eq!(logistic0.len(), zhat0.len());
        assert_eq!(z0.len(), zhat0.len());
        let width = e.len() / rows.max(1);
        assert_eq!(width % hidden, 0, "e must be rows x cells x hidden");
        assert_eq!(width * rows, e.len(), "e must be rows x cells x hidden");
        let gpu = &self.gpu;
        let device = &gpu.device;
        let outputs = gpu.checked("running the offset activation", || {
            let params = ActivationParams {
                a,
                count: e.len() as u32,
                hidden: hidden as u32,
                width: width as u32,
            };
            let outputs: [Buffer; 3] = ["change", "z", "dsigma"]
                .map(|label| zeroed_reals(device, label, e.len(), self.scalar));
            let dispatch = self.activate_offset.dispatch(
                device,
                &[
                    &uniform_bytes(device, &params.bytes(self.scalar)),
                    &storage_buffer(device, "e", e),
                    &outputs[1],
                    &outputs[2],
                    &outputs[0],
                    &storage_buffer(device, "zhat_0", zhat0),
                    &storage_buffer(device, "logistic(beta zhat_0)", logistic0),
                    &storage_buffer(device, "sigma(zhat_0)", z0),
                ],
                // Two workgroups, so that each invocation loops over many elements as on
                // a CPU-hosted adapter.
                element_groups(e.len(), 2),
            );
            self.submit(&dispatch);
            outputs
        })?;
        let read = |buffer: &Buffer| -> Result<Vec<T>, GpuError> {
            let mut values = read_buffer(gpu, buffer, "the activation outputs")?;
            values.truncate(e.len());
            Ok(values)
        };
        Ok(ActivationChange {
            change: read(&outputs[0])?,
            z: read(&outputs[1])?,
            dsigma: read(&outputs[2])?,
        })
    }

    /// Panics unless `T` is the type the kernels compute in.
    fn check_type<T>(&self) {
        assert_eq!(
            std::mem::size_of::<T>() as u64,
            self.scalar.bytes(),
            "the values must be of the type the kernels were compiled for ({:?})",
            self.scalar
        );
    }

    fn evaluate<T: Pod>(
        &self,
        kernel: &Kernel,
        first: &[T],
        second: &[T],
    ) -> Result<Vec<T>, GpuError> {
        self.check_type::<T>();
        let gpu = &self.gpu;
        let device = &gpu.device;
        let result = gpu.checked("evaluating a function", || {
            let params = CheckParams {
                count: first.len() as u32,
                pad: [0; 3],
            };
            let result = zeroed_reals(device, "result", first.len(), self.scalar);
            let dispatch = kernel.dispatch(
                device,
                &[
                    &uniform_buffer(device, &params),
                    &storage_buffer(device, "first", first),
                    &storage_buffer(device, "second", second),
                    &result,
                ],
                element_groups(first.len(), u32::MAX),
            );
            self.submit(&dispatch);
            result
        })?;
        let mut values = read_buffer(gpu, &result, "the function values")?;
        values.truncate(first.len());
        Ok(values)
    }

    fn submit(&self, dispatch: &super::kernels::Dispatch) {
        let mut encoder = self.gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            dispatch.record(&mut pass);
        }
        self.gpu.queue.submit([encoder.finish()]);
    }
}
