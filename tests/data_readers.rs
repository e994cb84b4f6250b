//! Tests of the dataset readers, the embedded subset, the npz reader and writer, and
//! `prepare`. Tests on the real files read them from the folder named by the
//! LAZYSWEEP_DATA variable and are skipped when it is unset.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use lazysweep::data::{
    self, DataError, DataSource, NpzData, NpzEntry, Pixels, RawDataset, Split, idx,
};
use tempfile::TempDir;

const MNIST_TRAIN_FIRST_LABELS: [u8; 10] = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4];
const MNIST_TEST_FIRST_LABELS: [u8; 10] = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9];

// ---------------------------------------------------------------------------------------
// helpers

/// Returns the real data folder, or None after printing a skip line when LAZYSWEEP_DATA
/// is unset.
fn real_data_dir(test: &str) -> Option<PathBuf> {
    match std::env::var_os("LAZYSWEEP_DATA") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            println!("skipped {test}: LAZYSWEEP_DATA is not set");
            None
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Small IDX images with nonzero pixels: `count` images of 2x3.
fn small_images(count: usize) -> Vec<u8> {
    let pixels: Vec<u8> = (0..count * 6).map(|i| (i % 250) as u8 + 1).collect();
    idx::encode_images(&pixels, count, 2, 3)
}

fn small_labels(count: usize) -> Vec<u8> {
    let labels: Vec<u8> = (0..count).map(|i| (i % 10) as u8).collect();
    idx::encode_labels(&labels)
}

/// Writes a valid gzipped MNIST folder with 12 training and 5 test samples under
/// `root/mnist` and returns the folder.
fn write_fake_mnist(root: &Path) -> PathBuf {
    let dir = root.join("mnist");
    let files = [
        ("train-images-idx3-ubyte.gz", small_images(12)),
        ("train-labels-idx1-ubyte.gz", small_labels(12)),
        ("t10k-images-idx3-ubyte.gz", small_images(5)),
        ("t10k-labels-idx1-ubyte.gz", small_labels(5)),
    ];
    for (name, bytes) in files {
        write_file(&dir.join(name), &gzip(&bytes));
    }
    dir
}

/// Replaces one file of the fake MNIST folder with `bytes`, gzipped.
fn replace_mnist_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    write_file(&path, &gzip(bytes));
    path
}

fn load_fake_mnist(root: &Path) -> Result<RawDataset, DataError> {
    data::load(&DataSource::Mnist, Some(root))
}

fn assert_names_file(err: &DataError, path: &Path) {
    let message = err.to_string();
    let file = path.display().to_string();
    assert!(message.contains(&file), "message {message:?} lacks {file}");
}

/// Builds a `.npy` file by hand so tests can use dtypes the writer does not produce.
fn npy_bytes(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    npy_bytes_in_order(descr, "False", shape, data)
}

fn npy_bytes_in_order(descr: &str, fortran_order: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {fortran_order}, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');

    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Writes a zip archive of (entry name, bytes) pairs, deflated.
fn write_zip(path: &Path, entries: &[(&str, Vec<u8>)]) {
    let file = std::fs::File::create(path).unwrap();
    let mut archive = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        archive.start_file(*name, options).unwrap();
        archive.write_all(bytes).unwrap();
    }
    archive.finish().unwrap();
}

/// Returns the four arrays of a valid npz dataset: 4 train and 2 test samples of shape (2,).
fn valid_npz_entries() -> Vec<(&'static str, Vec<u8>)> {
    let x_train: Vec<u8> = (1..=8)
        .flat_map(|v: u32| (v as f32).to_le_bytes())
        .collect();
    let x_test: Vec<u8> = (1..=4)
        .flat_map(|v: u32| (v as f32).to_le_bytes())
        .collect();
    let y_train: Vec<u8> = [0i64, 1, 2, 3]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let y_test: Vec<u8> = [9i64, 8].iter().flat_map(|v| v.to_le_bytes()).collect();
    vec![
        ("x_train.npy", npy_bytes("<f4", "(4, 2)", &x_train)),
        ("y_train.npy", npy_bytes("<i8", "(4,)", &y_train)),
        ("x_test.npy", npy_bytes("<f4", "(2, 2)", &x_test)),
        ("y_test.npy", npy_bytes("<i8", "(2,)", &y_test)),
    ]
}

