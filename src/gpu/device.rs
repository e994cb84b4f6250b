//! Adapter choice, device creation and the error handling around GPU work.

use std::future::Future;

use log::{error, info};
use wgpu::{Adapter, DeviceType, ErrorFilter, Limits};

/// Errors of the GPU engine.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error(
        "no GPU adapter found: install a Vulkan driver (for a software one, the Debian or \
         Ubuntu packages mesa-vulkan-drivers and libvulkan1) or use --backend cpu"
    )]
    NoAdapter,
    #[error("failed to open a device on adapter '{adapter}': {source}; use --backend cpu")]
    RequestDevice {
        adapter: String,
        source: wgpu::RequestDeviceError,
    },
    #[error(
        "GPU validation failed while {operation}: {message}. This is a defect in the GPU \
         engine; use --backend cpu and report the message"
    )]
    Validation { operation: String, message: String },
    #[error(
        "the GPU ran out of memory while {operation}: {message}; train fewer cells per batch \
         (--batch) or use --backend cpu"
    )]
    OutOfMemory { operation: String, message: String },
    #[error(
        "{what} needs {bytes} bytes in one binding, but adapter '{adapter}' allows at most \
         {limit}; reduce the hidden width or use --backend cpu"
    )]
    TooLarge {
        what: String,
        bytes: u64,
        limit: u64,
        adapter: String,
    },
    #[error(
        "the {kernel} matrix-product kernel needs {needs}, which adapter '{adapter}' lacks; \
         use another kernel"
    )]
    KernelUnsupported {
        kernel: String,
        adapter: String,
        needs: &'static str,
    },
    #[error("waiting for the GPU failed while {operation}: {message}; use --backend cpu")]
    Wait { operation: String, message: String },
    #[error(
        "double-float (df64) arithmetic failed its self-test on adapter '{adapter}': \
         {detail}. The adapter's shader compiler or float32 arithmetic defeats the \
         error-free transformations that df64 is built from; use --precision offset or \
         --precision f32, or --backend cpu"
    )]
    Df64Unsupported { adapter: String, detail: String },
}

/// An open device with the adapter facts the engine plans with.
#[derive(Clone)]
pub struct GpuDevice {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: Limits,
    /// Optional features enabled on the device.
    pub features: wgpu::Features,
}

impl GpuDevice {
    /// Opens a device on the best adapter: discrete, then integrated, then virtual, then
    /// CPU-hosted. `WGPU_BACKEND` and the other wgpu environment variables restrict the
    /// search.
    pub fn new() -> Result<Self, GpuError> {
        pollster::block_on(Self::open())
    }

    async fn open() -> Result<Self, GpuError> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapters = instance.enumerate_adapters(wgpu::Backends::all()).await;
        let adapter = adapters
            .into_iter()
            .filter(|adapter| {
                adapter
                    .get_downlevel_capabilities()
                    .flags
                    .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
            })
            .min_by_key(|adapter| device_type_rank(adapter.get_info().device_type))
            .ok_or(GpuError::NoAdapter)?;
        let info = adapter.get_info();
        info!(
            "gpu: adapter '{}' ({:?} backend, {:?} device, driver '{}' {})",
            info.name, info.backend, info.device_type, info.driver, info.driver_info
        );

