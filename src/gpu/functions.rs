//! Stand-alone runs of the float32 functions behind the offset formulation and the loss
//! change (functions.wgsl) and of the offset activation kernel, for tests that compare
//! them with float64.

use bytemuck::{Pod, Zeroable};
use wgpu::Buffer;

use super::device::{GpuDevice, GpuError};
use super::kernels::{
    ACTIVATE_OFFSET_BINDINGS, ACTIVATION_SOURCE, Access, Kernel, element_groups, read_buffer,
    storage_buffer, uniform_buffer, wgsl, zeroed_buffer,
};
use super::layout::ActivationParams;

/// functions_check.wgsl after functions.wgsl.
const CHECK_SOURCE: &str = concat!(
    include_str!("../../shaders/functions.wgsl"),
    include_str!("../../shaders/functions_check.wgsl")
);

/// `Params` in functions_check.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct CheckParams {
    count: u32,
    pad: [u32; 3],
}

/// The outputs of the offset activation kernel, each laid out like its input e.
#[derive(Debug, Clone)]
pub struct ActivationChange {
    /// sigma(zhat_0 + e) - sigma(zhat_0).
    pub change: Vec<f32>,
    /// sigma(zhat_0) + change.
    pub z: Vec<f32>,
    /// sigma'(zhat_0 + e).
    pub dsigma: Vec<f32>,
}

/// The compiled evaluation kernels.
pub struct GpuFunctions {
    gpu: GpuDevice,
    expm1: Kernel,
    log1p: Kernel,
    soft_hinge_change: Kernel,
    activate_offset: Kernel,
}

impl GpuFunctions {
    /// Compiles functions_check.wgsl and the activation kernels.
    pub fn new(gpu: &GpuDevice) -> Result<Self, GpuError> {
        use Access::{Read, ReadWrite, Uniform};
        let device = &gpu.device;
        gpu.checked("compiling the function checks", || {
            let check = device.create_shader_module(wgsl("functions_check.wgsl", CHECK_SOURCE));
            let activation =
                device.create_shader_module(wgsl("activation.wgsl", ACTIVATION_SOURCE));
            let bindings = [(0, Uniform), (1, Read), (2, Read), (3, ReadWrite)];
            Self {
                gpu: gpu.clone(),
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

    /// Returns exp(x) - 1 of each value, for |x| <= 1.
    pub fn expm1(&self, x: &[f32]) -> Result<Vec<f32>, GpuError> {
        self.evaluate(&self.expm1, x, x)
    }

    /// Returns ln(1 + y) of each value, for -0.64 <= y <= 1.72.
    pub fn log1p(&self, y: &[f32]) -> Result<Vec<f32>, GpuError> {
        self.evaluate(&self.log1p, y, y)
    }

    /// Returns l(F, y) - l(0, y) of the soft hinge for each output F and target y.
    pub fn soft_hinge_change(
        &self,
        outputs: &[f32],
        targets: &[f32],
    ) -> Result<Vec<f32>, GpuError> {
        assert_eq!(outputs.len(), targets.len(), "one target per output");
        self.evaluate(&self.soft_hinge_change, outputs, targets)
    }

    /// Runs the offset activation kernel on e (rows x cells x hidden) with the hidden layer
    /// at theta_0 (`zhat0`, `logistic0` and `z0`, each rows x hidden) and the activation
    /// constant `a`.
    pub fn activation_change(
        &self,
        a: f32,
        hidden: usize,
        zhat0: &[f32],
        logistic0: &[f32],
        z0: &[f32],
        e: &[f32],
    ) -> Result<ActivationChange, GpuError> {
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
                count: e.len() as u32,
                a,
                hidden: hidden as u32,
                width: width as u32,
            };
            let outputs: [Buffer; 3] =
                ["change", "z", "dsigma"].map(|label| zeroed_buffer(device, label, e.len()));
            let dispatch = self.activate_offset.dispatch(
                device,
                &[
                    &uniform_buffer(device, &params),
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
        let read = |buffer: &Buffer| -> Result<Vec<f32>, GpuError> {
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

    fn evaluate(
        &self,
        kernel: &Kernel,
        first: &[f32],
        second: &[f32],
    ) -> Result<Vec<f32>, GpuError> {
        let gpu = &self.gpu;
        let device = &gpu.device;
        let result = gpu.checked("evaluating a float32 function", || {
            let params = CheckParams {
                count: first.len() as u32,
                pad: [0; 3],
            };
            let result = zeroed_buffer(device, "result", first.len());
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