fn synthetic_raw(n_train: usize, n_test: usize) -> RawDataset {
    let d = 6;
    let split = |n: usize, offset: usize| Split {
        images: Pixels::F64(
            (0..n * d)
                .map(|i| ((i + offset) % 17) as f64 + 0.5)
                .collect(),
        ),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
        sample_shape: vec![2, 3],
    };
    RawDataset {
        name: "synthetic".to_string(),
        train: split(n_train, 0),
        test: split(n_test, 3),
        files: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------
// real files

#[test]
fn real_mnist_counts_and_labels() {
    let Some(root) = real_data_dir("real_mnist_counts_and_labels") else {
        return;
    };
    let raw = data::load(&DataSource::Mnist, Some(&root)).unwrap();

    assert_eq!(raw.name, "mnist");
    assert_eq!(raw.train.len(), 60000);
    assert_eq!(raw.test.len(), 10000);
    assert_eq!(raw.train.sample_shape, [28, 28]);
    assert_eq!(raw.test.sample_shape, [28, 28]);
    assert_eq!(raw.train.images.len(), 60000 * 784);
    assert_eq!(raw.train.labels[..10], MNIST_TRAIN_FIRST_LABELS);
    assert_eq!(raw.test.labels[..10], MNIST_TEST_FIRST_LABELS);

    assert_eq!(raw.files.len(), 4);
    let train_images = &raw.files[0];
    assert!(train_images.path.ends_with("train-images-idx3-ubyte.gz"));
    assert_eq!(train_images.bytes, 9912422);
    assert_eq!(
        train_images.sha256,
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    );
}

#[test]
fn real_fashion_mnist_counts_and_labels() {
    let Some(root) = real_data_dir("real_fashion_mnist_counts_and_labels") else {
        return;
    };
    let raw = data::load(&DataSource::FashionMnist, Some(&root)).unwrap();

    assert_eq!(raw.name, "fashion-mnist");
    assert_eq!(raw.train.len(), 60000);
    assert_eq!(raw.test.len(), 10000);
    assert_eq!(raw.train.sample_shape, [28, 28]);
    assert_eq!(raw.train.labels[..10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    assert_eq!(raw.test.labels[..10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);

    // Fashion-MNIST has exactly 1000 test images per class.
    for class in 0..10u8 {
        let count = raw.test.labels.iter().filter(|&&l| l == class).count();
        assert_eq!(count, 1000, "class {class}");
    }
}

#[test]
fn real_cifar10_counts_and_labels() {
    let Some(root) = real_data_dir("real_cifar10_counts_and_labels") else {
        return;
    };
    let raw = data::load(&DataSource::Cifar10, Some(&root)).unwrap();

    let batches = raw.files.len() - 1;
    assert!((1..=5).contains(&batches), "{batches} training batches");
    assert_eq!(raw.train.len(), 10000 * batches);
    assert_eq!(raw.test.len(), 10000);
    assert_eq!(raw.train.sample_shape, [3, 32, 32]);
    assert_eq!(raw.test.sample_shape, [3, 32, 32]);
    assert_eq!(raw.train.labels[..10], [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]);
    assert_eq!(raw.test.labels[..10], [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);

    // The red plane of training image 0 starts with these values.
    let mut first = vec![0.0; 3072];
    raw.train.sample_into(0, &mut first);
    assert_eq!(first[..6], [59.0, 43.0, 50.0, 68.0, 98.0, 119.0]);

    assert!(raw.files[0].path.ends_with("data_batch_1.bin.gz"));
    assert!(raw.files[batches].path.ends_with("test_batch.bin.gz"));
}

#[test]
fn cifar10_alias_parses() {
    let source: DataSource = "cifar-10".parse().unwrap();
    assert_eq!(source, DataSource::Cifar10);
    assert_eq!(source.to_string(), "cifar10");
}

// ---------------------------------------------------------------------------------------
// embedded subset

#[test]
fn embedded_subset_loads() {
    let raw = data::load(&DataSource::MnistSubset, None).unwrap();

    assert_eq!(raw.name, "mnist-subset");
    assert_eq!(raw.train.len(), 4000);
    assert_eq!(raw.test.len(), 1000);
    assert_eq!(raw.train.sample_shape, [28, 28]);
    assert_eq!(raw.train.labels[..10], MNIST_TRAIN_FIRST_LABELS);
    assert_eq!(raw.test.labels[..10], MNIST_TEST_FIRST_LABELS);
    assert_eq!(raw.files.len(), 4);
    assert_eq!(
        raw.files[0].path,
        "embedded:mnist-subset/train-images-idx3-ubyte.gz"
    );
}

#[test]
fn embedded_subset_matches_real() {
    let Some(root) = real_data_dir("embedded_subset_matches_real") else {
        return;
    };
    let subset = data::load(&DataSource::MnistSubset, None).unwrap();
    let full = data::load(&DataSource::Mnist, Some(&root)).unwrap();

    let (Pixels::U8(sub_train), Pixels::U8(full_train)) =
        (&subset.train.images, &full.train.images)
    else {
        panic!("IDX images must be u8");
    };
    assert_eq!(sub_train[..], full_train[..4000 * 784]);
    assert_eq!(subset.train.labels[..], full.train.labels[..4000]);

    let (Pixels::U8(sub_test), Pixels::U8(full_test)) = (&subset.test.images, &full.test.images)
    else {
        panic!("IDX images must be u8");
    };
    assert_eq!(sub_test[..], full_test[..1000 * 784]);
    assert_eq!(subset.test.labels[..], full.test.labels[..1000]);
}

#[test]
fn write_subset_reproduces_assets() {
    let Some(root) = real_data_dir("write_subset_reproduces_assets") else {
        return;
    };
    let out = TempDir::new().unwrap();
    data::write_subset(&root, out.path(), 4000, 1000).unwrap();

    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/mnist-subset");
    for name in data::IDX_FILE_NAMES {
        let file = format!("{name}.gz");
        let written = std::fs::read(out.path().join(&file)).unwrap();
        let committed = std::fs::read(assets.join(&file)).unwrap();
        assert!(
            written == committed,
            "{file} differs from the committed asset"
        );
    }
}

#[test]
fn write_subset_round_trips_fake_data() {
    let root = TempDir::new().unwrap();
    write_fake_mnist(root.path());
    let out = TempDir::new().unwrap();

    data::write_subset(root.path(), out.path(), 7, 3).unwrap();

    let cut_root = TempDir::new().unwrap();
    std::fs::rename(out.path(), cut_root.path().join("mnist")).unwrap();
    let cut = load_fake_mnist(cut_root.path()).unwrap();
    let full = load_fake_mnist(root.path()).unwrap();
    assert_eq!(cut.train.len(), 7);
    assert_eq!(cut.test.len(), 3);
    assert_eq!(cut.train.labels[..], full.train.labels[..7]);
    let (Pixels::U8(cut_pixels), Pixels::U8(full_pixels)) = (&cut.train.images, &full.train.images)
    else {
        panic!("IDX images must be u8");
    };
    assert_eq!(cut_pixels[..], full_pixels[..7 * 6]);
}

#[test]
fn write_subset_rejects_too_many() {
    let root = TempDir::new().unwrap();
    write_fake_mnist(root.path());
    let out = TempDir::new().unwrap();

    let err = data::write_subset(root.path(), out.path(), 13, 3).unwrap_err();

    assert!(
        matches!(err, DataError::NotEnoughSamples { available: 12, .. }),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// IDX on fake files

#[test]
fn fake_mnist_loads_gzipped_and_plain() {
    let root = TempDir::new().unwrap();
    let dir = write_fake_mnist(root.path());

    // An uncompressed file without `.gz` is found and read as well.
    std::fs::remove_file(dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    write_file(&dir.join("t10k-labels-idx1-ubyte"), &small_labels(5));

    let raw = load_fake_mnist(root.path()).unwrap();
    assert_eq!(raw.train.len(), 12);
    assert_eq!(raw.test.len(), 5);
    assert_eq!(raw.train.sample_shape, [2, 3]);
    assert_eq!(raw.test.labels, [0, 1, 2, 3, 4]);
    assert!(raw.files[3].path.ends_with("t10k-labels-idx1-ubyte"));
}

#[test]
fn gzip_detected_by_magic_not_name() {
    let root = TempDir::new().unwrap();
    let dir = write_fake_mnist(root.path());

    // Gzipped content under the plain name and plain content under the `.gz` name.
    std::fs::remove_file(dir.join("train-labels-idx1-ubyte.gz")).unwrap();
    write_file(
        &dir.join("train-labels-idx1-ubyte"),
        &gzip(&small_labels(12)),
    );
    write_file(&dir.join("t10k-labels-idx1-ubyte.gz"), &small_labels(5));

    let raw = load_fake_mnist(root.path()).unwrap();
    assert_eq!(raw.train.len(), 12);
    assert_eq!(raw.test.len(), 5);
}

#[test]
fn wrong_magic_is_reported() {
    let root = TempDir::new().unwrap();
    let dir = write_fake_mnist(root.path());
    let path = replace_mnist_file(&dir, "train-images-idx3-ubyte.gz", &small_labels(12));

    let err = load_fake_mnist(root.path()).unwrap_err();

    assert!(
        matches!(
            err,
            DataError::BadMagic {
                expected: 2051,
                found: 2049,
                ..
            }
        ),
        "{err}"
    );
    assert_names_file(&err, &path);
}

#[test]
fn truncated_images_are_reported() {
    let root = TempDir::new().unwrap();
    let dir = write_fake_mnist(root.path());
    let mut images = small_images(12);
    images.truncate(images.len() - 10);
    let path = replace_mnist_file(&dir, "train-images-idx3-ubyte.gz", &images);

    let err = load_fake_mnist(root.path()).unwrap_err();

    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 88,
                actual: 78,
                ..
            }
        ),
        "{err}"
    );
    assert_names_file(&err, &path);
}

#[test]
fn truncated_labels_are_reported() {
    let root = TempDir::new().unwrap();
    let dir = write_fake_mnist(root.path());
    let mut labels = small_labels(5);
    labels.truncate(labels.len() - 2);
    let path = replace_mnist_file(&dir, "t10k-labels-idx1-ubyte.gz", &labels);

    let err = load_fake_mnist(root.path()).unwrap_err();

    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 13,
                actual: 11,
                ..
            }
        ),
        "{err}"
    );
    assert_names_file(&err, &path);
}

#[test]
fn count_mismatch_is_reported() {
    let root = TempDir::new().unwrap();
    let dir = write_fake_mnist(root.path());
    let path = replace_mnist_file(&dir, "train-labels-idx1-ubyte.gz", &small_labels(11));

    let err = load_fake_mnist(root.path()).unwrap_err();

    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                images: 12,
                labels: 11,
                ..
            }
        ),
        "{err}"
    );
    assert_names_file(&err, &path);
    assert_names_file(&err, &dir.join("train-images-idx3-ubyte.gz"));
}

