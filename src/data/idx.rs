//! Reader and writer for the IDX format of MNIST and Fashion-MNIST.
//!
//! An image file starts with the big-endian u32 values magic 2051, count, rows and cols,
//! followed by count * rows * cols u8 pixels. A label file starts with magic 2049 and
//! count, followed by count u8 labels. The functions here take decoded (gunzipped) bytes.

use super::DataError;

/// Magic number of an IDX file of u8 values with 3 dimensions (0x00000803).
pub const IMAGES_MAGIC: u32 = 2051;
/// Magic number of an IDX file of u8 values with 1 dimension (0x00000801).
pub const LABELS_MAGIC: u32 = 2049;

const IMAGES_HEADER_LEN: usize = 16;
const LABELS_HEADER_LEN: usize = 8;

/// Images decoded from an IDX image file.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    /// Pixels of all images, image by image and row by row.
    pub pixels: Vec<u8>,
}

/// Parses a decoded IDX image file. `file` names the source in error messages.
pub fn parse_images(bytes: &[u8], file: &str) -> Result<IdxImages, DataError> {
    check_magic(bytes, IMAGES_MAGIC, "images", file)?;
    require_len(bytes, IMAGES_HEADER_LEN, file)?;

    let count = read_u32_be(bytes, 4) as usize;
    let rows = read_u32_be(bytes, 8) as usize;
    let cols = read_u32_be(bytes, 12) as usize;

    let pixel_count = count
        .checked_mul(rows)
        .and_then(|n| n.checked_mul(cols))
        .ok_or_else(|| DataError::UnsupportedShape {
            file: file.to_string(),
            shape: vec![count, rows, cols],
            reason: "the header's dimensions overflow the address space".to_string(),
        })?;
    let body = exact_body(bytes, IMAGES_HEADER_LEN, pixel_count, file)?;

    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: body.to_vec(),
    })
}

/// Parses a decoded IDX label file and checks that every label lies in 0..=9.
pub fn parse_labels(bytes: &[u8], file: &str) -> Result<Vec<u8>, DataError> {
    check_magic(bytes, LABELS_MAGIC, "labels", file)?;
    require_len(bytes, LABELS_HEADER_LEN, file)?;

    let count = read_u32_be(bytes, 4) as usize;
    let labels = exact_body(bytes, LABELS_HEADER_LEN, count, file)?.to_vec();
    check_labels(&labels, file)?;

    Ok(labels)
}

/// Encodes images as an (uncompressed) IDX image file.
pub fn encode_images(pixels: &[u8], count: usize, rows: usize, cols: usize) -> Vec<u8> {
    assert_eq!(
        pixels.len(),
        count * rows * cols,
        "pixel count must match the shape"
    );

    let mut out = Vec::with_capacity(IMAGES_HEADER_LEN + pixels.len());
    for value in [IMAGES_MAGIC, to_u32(count), to_u32(rows), to_u32(cols)] {
        out.extend_from_slice(&value.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// Encodes labels as an (uncompressed) IDX label file.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(LABELS_HEADER_LEN + labels.len());
    out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&to_u32(labels.len()).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

/// Returns an error for the first label outside 0..=9.
pub(crate) fn check_labels(labels: &[u8], file: &str) -> Result<(), DataError> {
    match labels.iter().position(|&label| label > 9) {
        Some(index) => Err(DataError::LabelOutOfRange {
            file: file.to_string(),
            index,
            value: i128::from(labels[index]),
        }),
        None => Ok(()),
    }
}

fn check_magic(
    bytes: &[u8],
    expected: u32,
    kind: &'static str,
    file: &str,
) -> Result<(), DataError> {
    require_len(bytes, 4, file)?;

    let found = read_u32_be(bytes, 0);
    if found != expected {
        return Err(DataError::BadMagic {
            file: file.to_string(),
            kind,
            expected,
            found,
        });
    }
    Ok(())
}

fn require_len(bytes: &[u8], needed: usize, file: &str) -> Result<(), DataError> {
    if bytes.len() < needed {
        return Err(DataError::Truncated {
            file: file.to_string(),
            expected: needed as u64,
            actual: bytes.len() as u64,
        });
    }
    Ok(())
}

/// Returns the `body_len` bytes after the header, rejecting short and over-long data.
fn exact_body<'a>(
    bytes: &'a [u8],
    header_len: usize,
    body_len: usize,
    file: &str,
) -> Result<&'a [u8], DataError> {
    let expected = header_len as u64 + body_len as u64;
    let actual = bytes.len() as u64;

    if actual < expected {
        return Err(DataError::Truncated {
            file: file.to_string(),
            expected,
            actual,
        });
    }
    if actual > expected {
        return Err(DataError::TrailingBytes {
            file: file.to_string(),
            expected,
            extra: actual - expected,
        });
    }

    Ok(&bytes[header_len..])
}

fn read_u32_be(bytes: &[u8], offset: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_be_bytes(word)
}

fn to_u32(value: usize) -> u32 {
    u32::try_from(value).expect("IDX dimensions must fit in a u32")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_round_trip() {
        let pixels: Vec<u8> = (0..12).collect();
        let encoded = encode_images(&pixels, 3, 2, 2);
        let parsed = parse_images(&encoded, "t").unwrap();
        assert_eq!(parsed.count, 3);
        assert_eq!((parsed.rows, parsed.cols), (2, 2));
        assert_eq!(parsed.pixels, pixels);
    }

    #[test]
    fn labels_round_trip() {
        let labels = [0u8, 9, 3];
        let parsed = parse_labels(&encode_labels(&labels), "t").unwrap();
        assert_eq!(parsed, labels);
    }

    #[test]
    fn labels_reject_image_magic() {
        let encoded = encode_images(&[0; 4], 1, 2, 2);
        let err = parse_labels(&encoded, "t").unwrap_err();
        assert!(
            matches!(err, DataError::BadMagic { found: 2051, .. }),
            "{err}"
        );
    }

    #[test]
    fn images_reject_trailing_bytes() {
        let mut encoded = encode_images(&[0; 4], 1, 2, 2);
        encoded.push(0);
        let err = parse_images(&encoded, "t").unwrap_err();
        assert!(
            matches!(err, DataError::TrailingBytes { extra: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn short_header_is_truncated() {
        let err = parse_images(&[0, 0, 8, 3, 0], "t").unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    expected: 16,
                    actual: 5,
                    ..
                }
            ),
            "{err}"
        );
    }
}
