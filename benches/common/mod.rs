//! The synthetic problem that the training-step benchmarks share.

use lazysweep::data::Prepared;
use lazysweep::engine::{CellSpec, Precision, TrainSettings};
use lazysweep::model::{Activation, ActivationNorm, CLASSES};
use lazysweep::optim::{OptimizerKind, OptimizerSettings};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Returns standard normal inputs of dimension `d` with labels cycling through the classes.
pub fn random_data(n: usize, n_test: usize, d: usize) -> Prepared {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut draw = |count: usize| -> Vec<f64> {
        (0..count)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect()
    };
    Prepared {
        name: "random".into(),
        d,
        x_train: draw(n * d),
        y_train: (0..n).map(|i| (i % CLASSES) as u8).collect(),
        x_test: draw(n_test * d),
        y_test: (0..n_test).map(|i| (i % CLASSES) as u8).collect(),
        train_indices: (0..n).collect(),
        test_indices: (0..n_test).collect(),
    }
}

/// Returns `count` RMSProp cells with eta = 1e-4 and alpha from 1e-4 upward in decades.
pub fn rmsprop_cells(count: usize) -> Vec<CellSpec> {
    (0..count)
        .map(|i| CellSpec {
            optimizer: OptimizerKind::Rmsprop,
            alpha: 10f64.powi(i as i32 - 4),
            eta: 1e-4,
        })
        .collect()
}

/// Returns settings for `steps` steps in `precision` without recorded losses.
pub fn settings(steps: u64, precision: Precision) -> TrainSettings {
    TrainSettings {
        steps,
        activation: Activation::normalized(ActivationNorm::SecondMoment),
        optimizer: OptimizerSettings::default(),
        divergence_factor: 1e6,
        record_losses: false,
        precision,
    }
}