#[test]
fn label_ten_is_reported() {
    let root = TempDir::new().unwrap();
    let dir = write_fake_mnist(root.path());
    let path = replace_mnist_file(
        &dir,
        "t10k-labels-idx1-ubyte.gz",
        &idx::encode_labels(&[1, 2, 10, 3, 4]),
    );

    let err = load_fake_mnist(root.path()).unwrap_err();

    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 2,
                value: 10,
                ..
            }
        ),
        "{err}"
    );
    assert_names_file(&err, &path);
}

#[test]
fn test_shape_mismatch_is_reported() {
    let root = TempDir::new().unwrap();
    let dir = write_fake_mnist(root.path());
    let pixels = vec![1u8; 5 * 6];
    let path = replace_mnist_file(
        &dir,
        "t10k-images-idx3-ubyte.gz",
        &idx::encode_images(&pixels, 5, 3, 2),
    );

    let err = load_fake_mnist(root.path()).unwrap_err();

    assert!(matches!(err, DataError::ShapeMismatch { .. }), "{err}");
    assert_names_file(&err, &path);
}

#[test]
fn missing_file_lists_both_names() {
    let root = TempDir::new().unwrap();
    let dir = write_fake_mnist(root.path());
    std::fs::remove_file(dir.join("t10k-images-idx3-ubyte.gz")).unwrap();

    let err = load_fake_mnist(root.path()).unwrap_err();

    assert!(matches!(err, DataError::MissingFile { .. }), "{err}");
    assert_names_file(&err, &dir.join("t10k-images-idx3-ubyte"));
    assert_names_file(&err, &dir.join("t10k-images-idx3-ubyte.gz"));
}