        let limits = required_limits(&adapter);
        // Timestamps time each kernel of a training step in `GpuEngine::profile_step`,
        // 64-bit floats serve `--precision f64`, and subgroups the panel product kernel.
        let features = adapter.features()
            & (wgpu::Features::TIMESTAMP_QUERY
                | wgpu::Features::SHADER_F64
                | wgpu::Features::SUBGROUP);
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("lazysweep"),
            required_features: features,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        };
        let (device, queue) = adapter
            .request_device(&descriptor)
            .await
            .map_err(|source| GpuError::RequestDevice {
                adapter: info.name.clone(),
                source,
            })?;
        device.on_uncaptured_error(std::sync::Arc::new(|err: wgpu::Error| {
            error!("gpu: uncaptured error: {err}");
        }));
        Ok(Self {
            device,
            queue,
            info,
            limits,
            features,
        })
    }

    /// Returns whether the adapter runs on the CPU (such as Mesa's lavapipe), where the
    /// float64 CPU engine is faster than this one.
    pub fn is_cpu_adapter(&self) -> bool {
        self.info.device_type == DeviceType::Cpu
    }

    /// Returns whether the adapter is a discrete or integrated GPU.
    pub fn is_real_gpu(&self) -> bool {
        matches!(
            self.info.device_type,
            DeviceType::DiscreteGpu | DeviceType::IntegratedGpu
        )
    }

    /// Runs `work` inside validation and out-of-memory error scopes, so that a wgpu error
    /// becomes a `GpuError` naming `operation` instead of a panic.
    pub fn checked<T>(&self, operation: &str, work: impl FnOnce() -> T) -> Result<T, GpuError> {
        let validation = self.device.push_error_scope(ErrorFilter::Validation);
        let memory = self.device.push_error_scope(ErrorFilter::OutOfMemory);
        let value = work();
        let memory_error = block_on(memory.pop());
        let validation_error = block_on(validation.pop());
        if let Some(err) = memory_error {
            return Err(GpuError::OutOfMemory {
                operation: operation.into(),
                message: err.to_string(),
            });
        }
        if let Some(err) = validation_error {
            return Err(GpuError::Validation {
                operation: operation.into(),
                message: err.to_string(),
            });
        }
        Ok(value)
    }

    /// Blocks until every submitted command has finished.
    pub fn wait(&self, operation: &str) -> Result<(), GpuError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|err| GpuError::Wait {
                operation: operation.into(),
                message: err.to_string(),
            })
    }

    /// Checks that one binding of `bytes` bytes fits the adapter's binding limit.
    pub fn check_binding(&self, what: &str, bytes: u64) -> Result<(), GpuError> {
        let limit = self
            .limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size);
        if bytes > limit {
            return Err(GpuError::TooLarge {
                what: what.into(),
                bytes,
                limit,
                adapter: self.info.name.clone(),
            });
        }
        Ok(())
    }
}

fn block_on<F: Future>(future: F) -> F::Output {
    pollster::block_on(future)
}

/// Orders device types from most to least preferred.
fn device_type_rank(device_type: DeviceType) -> u8 {
    match device_type {
        DeviceType::DiscreteGpu => 0,
        DeviceType::IntegratedGpu => 1,
        DeviceType::VirtualGpu => 2,
        DeviceType::Cpu => 3,
        DeviceType::Other => 4,
    }
}

/// Returns the WebGPU default limits, lowered where the adapter offers less and raised to
/// what it offers for the limits that bound a batch: buffer and binding sizes, storage
/// buffers per kernel, workgroup storage and workgroup counts.
fn required_limits(adapter: &Adapter) -> Limits {
    let offered = adapter.limits();
    let defaults = Limits::default().or_worse_values_from(&offered);
    Limits {
        max_storage_buffer_binding_size: offered.max_storage_buffer_binding_size,
        max_buffer_size: offered.max_buffer_size,
        max_compute_workgroup_storage_size: offered.max_compute_workgroup_storage_size,
        max_storage_buffers_per_shader_stage: offered.max_storage_buffers_per_shader_stage,
        max_compute_workgroups_per_dimension: offered.max_compute_workgroups_per_dimension,
        ..defaults
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_adapter_message_names_fixes() {
        let message = GpuError::NoAdapter.to_string();
        assert!(message.contains("mesa-vulkan-drivers"), "{message}");
        assert!(message.contains("--backend cpu"), "{message}");
    }

    #[test]
    fn unsupported_kernel_message_names_adapter_and_need() {
        let message = GpuError::KernelUnsupported {
            kernel: "panels 128x128".into(),
            adapter: "example adapter".into(),
            needs: "subgroup operations in subgroups of exactly 8 invocations",
        }
        .to_string();
        assert!(message.contains("panels 128x128"), "{message}");
        assert!(message.contains("'example adapter'"), "{message}");
        assert!(message.contains("subgroups of exactly 8"), "{message}");
    }

    #[test]
    fn device_types_rank_gpus_first() {
        assert!(
            device_type_rank(DeviceType::DiscreteGpu) < device_type_rank(DeviceType::IntegratedGpu)
        );
        assert!(
            device_type_rank(DeviceType::IntegratedGpu) < device_type_rank(DeviceType::VirtualGpu)
        );
        assert!(device_type_rank(DeviceType::VirtualGpu) < device_type_rank(DeviceType::Cpu));
    }
}
