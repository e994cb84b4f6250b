//! Datasets: readers for the original MNIST, Fashion-MNIST and CIFAR-10 files and for
//! custom `.npz` archives, the embedded MNIST subset, and the subsampling and rescaling
//! that turn a raw dataset into training input.
//!
//! A data folder contains `mnist/`, `fashion-mnist/` and `cifar-10/`, each with the file
//! names of the original distribution, gzipped or not. [`load`] reads one dataset as
//! stored and [`prepare`] draws and rescales the samples.

mod cifar;
mod embedded;
mod error;
mod files;
pub mod idx;
pub mod npz;
mod prepare;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use embedded::{IDX_FILE_NAMES, write_subset};
pub use error::DataError;
pub use files::{decompress, file_sha256};
pub use npz::{NpzData, NpzEntry, read_npz_f64, write_npz, write_npz_f64};
pub use prepare::{Prepared, prepare};

/// Names of the CIFAR-10 training batches, read in this order when present.
pub const CIFAR_TRAIN_BATCHES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// Name of the CIFAR-10 test batch.
pub const CIFAR_TEST_BATCH: &str = "test_batch.bin";

/// A dataset to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// The first 4000 training and 1000 test images of MNIST, compiled into the binary.
    MnistSubset,
    Mnist,
    FashionMnist,
    Cifar10,
    /// A custom dataset in an `.npz` archive with `x_train`, `y_train`, `x_test`, `y_test`.
    Npz(PathBuf),
}

impl FromStr for DataSource {
    type Err = DataError;

    /// Parses `mnist-subset`, `mnist`, `fashion-mnist`, `cifar10` (or `cifar-10`), or a
    /// path ending in `.npz`.
    fn from_str(text: &str) -> Result<DataSource, DataError> {
        let source = match text {
            "mnist-subset" => DataSource::MnistSubset,
            "mnist" => DataSource::Mnist,
            "fashion-mnist" => DataSource::FashionMnist,
            "cifar10" | "cifar-10" => DataSource::Cifar10,
            _ if text.to_ascii_lowercase().ends_with(".npz") => DataSource::Npz(text.into()),
            _ => {
                return Err(DataError::UnknownSource {
                    name: text.to_string(),
                });
            }
        };
        Ok(source)
    }
}