#[test]
fn corrupt_gzip_is_reported() {
    let root = TempDir::new().unwrap();
    let dir = write_fake_mnist(root.path());
    let path = dir.join("train-images-idx3-ubyte.gz");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle..] {
        *byte ^= 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();

    let err = load_fake_mnist(root.path()).unwrap_err();

    assert!(matches!(err, DataError::CorruptGzip { .. }), "{err}");
    assert_names_file(&err, &path);
}

// ---------------------------------------------------------------------------------------
// CIFAR-10 on fake files

/// Writes a whole CIFAR batch (10,000 records) with labels first_label, first_label + 1,
/// ... (mod 10) to `path`.
fn write_cifar_batch(path: &Path, first_label: usize, gzipped: bool) {
    let mut bytes = Vec::with_capacity(10_000 * 3073);
    for i in 0..10_000 {
        bytes.push(((first_label + i) % 10) as u8);
        bytes.extend((0..3072).map(|j| ((i + j) % 255) as u8 + 1));
    }
    let stored = if gzipped { gzip(&bytes) } else { bytes };
    write_file(path, &stored);
}

#[test]
fn cifar_uses_present_batches_in_order() {
    let root = TempDir::new().unwrap();
    let dir = root.path().join("cifar-10");
    write_cifar_batch(&dir.join("data_batch_4.bin"), 7, false);
    write_cifar_batch(&dir.join("data_batch_2.bin.gz"), 3, true);
    write_cifar_batch(&dir.join("test_batch.bin"), 0, false);

    let raw = data::load(&DataSource::Cifar10, Some(root.path())).unwrap();

    assert_eq!(raw.train.len(), 20_000);
    assert_eq!(raw.test.len(), 10_000);
    // Batch 2 comes first, then batch 4.
    assert_eq!(raw.train.labels[..2], [3, 4]);
    assert_eq!(raw.train.labels[10_000..10_002], [7, 8]);
    assert!(raw.files[0].path.ends_with("data_batch_2.bin.gz"));
    assert!(raw.files[1].path.ends_with("data_batch_4.bin"));
    assert!(raw.files[2].path.ends_with("test_batch.bin"));
}

