//! Sweep configuration, the grid of cells, resumable output and the driver loop.

pub mod record;

pub use record::CellRecord;
