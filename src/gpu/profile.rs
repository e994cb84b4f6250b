//! Time of each kernel in one training step, measured with GPU timestamps.

use super::batch::Batch;
use super::device::{GpuDevice, GpuError};
use super::kernels::read_buffer;

/// Total time of the dispatches of one kernel within a step.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelTime {
    /// The kernel's entry point, such as `matmul` or `update`.
    pub name: &'static str,
    pub dispatches: usize,
    pub seconds: f64,
}

impl KernelTime {
    /// Returns whether the kernel is a matrix product.
    pub fn is_product(&self) -> bool {
        self.name.starts_with("matmul")
    }
}

/// The kernels of one training step with their times, slowest first.
#[derive(Debug, Clone)]
pub struct StepProfile {
    pub kernels: Vec<KernelTime>,
}

impl StepProfile {
    /// Returns the time of every dispatch of the step added up.
    pub fn total_seconds(&self) -> f64 {
        self.kernels.iter().map(|k| k.seconds).sum()
    }

    /// Returns the time of the matrix products.
    pub fn product_seconds(&self) -> f64 {
        self.kernels
            .iter()
            .filter(|k| k.is_product())
            .map(|k| k.seconds)
            .sum()
    }

    /// Returns the fraction of the step's time spent in matrix products.
    pub fn product_share(&self) -> f64 {
        self.product_seconds() / self.total_seconds()
    }
}

/// Runs step 0 of `batch` untimed, then times every dispatch of step 1 (a step that
/// computes the loss, the gradient and an unmeasured update) in a pass of its own, and
/// returns the times grouped by kernel. Returns None when the device has no timestamp
/// queries.
pub(super) fn profile_step(
    gpu: &GpuDevice,
    batch: &Batch,
) -> Result<Option<StepProfile>, GpuError> {
    if !gpu.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
        return Ok(None);
    }
    let dispatches = batch.step(false, false);
    let count = 2 * dispatches.len() as u32;
    let (queries, resolved) = gpu.checked("timing a training step", || {
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        batch.record_reference(&mut encoder);
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            batch.record_step(&mut pass, false, false);
        }
        let queries = gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("step timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count,
        });
        let resolved = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("resolved timestamps"),
            size: 8 * u64::from(count),
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        for (i, dispatch) in dispatches.iter().enumerate() {
            dispatch.record_timed(&mut encoder, &queries, i as u32);
        }
        encoder.resolve_query_set(&queries, 0..count, &resolved, 0);
        gpu.queue.submit([encoder.finish()]);
        (queries, resolved)
    })?;
    let ticks: Vec<u64> = read_buffer(gpu, &resolved, "the step timestamps")?;
    drop(queries);
    let period = f64::from(gpu.queue.get_timestamp_period()) * 1e-9;

    let mut kernels: Vec<KernelTime> = Vec::new();
    for (dispatch, pair) in dispatches.iter().zip(ticks.chunks_exact(2)) {
        let seconds = pair[1].saturating_sub(pair[0]) as f64 * period;
        match kernels.iter_mut().find(|k| k.name == dispatch.name) {
            Some(kernel) => {
                kernel.dispatches += 1;
                kernel.seconds += seconds;
            }
            None => kernels.push(KernelTime {
                name: dispatch.name,
                dispatches: 1,
                seconds,
            }),
        }
    }
    kernels.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    Ok(Some(StepProfile { kernels }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(name: &'static str, seconds: f64) -> KernelTime {
        KernelTime {
            name,
            dispatches: 1,
            seconds,
        }
    }

    #[test]
    fn share_counts_only_products() {
        let profile = StepProfile {
            kernels: vec![
                kernel("matmul", 3.0),
                kernel("matmul_tiled", 1.0),
                kernel("update", 1.0),
            ],
        };
        assert_eq!(profile.total_seconds(), 5.0);
        assert_eq!(profile.product_seconds(), 4.0);
        assert_eq!(profile.product_share(), 0.8);
    }
}