#[test]
fn cifar_without_training_batch_fails() {
    let root = TempDir::new().unwrap();
    let dir = root.path().join("cifar-10");
    write_cifar_batch(&dir.join("test_batch.bin"), 0, false);

    let err = data::load(&DataSource::Cifar10, Some(root.path())).unwrap_err();

    assert!(matches!(err, DataError::MissingFile { .. }), "{err}");
    assert_names_file(&err, &dir.join("data_batch_1.bin"));
    assert_names_file(&err, &dir.join("data_batch_5.bin.gz"));
}

#[test]
fn cifar_truncated_is_reported() {
    let root = TempDir::new().unwrap();
    let dir = root.path().join("cifar-10");
    write_cifar_batch(&dir.join("test_batch.bin"), 0, false);
    let path = dir.join("data_batch_1.bin");
    write_cifar_batch(&path, 0, false);
    let whole = std::fs::read(&path).unwrap();

    // Cut inside a record, and cut at a record boundary after 300 records.
    for kept in [whole.len() - 100, 300 * 3073] {
        std::fs::write(&path, &whole[..kept]).unwrap();

        let err = data::load(&DataSource::Cifar10, Some(root.path())).unwrap_err();

        assert!(
            matches!(
                err,
                DataError::Truncated { expected: 30_730_000, actual, .. } if actual == kept as u64
            ),
            "{err}"
        );
        assert_names_file(&err, &path);
    }
}

// ---------------------------------------------------------------------------------------
// npz

#[test]
fn npz_round_trip_u8_and_f64() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("arrays.npz");
    let images: Vec<u8> = (0..2 * 3 * 4 * 5).map(|i| i as u8).collect();
    let weights: Vec<f64> = (0..6).map(|i| i as f64 * -0.25 + 1e-300).collect();

    for compress in [false, true] {
        let entries = [
            NpzEntry {
                name: "images",
                data: NpzData::U8(&images),
                shape: &[2, 3, 4, 5],
            },
            NpzEntry {
                name: "W0",
                data: NpzData::F64(&weights),
                shape: &[2, 3],
            },
        ];
        data::write_npz(&path, &entries, compress).unwrap();

        let (read_images, image_shape) = data::read_npz_f64(&path, "images").unwrap();
        let expected_images: Vec<f64> = images.iter().map(|&v| f64::from(v)).collect();
        assert_eq!(image_shape, [2, 3, 4, 5]);
        assert_eq!(read_images, expected_images);

        let (read_weights, weight_shape) = data::read_npz_f64(&path, "W0").unwrap();
        assert_eq!(weight_shape, [2, 3]);
        assert_eq!(read_weights, weights);
    }
}

