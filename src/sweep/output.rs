//! The files of a run folder: `results.csv`, one row per finished cell, and `run.json`,
//! the settings and provenance of the run. Both are replaced atomically (written to a
//! temporary file in the same folder, then renamed), so an interrupted run leaves either
//! the old or the new version, never a partial file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::SweepError;
use super::record::CellRecord;

pub const RESULTS_FILE: &str = "results.csv";
pub const RUN_FILE: &str = "run.json";

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SweepError> {
    let tmp = temporary_path(path);
    let io = |source| SweepError::Write {
        path: path.to_path_buf(),
        source,
    };
    {
        let mut file = fs::File::create(&tmp).map_err(io)?;
        file.write_all(bytes).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    fs::rename(&tmp, path).map_err(io)
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Serializes the records as CSV with a header row.
pub fn results_csv(records: &[CellRecord]) -> Result<Vec<u8>, SweepError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in records {
        writer.serialize(record).map_err(|source| SweepError::Csv {
            path: PathBuf::from(RESULTS_FILE),
            source,
        })?;
    }
    writer.into_inner().map_err(|err| SweepError::Write {
        path: PathBuf::from(RESULTS_FILE),
        source: err.into_error(),
    })
}

/// Writes `results.csv` in `dir` atomically.
pub fn write_results(dir: &Path, records: &[CellRecord]) -> Result<(), SweepError> {
    write_atomically(&dir.join(RESULTS_FILE), &results_csv(records)?)
}

/// Reads `results.csv` from `dir`; a missing file is an empty result set.
pub fn read_results(dir: &Path) -> Result<Vec<CellRecord>, SweepError> {
    let path = dir.join(RESULTS_FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut reader = csv::Reader::from_path(&path).map_err(|source| SweepError::Csv {
        path: path.clone(),
        source,
    })?;
    reader
        .deserialize()
        .map(|row| {
            row.map_err(|source| SweepError::Csv {
                path: path.clone(),
                source,
            })
        })
        .collect()
}
