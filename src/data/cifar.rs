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

/// Parses one decoded batch and appends its pixels and labels to the given vectors.
/// Rejects data that is empty or not a whole number of records.
pub fn parse_batch_into(
    bytes: &[u8],
    file: &str,
    pixels: &mut Vec<u8>,
    labels: &mut Vec<u8>,
) -> Result<(), DataError> {
    let actual = bytes.len();
    if actual == 0 || actual % RECORD_LEN != 0 {
        let whole_records = actual / RECORD_LEN;
        return Err(DataError::Truncated {
            file: file.to_string(),
            expected: ((whole_records + 1) * RECORD_LEN) as u64,
            actual: actual as u64,
        });
    }

    let first_new = labels.len();
    pixels.reserve(actual / RECORD_LEN * PIXELS_PER_IMAGE);
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

    #[test]
    fn parses_two_records() {
        let mut bytes = vec![0u8; 2 * RECORD_LEN];
        bytes[0] = 3;
        bytes[1] = 200;
        bytes[RECORD_LEN] = 8;
        let mut pixels = Vec::new();
        let mut labels = Vec::new();

        parse_batch_into(&bytes, "b", &mut pixels, &mut labels).unwrap();

        assert_eq!(labels, [3, 8]);
        assert_eq!(pixels.len(), 2 * PIXELS_PER_IMAGE);
        assert_eq!(pixels[0], 200);
    }

    #[test]
    fn rejects_partial_record() {
        let bytes = vec![0u8; RECORD_LEN + 5];
        let err = parse_batch_into(&bytes, "b", &mut Vec::new(), &mut Vec::new()).unwrap_err();
        assert!(matches!(err, DataError::Truncated { .. }), "{err}");
    }

    #[test]
    fn label_index_is_local_to_file() {
        let mut labels = vec![1u8; 5];
        let mut bytes = vec![0u8; 2 * RECORD_LEN];
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
