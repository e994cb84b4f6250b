//! The error type of the data module.

use thiserror::Error;

/// An error while finding, reading, validating, preparing or writing a dataset.
///
/// The `file` fields contain the full path of the file involved. For the embedded subset
/// they contain `embedded:mnist-subset/<name>`, and for an array inside an `.npz` archive
/// they contain `<path>.npz (<array>)`.
#[derive(Debug, Error)]
pub enum DataError {
    #[error("{description} not found; looked for: {}{hint}", .expected.join(", "))]
    MissingFile {
        description: String,
        expected: Vec<String>,
        hint: String,
    },

    #[error(
        "dataset {dataset} needs a data folder: pass --data-dir DIR or set LAZYSWEEP_DATA to \
         the folder that contains mnist/, fashion-mnist/ and cifar-10/"
    )]
    MissingDataDir { dataset: String },

    #[error("failed to read {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },

    #[error("failed to write {file}: {source}")]
    Write {
        file: String,
        source: std::io::Error,
    },

    #[error("gzip stream in {file} is corrupt ({source}); replace the file with a fresh copy")]
    CorruptGzip {
        file: String,
        source: std::io::Error,
    },

    #[error(
        "{file}: invalid magic number {found} (0x{found:08x}), expected {expected} \
         (0x{expected:08x}) for an IDX {kind} file"
    )]
    BadMagic {
        file: String,
        kind: &'static str,
        expected: u32,
        found: u32,
    },

    #[error(
        "{file}: data truncated: expected {expected} bytes, found {actual}; \
         the file may be an incomplete copy"
    )]
    Truncated {
        file: String,
        expected: u64,
        actual: u64,
    },

    #[error("{file}: {extra} unexpected bytes after the last record ({expected} bytes expected)")]
    TrailingBytes {
        file: String,
        expected: u64,
        extra: u64,
    },

    #[error("{images_file} contains {images} images but {labels_file} contains {labels} labels")]
    CountMismatch {
        images_file: String,
        images: usize,
        labels_file: String,
        labels: usize,
    },

    #[error("{file}: label {value} at index {index} is outside 0..=9")]
    LabelOutOfRange {
        file: String,
        index: usize,
        value: i128,
    },

    #[error("{file}: invalid .npz archive: {source}")]
    InvalidNpz {
        file: String,
        source: zip::result::ZipError,
    },

    #[error("failed to write the .npz archive {file}: {source}")]
    NpzWrite {
        file: String,
        source: zip::result::ZipError,
    },

    #[error("{file}: invalid .npy header: {reason}")]
    InvalidNpyHeader { file: String, reason: String },

    #[error("{file}: unsupported dtype '{dtype}'; {supported}")]
    UnsupportedDtype {
        file: String,
        dtype: String,
        supported: &'static str,
    },

    #[error(
        "{file}: array is stored in Fortran order, which is not supported; \
         save it with numpy.ascontiguousarray first"
    )]
    FortranOrder { file: String },

    #[error("{file}: unsupported shape {shape:?}: {reason}")]
    UnsupportedShape {
        file: String,
        shape: Vec<usize>,
        reason: String,
    },

    #[error("{file}: array '{array}' is missing; arrays present: [{}]", .present.join(", "))]
    MissingArray {
        file: String,
        array: String,
        present: Vec<String>,
    },

    #[error("array '{array}' for {file} has {len} values but shape {shape:?} needs {expected}")]
    ArrayLength {
        file: String,
        array: String,
        shape: Vec<usize>,
        len: usize,
        expected: usize,
    },

    #[error(
        "unknown dataset '{name}'; expected mnist-subset, mnist, fashion-mnist, \
         cifar10 (or cifar-10), or a path ending in .npz"
    )]
    UnknownSource { name: String },

    #[error("{parameter} must be at least 1, got 0")]
    ZeroSampleCount { parameter: &'static str },

    #[error(
        "{file}: test samples have shape {test_shape:?} but training samples have shape \
         {train_shape:?}"
    )]
    ShapeMismatch {
        file: String,
        train_shape: Vec<usize>,
        test_shape: Vec<usize>,
    },

    #[error("{dataset}: the {split} split contains no samples")]
    EmptySplit {
        dataset: String,
        split: &'static str,
    },

    #[error(
        "{dataset}: {split} sample {index} has squared norm 0 and cannot be rescaled to \
         squared norm d"
    )]
    ZeroNorm {
        dataset: String,
        split: &'static str,
        index: usize,
    },

    #[error("{dataset}: {split} sample {index} contains a NaN or infinite pixel value")]
    NonFinite {
        dataset: String,
        split: &'static str,
        index: usize,
    },

    #[error("{file} contains {available} samples, fewer than the {requested} requested")]
    NotEnoughSamples {
        file: String,
        available: usize,
        requested: usize,
    },
}