#[test]
fn npz_f64_helpers_round_trip() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("init.npz");
    let w0: Vec<f64> = (0..12).map(|i| (i as f64).sin()).collect();
    let w1 = vec![0.5, -1.5, 2.5];

    data::write_npz_f64(&path, &[("W0", &w0, &[3, 4]), ("W1", &w1, &[3])]).unwrap();

    assert_eq!(data::read_npz_f64(&path, "W0").unwrap(), (w0, vec![3, 4]));
    assert_eq!(data::read_npz_f64(&path, "W1").unwrap(), (w1, vec![3]));
}

#[test]
fn npz_write_rejects_length_mismatch() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("bad.npz");

    let err = data::write_npz_f64(&path, &[("W0", &[1.0, 2.0], &[3])]).unwrap_err();

    assert!(
        matches!(
            err,
            DataError::ArrayLength {
                len: 2,
                expected: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn npz_dataset_loads_3d_u8_images() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("custom.npz");
    let x_train: Vec<u8> = (0..3 * 2 * 2 * 2).map(|i| i as u8 + 1).collect();
    let x_test: Vec<u8> = vec![7; 2 * 2 * 2];
    data::write_npz(
        &path,
        &[
            NpzEntry {
                name: "x_train",
                data: NpzData::U8(&x_train),
                shape: &[3, 2, 2, 2],
            },
            NpzEntry {
                name: "y_train",
                data: NpzData::U8(&[4, 5, 6]),
                shape: &[3],
            },
            NpzEntry {
                name: "x_test",
                data: NpzData::U8(&x_test),
                shape: &[1, 2, 2, 2],
            },
            NpzEntry {
                name: "y_test",
                data: NpzData::U8(&[9]),
                shape: &[1],
            },
        ],
        true,
    )
    .unwrap();

    let source: DataSource = path.to_str().unwrap().parse().unwrap();
    let raw = data::load(&source, None).unwrap();

    assert_eq!(raw.name, path.display().to_string());
    assert_eq!(raw.train.sample_shape, [2, 2, 2]);
    assert_eq!(raw.train.len(), 3);
    assert_eq!(raw.test.len(), 1);
    assert_eq!(raw.train.labels, [4, 5, 6]);
    assert_eq!(raw.train.images, Pixels::U8(x_train));
    assert_eq!(raw.files.len(), 1);
    assert_eq!(raw.files[0].bytes, std::fs::metadata(&path).unwrap().len());
}

#[test]
fn npz_dataset_loads_f32_and_i64() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("floats.npz");
    write_zip(&path, &valid_npz_entries());

    let raw = data::load(&DataSource::Npz(path), None).unwrap();

    assert_eq!(raw.train.sample_shape, [2]);
    assert_eq!(raw.train.labels, [0, 1, 2, 3]);
    assert_eq!(raw.test.labels, [9, 8]);
    let Pixels::F32(values) = &raw.train.images else {
        panic!("expected f32 pixels, got {:?}", raw.train.images);
    };
    assert_eq!(values[..3], [1.0, 2.0, 3.0]);
}

#[test]
fn npz_missing_array_lists_present() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("partial.npz");
    let entries: Vec<_> = valid_npz_entries()
        .into_iter()
        .filter(|(name, _)| *name != "y_test.npy")
        .collect();
    write_zip(&path, &entries);

    let err = data::load(&DataSource::Npz(path.clone()), None).unwrap_err();

    assert!(
        matches!(err, DataError::MissingArray { ref array, .. } if array == "y_test"),
        "{err}"
    );
    assert_names_file(&err, &path);
    assert!(
        err.to_string().contains("[x_test, x_train, y_train]"),
        "{err}"
    );
}

#[test]
fn npz_bad_dtype_is_named() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("complex.npz");
    let mut entries = valid_npz_entries();
    entries[0].1 = npy_bytes("<c8", "(4, 2)", &[0; 4 * 2 * 8]);
    write_zip(&path, &entries);

    let err = data::load(&DataSource::Npz(path.clone()), None).unwrap_err();

    assert!(
        matches!(err, DataError::UnsupportedDtype { ref dtype, .. } if dtype == "<c8"),
        "{err}"
    );
    assert_names_file(&err, &path);
    assert!(err.to_string().contains("<c8"), "{err}");
}

