//! Reader for the CIFAR-10 binary batches (`data_batch_1.bin` .. `data_batch_5.bin`,
//! `test_batch.bin`).
//!
//! Each record is 1 label byte followed by 3072 pixel bytes: the 32x32 red plane, then
//! the green plane, then the blue plane, each in row-major order.

use super::DataError;
use super::idx::check_labels;

/// Bytes of pixel data per image (3 channels of 32x32).
pub const PIXELS_PER_IMAGE: usize = 3 * 32 * 32;
/// Bytes per record: one label byte plus the pixels.
pub const RECORD_LEN: usize = 1 + PIXELS_PER_IMAGE;
/// Shape of one image as (channels, rows, cols).
pub const SAMPLE_SHAPE: [usize; 3] = [3, 32, 32];

/// Records in every CIFAR-10 batch file.
pub const RECORDS_PER_BATCH: usize = 10_000;
/// Bytes of one decoded batch file.
pub const BATCH_LEN: usize = RECORDS_PER_BATCH * RECORD_LEN;

/// Parses one decoded batch and appends its pixels and labels to the given vectors.
/// Rejects data that is not exactly `RECORDS_PER_BATCH` records, so that a copy cut short
/// at a record boundary is reported rather than read as a smaller batch.
pub fn parse_batch_into(
    bytes: &[u8],
    file: &str,
    pixels: &mut Vec<u8>,
    labels: &mut Vec<u8>,
) -> Result<(), DataError> {
    let actual = bytes.len();
    if actual < BATCH_LEN {
        return Err(DataError::Truncated {
            file: file.to_string(),
            expected: BATCH_LEN as u64,
            actual: actual as u64,
        });
    }
    if actual > BATCH_LEN {
        return Err(DataError::TrailingBytes {
            file: file.to_string(),
            expected: BATCH_LEN as u64,
            extra: (actual - BATCH_LEN) as u64,
        });
    }

    let first_new = labels.len();
    pixels.reserve(RECORDS_PER_BATCH * PIXELS_PER_IMAGE);
    for record in bytes.chunks_exact(RECORD_LEN) {
        labels.push(record[0]);
        pixels.extend_from_slice(&record[1..]);
    }

    // Index the label error within this file, not within the concatenated batches.
    check_labels(&labels[first_new..], file)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns a whole batch of zero labels and pixels.
    fn batch() -> Vec<u8> {
        vec![0u8; BATCH_LEN]
    }

    #[test]
    fn parses_whole_batch() {
        let mut bytes = batch();
        bytes[0] = 3;
        bytes[1] = 200;
        bytes[RECORD_LEN] = 8;
        let mut pixels = Vec::new();
        let mut labels = Vec::new();

        parse_batch_into(&bytes, "b", &mut pixels, &mut labels).unwrap();

        assert_eq!(labels.len(), RECORDS_PER_BATCH);
        assert_eq!(labels[..2], [3, 8]);
        assert_eq!(pixels.len(), RECORDS_PER_BATCH * PIXELS_PER_IMAGE);
        assert_eq!(pixels[0], 200);
    }

    #[test]
    fn rejects_batch_cut_at_record_boundary() {
        let bytes = batch();
        let cut = &bytes[..300 * RECORD_LEN];
        let err = parse_batch_into(cut, "b", &mut Vec::new(), &mut Vec::new()).unwrap_err();
        assert!(
            matches!(err, DataError::Truncated { expected, actual, .. }
                if expected == BATCH_LEN as u64 && actual == (300 * RECORD_LEN) as u64),
            "{err}"
        );
    }

    #[test]
    fn rejects_partial_record() {
        let bytes = batch();
        let cut = &bytes[..RECORD_LEN + 5];
        let err = parse_batch_into(cut, "b", &mut Vec::new(), &mut Vec::new()).unwrap_err();
        assert!(
            matches!(err, DataError::Truncated { expected, .. } if expected == BATCH_LEN as u64),
            "{err}"
        );
    }

    #[test]
    fn rejects_trailing_bytes() {
        let mut bytes = batch();
        bytes.extend([0u8; 7]);
        let err = parse_batch_into(&bytes, "b", &mut Vec::new(), &mut Vec::new()).unwrap_err();
        assert!(
            matches!(err, DataError::TrailingBytes { extra: 7, .. }),
            "{err}"
        );
    }

    #[test]
    fn label_index_is_local_to_file() {
        let mut labels = vec![1u8; 5];
        let mut bytes = batch();
        bytes[RECORD_LEN] = 12;

        let err = parse_batch_into(&bytes, "b", &mut Vec::new(), &mut labels).unwrap_err();

        assert!(
            matches!(
                err,
                DataError::LabelOutOfRange {
                    index: 1,
                    value: 12,
                    ..
                }
            ),
            "{err}"
        );
    }
}
