//! Small synthetic problems and GPU set-up shared by the integration tests.

#![allow(dead_code)]

use lazysweep::data::Prepared;
use lazysweep::engine::{CellSpec, Precision, Problem, TrainSettings};
use lazysweep::gpu::{GpuDevice, GpuEngine, GpuError};
use lazysweep::model::{Activation, ActivationNorm, CLASSES, InitialWeights};
use lazysweep::optim::{OptimizerKind, OptimizerSettings};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Draws n samples of dimension d, rescaled to squared norm d, labelled by the argmax of a
/// fixed random linear map so that the classes are learnable.
fn draw_split(rng: &mut ChaCha8Rng, teacher: &[f64], n: usize, d: usize) -> (Vec<f64>, Vec<u8>) {
    let mut x = Vec::with_capacity(n * d);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let mut sample: Vec<f64> = (0..d).map(|_| StandardNormal.sample(rng)).collect();
        let scale = (d as f64 / sample.iter().map(|v| v * v).sum::<f64>()).sqrt();
        sample.iter_mut().for_each(|v| *v *= scale);
        let scores: Vec<f64> = (0..CLASSES)
            .map(|k| (0..d).map(|j| teacher[k * d + j] * sample[j]).sum())
            .collect();
        let label = (0..CLASSES)
            .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
            .unwrap();
        x.extend_from_slice(&sample);
        y.push(label as u8);
    }
    (x, y)
}

/// Builds a synthetic prepared dataset with a learnable labelling.
pub fn synthetic(n_train: usize, n_test: usize, d: usize, seed: u64) -> Prepared {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let teacher: Vec<f64> = (0..CLASSES * d)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let (x_train, y_train) = draw_split(&mut rng, &teacher, n_train, d);
    let (x_test, y_test) = draw_split(&mut rng, &teacher, n_test, d);
    Prepared {
        name: "synthetic".into(),
        d,
        x_train,
        y_train,
        x_test,
        y_test,
        train_indices: (0..n_train).collect(),
        test_indices: (0..n_test).collect(),
    }
}

pub fn init(d: usize, hidden: usize, seed: u64) -> InitialWeights {
    InitialWeights::draw(d, hidden, CLASSES, seed)
}

pub fn settings(steps: u64) -> TrainSettings {
    TrainSettings {
        steps,
        activation: Activation::normalized(ActivationNorm::SecondMoment),
        optimizer: OptimizerSettings::default(),
        divergence_factor: 1e6,
        record_losses: true,
        precision: Precision::F64,
    }
}

/// A synthetic problem: data, theta_0 and settings that tests hand to engines.
pub struct Fixture {
    pub data: Prepared,
    pub init: InitialWeights,
    pub settings: TrainSettings,
    /// `settings` in float32, for the GPU engine.
    pub gpu_settings: TrainSettings,
}

impl Fixture {
    /// Builds n_train training and n_test test samples of dimension d, a hidden layer of
    /// `hidden` units, and settings for `steps` steps; `seed` and `seed + 1` draw the data
    /// and theta_0.
    pub fn new(
        n_train: usize,
        n_test: usize,
        d: usize,
        hidden: usize,
        seed: u64,
        steps: u64,
    ) -> Self {
        Self {
            data: synthetic(n_train, n_test, d, seed),
            init: init(d, hidden, seed + 1),
            settings: settings(steps),
            gpu_settings: TrainSettings {
                precision: Precision::F32,
                ..settings(steps)
            },
        }
    }

    pub fn problem(&self) -> Problem<'_> {
        Problem {
            data: &self.data,
            init: &self.init,
            settings: &self.settings,
        }
    }

    pub fn gpu_problem(&self) -> Problem<'_> {
        Problem {
            data: &self.data,
            init: &self.init,
            settings: &self.gpu_settings,
        }
    }
}

pub fn cell(optimizer: OptimizerKind, alpha: f64, eta: f64) -> CellSpec {
    CellSpec {
        optimizer,
        alpha,
        eta,
    }
}

/// Returns a cell's label for assertion messages.
pub fn describe(cell: &CellSpec) -> String {
    format!(
        "{} alpha {:e} eta {:e}",
        cell.optimizer, cell.alpha, cell.eta
    )
}

/// Asserts that `actual` is within `tolerance` of `expected`, naming the metric `what` of
/// the cell `label` in the message.
pub fn assert_within(label: &str, what: &str, actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{label}: {what} {actual} vs {expected}"
    );
}

/// Opens the GPU engine, or prints why and returns None when no adapter exists, so that
/// GPU tests pass on machines without a Vulkan driver.
pub fn open_gpu_engine() -> Option<GpuEngine> {
    let gpu = open_gpu_device()?;
    // Past this point an adapter exists, so a kernel that fails to compile is a defect.
    Some(GpuEngine::with_device(gpu).expect("the GPU engine opens on an existing adapter"))
}

/// Opens a GPU device, or prints why and returns None when no adapter exists.
pub fn open_gpu_device() -> Option<GpuDevice> {
    match GpuDevice::new() {
        Ok(gpu) => Some(gpu),
        Err(err @ GpuError::NoAdapter) => {
            eprintln!("skipping GPU test: {err}");
            None
        }
        Err(err) => panic!("an adapter exists but its device does not open: {err}"),
    }
}

/// Returns whether `gpu` computes float64 in shaders, which `--precision f64` needs.
pub fn has_shader_f64(gpu: &GpuDevice) -> bool {
    gpu.features.contains(wgpu::Features::SHADER_F64)
}

/// Returns whether a float64 GPU test can run on `gpu`, and prints why not otherwise.
pub fn runs_f64(gpu: &GpuDevice) -> bool {
    let supported = has_shader_f64(gpu);
    if !supported {
        eprintln!(
            "skipping: adapter '{}' has no 64-bit floats in shaders",
            gpu.info.name
        );
    }
    supported
}