#[test]
fn npz_integer_images_are_rejected() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("int_images.npz");
    let mut entries = valid_npz_entries();
    entries[0].1 = npy_bytes("<i2", "(4, 2)", &[1; 4 * 2 * 2]);
    write_zip(&path, &entries);

    let err = data::load(&DataSource::Npz(path.clone()), None).unwrap_err();

    assert!(matches!(err, DataError::UnsupportedDtype { .. }), "{err}");
    assert!(err.to_string().contains("x_train"), "{err}");
}

#[test]
fn npz_label_out_of_range_is_reported() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("labels.npz");
    let mut entries = valid_npz_entries();
    let y_test: Vec<u8> = [9i64, -1].iter().flat_map(|v| v.to_le_bytes()).collect();
    entries[3].1 = npy_bytes("<i8", "(2,)", &y_test);
    write_zip(&path, &entries);

    let err = data::load(&DataSource::Npz(path.clone()), None).unwrap_err();

    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 1,
                value: -1,
                ..
            }
        ),
        "{err}"
    );
    assert_names_file(&err, &path);
    assert!(err.to_string().contains("y_test"), "{err}");
}

#[test]
fn npz_fortran_order_is_rejected() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("fortran.npz");
    let mut entries = valid_npz_entries();
    let x_train: Vec<u8> = (1..=8)
        .flat_map(|v: u32| (v as f32).to_le_bytes())
        .collect();
    entries[0].1 = npy_bytes_in_order("<f4", "True", "(4, 2)", &x_train);
    write_zip(&path, &entries);

    let err = data::load(&DataSource::Npz(path.clone()), None).unwrap_err();

    assert!(matches!(err, DataError::FortranOrder { .. }), "{err}");
    assert_names_file(&err, &path);
}

#[test]
fn npz_count_mismatch_is_reported() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("counts.npz");
    let mut entries = valid_npz_entries();
    let y_train: Vec<u8> = [0i64, 1, 2].iter().flat_map(|v| v.to_le_bytes()).collect();
    entries[1].1 = npy_bytes("<i8", "(3,)", &y_train);
    write_zip(&path, &entries);

    let err = data::load(&DataSource::Npz(path.clone()), None).unwrap_err();

    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                images: 4,
                labels: 3,
                ..
            }
        ),
        "{err}"
    );
    assert_names_file(&err, &path);
}

#[test]
fn npz_not_a_zip_is_reported() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("plain.npz");
    std::fs::write(&path, b"not a zip archive").unwrap();

    let err = data::load(&DataSource::Npz(path.clone()), None).unwrap_err();

    assert!(matches!(err, DataError::InvalidNpz { .. }), "{err}");
    assert_names_file(&err, &path);
}

#[test]
fn npz_missing_file_is_reported() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("absent.npz");

    let err = data::load(&DataSource::Npz(path.clone()), None).unwrap_err();

    assert!(matches!(err, DataError::MissingFile { .. }), "{err}");
    assert_names_file(&err, &path);
}

// ---------------------------------------------------------------------------------------
// prepare

#[test]
fn prepare_rescales_to_squared_norm_d() {
    let raw = synthetic_raw(50, 20);

    let prepared = data::prepare(&raw, 30, None, 7).unwrap();

    assert_eq!(prepared.d, 6);
    assert_eq!(prepared.n_train(), 30);
    assert_eq!(prepared.n_test(), 20);
    assert_eq!(prepared.x_train.len(), 30 * 6);
    assert_eq!(prepared.x_test.len(), 20 * 6);
    for row in prepared.x_train.chunks(6).chain(prepared.x_test.chunks(6)) {
        let squared_norm: f64 = row.iter().map(|x| x * x).sum();
        assert!(
            (squared_norm - 6.0).abs() <= 6.0 * 1e-12,
            "squared norm {squared_norm}"
        );
    }
}

#[test]
fn prepare_keeps_labels_and_direction() {
    let raw = synthetic_raw(50, 20);

    let prepared = data::prepare(&raw, 10, Some(5), 3).unwrap();

    let mut original = vec![0.0; 6];
    for (row, &index) in prepared.train_indices.iter().enumerate() {
        assert_eq!(prepared.y_train[row], raw.train.labels[index]);
        raw.train.sample_into(index, &mut original);
        let scaled = &prepared.x_train[row * 6..(row + 1) * 6];
        let ratio = scaled[0] / original[0];
        for (s, o) in scaled.iter().zip(&original) {
            assert!(
                (s / o - ratio).abs() < 1e-12,
                "row {row} is not a positive multiple"
            );
        }
    }
    for (row, &index) in prepared.test_indices.iter().enumerate() {
        assert_eq!(prepared.y_test[row], raw.test.labels[index]);
    }
}