impl fmt::Display for DataSource {
    /// Writes the canonical name, or the path for an `.npz` source.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::MnistSubset => f.write_str("mnist-subset"),
            DataSource::Mnist => f.write_str("mnist"),
            DataSource::FashionMnist => f.write_str("fashion-mnist"),
            DataSource::Cifar10 => f.write_str("cifar10"),
            DataSource::Npz(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Pixel values of all samples of a split, as stored in the source file.
#[derive(Debug, Clone, PartialEq)]
pub enum Pixels {
    U8(Vec<u8>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Pixels {
    /// Total number of values.
    pub fn len(&self) -> usize {
        match self {
            Pixels::U8(values) => values.len(),
            Pixels::F32(values) => values.len(),
            Pixels::F64(values) => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The samples and labels of the training or test part of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Pixel values, sample by sample, each sample in C order over `sample_shape`.
    pub images: Pixels,
    /// One label in 0..=9 per sample.
    pub labels: Vec<u8>,
    /// Shape of one sample: [rows, cols] for IDX, [channels, rows, cols] for CIFAR-10.
    pub sample_shape: Vec<usize>,
}

impl Split {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per sample (the product of `sample_shape`).
    pub fn dim(&self) -> usize {
        self.sample_shape.iter().product()
    }

    /// Copies sample `index` into `out` as f64 without rescaling.
    ///
    /// Panics when `index` is out of range or `out.len()` differs from [`Split::dim`].
    pub fn sample_into(&self, index: usize, out: &mut [f64]) {
        let d = self.dim();
        assert_eq!(
            out.len(),
            d,
            "output length must equal the sample dimension"
        );
        let range = index * d..(index + 1) * d;

        match &self.images {
            Pixels::U8(values) => {
                for (dst, &src) in out.iter_mut().zip(&values[range]) {
                    *dst = f64::from(src);
                }
            }
            Pixels::F32(values) => {
                for (dst, &src) in out.iter_mut().zip(&values[range]) {
                    *dst = f64::from(src);
                }
            }
            Pixels::F64(values) => out.copy_from_slice(&values[range]),
        }
    }
}

/// A file a dataset was read from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceFile {
    /// Full path, or `embedded:mnist-subset/<name>` for the embedded subset.
    pub path: String,
    /// Size of the file as stored (before gunzipping).
    pub bytes: u64,
    /// Lowercase hex SHA-256 of the file as stored.
    pub sha256: String,
}

/// A dataset as stored: pixel values are not rescaled.
#[derive(Debug, Clone, PartialEq)]
pub struct RawDataset {
    /// The source's canonical name (see [`DataSource`]'s `Display`).
    pub name: String,
    pub train: Split,
    pub test: Split,
    /// Every file read, in reading order.
    pub files: Vec<SourceFile>,
}

/// Loads a dataset as stored.
///
/// MNIST, Fashion-MNIST and CIFAR-10 are read from `data_dir`, which the caller takes
/// from `--data-dir` or the `LAZYSWEEP_DATA` variable. The embedded subset and `.npz`
/// files ignore `data_dir`.
pub fn load(source: &DataSource, data_dir: Option<&Path>) -> Result<RawDataset, DataError> {
    let name = source.to_string();
    let require_dir = || {
        data_dir.ok_or_else(|| DataError::MissingDataDir {
            dataset: name.clone(),
        })
    };

    let dataset = match source {
        DataSource::MnistSubset => embedded::load_subset(name.clone())?,
        DataSource::Mnist => load_idx_dataset(&require_dir()?.join("mnist"), name.clone())?,
        DataSource::FashionMnist => {
            load_idx_dataset(&require_dir()?.join("fashion-mnist"), name.clone())?
        }
        DataSource::Cifar10 => load_cifar_dataset(&require_dir()?.join("cifar-10"), name.clone())?,
        DataSource::Npz(path) => npz::load_npz_dataset(path, name.clone())?,
    };

    log::info!(
        "loaded {}: {} training and {} test samples of shape {:?}",
        dataset.name,
        dataset.train.len(),
        dataset.test.len(),
        dataset.train.sample_shape
    );
    Ok(dataset)
}

/// Loads the four IDX files of MNIST or Fashion-MNIST from `dir`.
pub(crate) fn load_idx_dataset(dir: &Path, name: String) -> Result<RawDataset, DataError> {
    let mut decoded = Vec::with_capacity(4);
    let mut files = Vec::with_capacity(4);

    // Finding every file before reading any reports a missing file without first
    // decompressing the others.
    let mut paths = Vec::with_capacity(4);
    for file_name in IDX_FILE_NAMES {
        paths.push(files::find_file(
            dir,
            file_name,
            &format!("{name} file {file_name}"),
        )?);
    }

    for path in &paths {
        let (bytes, record) = files::read_data_file(path)?;
        decoded.push((bytes, record.path.clone()));
        files.push(record);
    }

    let train = read_idx_split(&decoded[0], &decoded[1])?;
    let test = read_idx_split(&decoded[2], &decoded[3])?;
    check_same_shape(&train, &test, &decoded[2].1)?;

    Ok(RawDataset {
        name,
        train,
        test,
        files,
    })
}

/// Returns an error naming `test_file` unless both splits have the same sample shape.
pub(crate) fn check_same_shape(
    train: &Split,
    test: &Split,
    test_file: &str,
) -> Result<(), DataError> {
    if train.sample_shape != test.sample_shape {
        return Err(DataError::ShapeMismatch {
            file: test_file.to_string(),
            train_shape: train.sample_shape.clone(),
            test_shape: test.sample_shape.clone(),
        });
    }
    Ok(())
}

/// Parses decoded IDX image and label files, each given with the name used in errors,
/// and checks that their counts agree.
fn read_idx_split(
    images: &(Vec<u8>, String),
    labels: &(Vec<u8>, String),
) -> Result<Split, DataError> {
    let (image_bytes, images_file) = images;
    let (label_bytes, labels_file) = labels;
    let parsed = idx::parse_images(image_bytes, images_file)?;
    let labels = idx::parse_labels(label_bytes, labels_file)?;

    if parsed.count != labels.len() {
        return Err(DataError::CountMismatch {
            images_file: images_file.clone(),
            images: parsed.count,
            labels_file: labels_file.clone(),
            labels: labels.len(),
        });
    }

    Ok(Split {
        images: Pixels::U8(parsed.pixels),
        labels,
        sample_shape: vec![parsed.rows, parsed.cols],
    })
}

/// Loads the CIFAR-10 training batches present in `dir` (at least one, in order 1..5)
/// and the test batch.
fn load_cifar_dataset(dir: &Path, name: String) -> Result<RawDataset, DataError> {
    let mut files = Vec::new();
    let mut train_pixels = Vec::new();
    let mut train_labels = Vec::new();

    let mut train_paths = Vec::new();
    for batch in CIFAR_TRAIN_BATCHES {
        if let Some(path) = files::candidate_paths(dir, batch)
            .into_iter()
            .find(|p| p.is_file())
        {
            train_paths.push(path);
        }
    }
    if train_paths.is_empty() {
        let expected = CIFAR_TRAIN_BATCHES
            .iter()
            .flat_map(|batch| files::candidate_paths(dir, batch))
            .map(|path| path.display().to_string())
            .collect();
        return Err(DataError::MissingFile {
            description: "CIFAR-10 training batch (at least one is required)".to_string(),
            expected,
            hint: files::DATA_DIR_HINT.to_string(),
        });
    }

    for path in &train_paths {
        let (bytes, record) = files::read_data_file(path)?;
        cifar::parse_batch_into(&bytes, &record.path, &mut train_pixels, &mut train_labels)?;
        files.push(record);
    }

    let test_path = files::find_file(dir, CIFAR_TEST_BATCH, "CIFAR-10 test batch")?;
    let (bytes, record) = files::read_data_file(&test_path)?;
    let mut test_pixels = Vec::new();
    let mut test_labels = Vec::new();
    cifar::parse_batch_into(&bytes, &record.path, &mut test_pixels, &mut test_labels)?;
    files.push(record);

    Ok(RawDataset {
        name,
        train: Split {
            images: Pixels::U8(train_pixels),
            labels: train_labels,
            sample_shape: cifar::SAMPLE_SHAPE.to_vec(),
        },
        test: Split {
            images: Pixels::U8(test_pixels),
            labels: test_labels,
            sample_shape: cifar::SAMPLE_SHAPE.to_vec(),
        },
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names_round_trip() {
        for name in ["mnist-subset", "mnist", "fashion-mnist", "cifar10"] {
            let source: DataSource = name.parse().unwrap();
            assert_eq!(source.to_string(), name);
        }
    }

    #[test]
    fn source_accepts_cifar_alias_and_npz() {
        assert_eq!(
            "cifar-10".parse::<DataSource>().unwrap(),
            DataSource::Cifar10
        );
        assert_eq!(
            "dir/custom.npz".parse::<DataSource>().unwrap(),
            DataSource::Npz(PathBuf::from("dir/custom.npz"))
        );
    }

    #[test]
    fn unknown_source_lists_accepted_names() {
        let err = "svhn".parse::<DataSource>().unwrap_err();
        let message = err.to_string();
        assert!(message.contains("svhn"), "{message}");
        assert!(message.contains("fashion-mnist"), "{message}");
        assert!(message.contains(".npz"), "{message}");
    }

    #[test]
    fn load_without_data_dir_names_variable() {
        let err = load(&DataSource::Mnist, None).unwrap_err();
        assert!(err.to_string().contains("LAZYSWEEP_DATA"), "{err}");
    }

    #[test]
    fn sample_into_converts_each_dtype() {
        let shape = vec![2];
        let splits = [
            Pixels::U8(vec![1, 2, 3, 4]),
            Pixels::F32(vec![1.0, 2.0, 3.0, 4.0]),
            Pixels::F64(vec![1.0, 2.0, 3.0, 4.0]),
        ];
        for images in splits {
            let split = Split {
                images,
                labels: vec![0, 1],
                sample_shape: shape.clone(),
            };
            let mut out = [0.0; 2];
            split.sample_into(1, &mut out);
            assert_eq!(out, [3.0, 4.0]);
        }
    }
}
