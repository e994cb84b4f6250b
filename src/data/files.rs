//! File lookup, gzip detection and checksums shared by the readers.

use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use super::{DataError, SourceFile};

/// The first two bytes of every gzip stream (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Hint appended to missing-file errors for the named datasets.
pub(crate) const DATA_DIR_HINT: &str = ". The data folder (--data-dir or LAZYSWEEP_DATA) must \
     contain mnist/, fashion-mnist/ and cifar-10/ with the original file names";

/// Returns the path of `name` or `name.gz` inside `dir`, preferring the uncompressed name
/// when both exist.
pub(crate) fn find_file(dir: &Path, name: &str, description: &str) -> Result<PathBuf, DataError> {
    let candidates = candidate_paths(dir, name);

    for path in &candidates {
        if path.is_file() {
            return Ok(path.clone());
        }
    }

    Err(DataError::MissingFile {
        description: description.to_string(),
        expected: candidates.iter().map(|p| p.display().to_string()).collect(),
        hint: DATA_DIR_HINT.to_string(),
    })
}

/// Returns `dir/name` and `dir/name.gz`, in that order.
pub(crate) fn candidate_paths(dir: &Path, name: &str) -> [PathBuf; 2] {
    [dir.join(name), dir.join(format!("{name}.gz"))]
}

/// Reads a whole file, records its size and SHA-256, and gunzips it when it starts with
/// the gzip magic bytes. Returns the decoded bytes and the record of the file on disk.
pub(crate) fn read_data_file(path: &Path) -> Result<(Vec<u8>, SourceFile), DataError> {
    let file = path.display().to_string();
    let stored = std::fs::read(path).map_err(|source| read_error(path, source))?;
    let record = SourceFile {
        path: file.clone(),
        bytes: stored.len() as u64,
        sha256: sha256_hex(&stored),
    };

    let decoded = if stored.starts_with(&GZIP_MAGIC) {
        decompress(&stored, &file)?.into_owned()
    } else {
        stored
    };

    Ok((decoded, record))
}

/// Gunzips `bytes` when they start with the gzip magic bytes, and borrows them otherwise.
/// Concatenated gzip members are decoded as one stream.
pub fn decompress<'a>(bytes: &'a [u8], file: &str) -> Result<Cow<'a, [u8]>, DataError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(Cow::Borrowed(bytes));
    }

    let mut decoded = Vec::new();
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut decoded)
        .map_err(|source| DataError::CorruptGzip {
            file: file.to_string(),
            source,
        })?;

    Ok(Cow::Owned(decoded))
}

/// Returns the hex SHA-256 of the file at `path`.
pub fn file_sha256(path: &Path) -> Result<String, DataError> {
    let bytes = std::fs::read(path).map_err(|source| read_error(path, source))?;
    Ok(sha256_hex(&bytes))
}

/// Returns the lowercase hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// Maps an I/O error on `path` to `MissingFile` when the file does not exist, and to
/// `Read` otherwise.
pub(crate) fn read_error(path: &Path, source: std::io::Error) -> DataError {
    if source.kind() == std::io::ErrorKind::NotFound {
        DataError::MissingFile {
            description: "data file".to_string(),
            expected: vec![path.display().to_string()],
            hint: String::new(),
        }
    } else {
        DataError::Read {
            file: path.display().to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_abc() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn decompress_passes_plain_bytes() {
        let plain = [1u8, 2, 3];
        let out = decompress(&plain, "x").unwrap();
        assert!(matches!(out, Cow::Borrowed(_)));
        assert_eq!(&*out, &plain);
    }

    #[test]
    fn decompress_rejects_bad_gzip() {
        let corrupt = [0x1f, 0x8b, 0x08, 0x00, 0xff, 0xff];
        let err = decompress(&corrupt, "bad.gz").unwrap_err();
        assert!(matches!(err, DataError::CorruptGzip { .. }), "{err}");
    }
}