#[test]
fn prepare_same_seed_same_indices() {
    let raw = synthetic_raw(200, 100);

    let first = data::prepare(&raw, 40, Some(30), 11).unwrap();
    let second = data::prepare(&raw, 40, Some(30), 11).unwrap();

    assert_eq!(first, second);
    assert!(first.train_indices.windows(2).all(|w| w[0] < w[1]));
    assert!(first.test_indices.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn prepare_different_seed_different_indices() {
    let raw = synthetic_raw(200, 100);

    let first = data::prepare(&raw, 40, Some(30), 11).unwrap();
    let second = data::prepare(&raw, 40, Some(30), 12).unwrap();

    assert_ne!(first.train_indices, second.train_indices);
    assert_ne!(first.test_indices, second.test_indices);
}

#[test]
fn prepare_test_draw_differs_from_train() {
    let raw = synthetic_raw(200, 200);

    let prepared = data::prepare(&raw, 40, Some(40), 5).unwrap();

    assert_ne!(prepared.train_indices, prepared.test_indices);
}

#[test]
fn prepare_caps_at_available() {
    let raw = synthetic_raw(15, 8);

    let prepared = data::prepare(&raw, 100, Some(50), 1).unwrap();

    assert_eq!(prepared.n_train(), 15);
    assert_eq!(prepared.n_test(), 8);
    assert_eq!(prepared.train_indices, (0..15).collect::<Vec<_>>());
    assert_eq!(prepared.test_indices, (0..8).collect::<Vec<_>>());
}

#[test]
fn prepare_rejects_zero_n_train() {
    let raw = synthetic_raw(15, 8);

    let err = data::prepare(&raw, 0, None, 1).unwrap_err();

    assert!(
        matches!(
            err,
            DataError::ZeroSampleCount {
                parameter: "n_train"
            }
        ),
        "{err}"
    );
}

#[test]
fn prepare_rejects_zero_norm_sample() {
    let mut raw = synthetic_raw(4, 3);
    let Pixels::F64(values) = &mut raw.test.images else {
        unreachable!();
    };
    values[12..18].fill(0.0);

    let err = data::prepare(&raw, 4, None, 1).unwrap_err();

    assert!(
        matches!(
            err,
            DataError::ZeroNorm {
                split: "test",
                index: 2,
                ..
            }
        ),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains("test sample 2"), "{message}");
}

#[test]
fn prepare_rejects_nan_sample() {
    let mut raw = synthetic_raw(4, 3);
    let Pixels::F64(values) = &mut raw.train.images else {
        unreachable!();
    };
    values[7] = f64::NAN;

    let err = data::prepare(&raw, 4, None, 1).unwrap_err();

    assert!(
        matches!(
            err,
            DataError::NonFinite {
                split: "train",
                index: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn prepare_handles_extreme_magnitudes() {
    let mut raw = synthetic_raw(2, 1);
    let Pixels::F64(values) = &mut raw.train.images else {
        unreachable!();
    };
    values[..6].copy_from_slice(&[1e200, -1e200, 3e199, 0.0, 0.0, 1e200]);
    values[6..].copy_from_slice(&[1e-310, 0.0, 0.0, 0.0, 0.0, 0.0]);

    let prepared = data::prepare(&raw, 2, None, 1).unwrap();

    for row in prepared.x_train.chunks(6) {
        let squared_norm: f64 = row.iter().map(|x| x * x).sum();
        assert!(
            (squared_norm - 6.0).abs() <= 6.0 * 1e-12,
            "squared norm {squared_norm}"
        );
    }
}

#[test]
fn prepare_real_mnist_subset() {
    let raw = data::load(&DataSource::MnistSubset, None).unwrap();

    let prepared = data::prepare(&raw, 1000, Some(200), 42).unwrap();

    assert_eq!(prepared.d, 784);
    assert_eq!(prepared.n_train(), 1000);
    assert_eq!(prepared.n_test(), 200);
    let row = &prepared.x_train[..784];
    let squared_norm: f64 = row.iter().map(|x| x * x).sum();
    assert!((squared_norm - 784.0).abs() <= 784.0 * 1e-12);
}
