//! Subsampling and rescaling of a raw dataset into f64 training and test matrices.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{DataError, RawDataset, Split};

/// Mixed into the seed of the test subsample so that it differs from the training seed.
const TEST_SEED_XOR: u64 = 0x9e37_79b9_7f4a_7c15;

/// A subsampled dataset with every sample rescaled to squared norm `d`.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub name: String,
    /// Input dimension (the product of the sample shape).
    pub d: usize,
    /// Training samples, n_train x d, row-major.
    pub x_train: Vec<f64>,
    pub y_train: Vec<u8>,
    /// Test samples, n_test x d, row-major.
    pub x_test: Vec<f64>,
    pub y_test: Vec<u8>,
    /// Index in the raw training split of each row of `x_train`, ascending.
    pub train_indices: Vec<usize>,
    /// Index in the raw test split of each row of `x_test`, ascending.
    pub test_indices: Vec<usize>,
}

impl Prepared {
    /// Number of training samples.
    pub fn n_train(&self) -> usize {
        self.y_train.len()
    }

    /// Number of test samples.
    pub fn n_test(&self) -> usize {
        self.y_test.len()
    }
}

/// Draws `n_train` training samples and `n_test` test samples (all when None) without
/// replacement, converts them to f64 and rescales each so that its squared norm is `d`.
///
/// The draws come from `ChaCha8Rng` seeded with `seed` (training) and with `seed` XOR a
/// fixed constant (test), so equal arguments give equal results on every platform. A
/// request above the split size is capped with a warning. The drawn indices are sorted
/// ascending, so rows keep the order of the raw split.
pub fn prepare(
    raw: &RawDataset,
    n_train: usize,
    n_test: Option<usize>,
    seed: u64,
) -> Result<Prepared, DataError> {
    if n_train == 0 {
        return Err(DataError::ZeroSampleCount {
            parameter: "n_train",
        });
    }
    if n_test == Some(0) {
        return Err(DataError::ZeroSampleCount {
            parameter: "n_test",
        });
    }

    super::check_same_shape(&raw.train, &raw.test, &raw.name)?;
    let d = raw.train.dim();
    let train_indices = draw_indices(raw, &raw.train, "train", Some(n_train), seed)?;
    let test_indices = draw_indices(raw, &raw.test, "test", n_test, seed ^ TEST_SEED_XOR)?;

    let x_train = gather_rescaled(raw, &raw.train, "train", &train_indices)?;
    let x_test = gather_rescaled(raw, &raw.test, "test", &test_indices)?;
    let y_train = train_indices.iter().map(|&i| raw.train.labels[i]).collect();
    let y_test = test_indices.iter().map(|&i| raw.test.labels[i]).collect();

    Ok(Prepared {
        name: raw.name.clone(),
        d,
        x_train,
        y_train,
        x_test,
        y_test,
        train_indices,
        test_indices,
    })
}

/// Returns `requested` sorted indices drawn without replacement, or every index when
/// `requested` is None or not below the split size.
fn draw_indices(
    raw: &RawDataset,
    split: &Split,
    split_name: &'static str,
    requested: Option<usize>,
    seed: u64,
) -> Result<Vec<usize>, DataError> {
    let available = split.len();
    if available == 0 {
        return Err(DataError::EmptySplit {
            dataset: raw.name.clone(),
            split: split_name,
        });
    }

    let Some(requested) = requested else {
        return Ok((0..available).collect());
    };
    if requested >= available {
        if requested > available {
            log::warn!(
                "{}: requested {requested} {split_name} samples but only {available} exist; \
                 using all {available}",
                raw.name
            );
        }
        return Ok((0..available).collect());
    }

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut indices = rand::seq::index::sample(&mut rng, available, requested).into_vec();
    indices.sort_unstable();
    Ok(indices)
}

/// Copies the selected samples into one row-major matrix, each row rescaled to squared
/// norm d.
fn gather_rescaled(
    raw: &RawDataset,
    split: &Split,
    split_name: &'static str,
    indices: &[usize],
) -> Result<Vec<f64>, DataError> {
    let d = split.dim();
    let mut matrix = vec![0.0; indices.len() * d];

    for (row, &index) in matrix.chunks_exact_mut(d).zip(indices) {
        split.sample_into(index, row);

        let max_abs = row.iter().fold(0.0f64, |acc, x| acc.max(x.abs()));
        if !max_abs.is_finite() || row.iter().any(|x| x.is_nan()) {
            return Err(DataError::NonFinite {
                dataset: raw.name.clone(),
                split: split_name,
                index,
            });
        }
        if max_abs == 0.0 {
            return Err(DataError::ZeroNorm {
                dataset: raw.name.clone(),
                split: split_name,
                index,
            });
        }

        // Dividing by the largest magnitude first keeps the sum of squares from
        // overflowing or underflowing for extreme float inputs.
        let squared_norm: f64 = row.iter().map(|x| (x / max_abs).powi(2)).sum();
        let scale = (d as f64 / squared_norm).sqrt();
        for x in row.iter_mut() {
            *x = *x / max_abs * scale;
        }
    }

    Ok(matrix)
}
