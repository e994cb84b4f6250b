//! The MNIST subset compiled into the binary, and the function that cuts it from the
//! original files.

use std::io::Write;
use std::path::Path;

use flate2::{Compression, GzBuilder};

use super::files::sha256_hex;
use super::{DataError, RawDataset, SourceFile, idx, load_idx_dataset, read_idx_split};

/// The four IDX file names shared by MNIST and Fashion-MNIST, in the order
/// (train images, train labels, test images, test labels).
pub const IDX_FILE_NAMES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// The gzipped subset files, in the order of [`IDX_FILE_NAMES`].
const SUBSET_FILES: [&[u8]; 4] = [
    include_bytes!("../../assets/mnist-subset/train-images-idx3-ubyte.gz"),
    include_bytes!("../../assets/mnist-subset/train-labels-idx1-ubyte.gz"),
    include_bytes!("../../assets/mnist-subset/t10k-images-idx3-ubyte.gz"),
    include_bytes!("../../assets/mnist-subset/t10k-labels-idx1-ubyte.gz"),
];

/// Loads the embedded MNIST subset (the first 4000 training and 1000 test images).
pub(crate) fn load_subset(name: String) -> Result<RawDataset, DataError> {
    let mut decoded = Vec::with_capacity(4);
    let mut files = Vec::with_capacity(4);

    for (file_name, stored) in IDX_FILE_NAMES.iter().zip(SUBSET_FILES) {
        let label = format!("embedded:mnist-subset/{file_name}.gz");
        let bytes = super::files::decompress(stored, &label)?.into_owned();
        decoded.push((bytes, label.clone()));
        files.push(SourceFile {
            path: label,
            bytes: stored.len() as u64,
            sha256: sha256_hex(stored),
        });
    }

    let train = read_idx_split(&decoded[0], &decoded[1])?;
    let test = read_idx_split(&decoded[2], &decoded[3])?;

    Ok(RawDataset {
        name,
        train,
        test,
        files,
    })
}

/// Writes the first `n_train` training and `n_test` test images and labels of the MNIST
/// files in `<data_dir>/mnist/` as gzipped IDX files with the original names into
/// `out_dir`, creating it if needed.
///
/// The gzip output uses level 9 and a fixed header (no file name, mtime 0, OS 255), so
/// equal input gives byte-identical files with the same flate2 and miniz_oxide versions.
pub fn write_subset(
    data_dir: &Path,
    out_dir: &Path,
    n_train: usize,
    n_test: usize,
) -> Result<(), DataError> {
    if n_train == 0 {
        return Err(DataError::ZeroSampleCount {
            parameter: "n_train",
        });
    }
    if n_test == 0 {
        return Err(DataError::ZeroSampleCount {
            parameter: "n_test",
        });
    }

    let source = load_idx_dataset(&data_dir.join("mnist"), "mnist".to_string())?;
    std::fs::create_dir_all(out_dir).map_err(|source| DataError::Write {
        file: out_dir.display().to_string(),
        source,
    })?;

    let splits = [(&source.train, n_train, 0), (&source.test, n_test, 2)];
    for (split, count, first_file) in splits {
        if count > split.len() {
            return Err(DataError::NotEnoughSamples {
                file: source.files[first_file].path.clone(),
                available: split.len(),
                requested: count,
            });
        }

        let super::Pixels::U8(pixels) = &split.images else {
            unreachable!("IDX images are always u8");
        };
        let (rows, cols) = (split.sample_shape[0], split.sample_shape[1]);
        let images = idx::encode_images(&pixels[..count * rows * cols], count, rows, cols);
        let labels = idx::encode_labels(&split.labels[..count]);

        let images_path = out_dir.join(format!("{}.gz", IDX_FILE_NAMES[first_file]));
        let labels_path = out_dir.join(format!("{}.gz", IDX_FILE_NAMES[first_file + 1]));
        write_gzip(&images_path, &images)?;
        write_gzip(&labels_path, &labels)?;
    }

    Ok(())
}

/// Writes `bytes` gzipped with level 9 and a header without file name or timestamp.
fn write_gzip(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let write_error = |source| DataError::Write {
        file: path.display().to_string(),
        source,
    };

    let file = std::fs::File::create(path).map_err(write_error)?;
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(std::io::BufWriter::new(file), Compression::new(9));
    encoder.write_all(bytes).map_err(write_error)?;
    let mut writer = encoder.finish().map_err(write_error)?;
    writer.flush().map_err(write_error)?;

    Ok(())
}
