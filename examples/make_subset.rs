//! Writes the embedded MNIST subset: the first N training and test images of MNIST as
//! gzipped IDX files.
//!
//! Usage: cargo run --release --example make_subset -- DATA_DIR OUT_DIR [N_TRAIN N_TEST]
//! DATA_DIR must contain mnist/ with the original file names. The counts default to
//! 4000 and 1000.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 2 && args.len() != 4 {
        eprintln!("usage: make_subset DATA_DIR OUT_DIR [N_TRAIN N_TEST]");
        return ExitCode::FAILURE;
    }

    let data_dir = PathBuf::from(&args[0]);
    let out_dir = PathBuf::from(&args[1]);
    let counts = if args.len() == 4 {
        match (args[2].parse(), args[3].parse()) {
            (Ok(n_train), Ok(n_test)) => (n_train, n_test),
            _ => {
                eprintln!("N_TRAIN and N_TEST must be non-negative integers");
                return ExitCode::FAILURE;
            }
        }
    } else {
        (4000, 1000)
    };

    match lazysweep::data::write_subset(&data_dir, &out_dir, counts.0, counts.1) {
        Ok(()) => {
            println!(
                "wrote {} training and {} test images to {}",
                counts.0,
                counts.1,
                out_dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
