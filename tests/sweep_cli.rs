//! The `lazysweep sweep` command on custom data, with saved and loaded theta_0, and its
//! errors for bad settings.

use std::path::Path;
use std::process::{Command, Output};

use lazysweep::data::{NpzData, NpzEntry, write_npz};

const BIN: &str = env!("CARGO_BIN_EXE_lazysweep");

/// Writes a small dataset of 3x4 uint8 images whose class is the brightest row pair.
fn write_dataset(path: &Path) {
    let make = |count: usize, offset: usize| -> (Vec<u8>, Vec<u8>) {
        let mut images = Vec::new();
        let mut labels = Vec::new();
        for i in 0..count {
            let label = ((i + offset) % 10) as u8;
            for p in 0..12 {
                images.push(((p * 37 + i * 11 + label as usize * 53) % 200 + 20) as u8);
            }
            labels.push(label);
        }
        (images, labels)
    };
    let (x_train, y_train) = make(60, 0);
    let (x_test, y_test) = make(20, 3);
    let entries = [
        NpzEntry {
            name: "x_train",
            data: NpzData::U8(&x_train),
            shape: &[60, 3, 4],
        },
        NpzEntry {
            name: "y_train",
            data: NpzData::U8(&y_train),
            shape: &[60],
        },
        NpzEntry {
            name: "x_test",
            data: NpzData::U8(&x_test),
            shape: &[20, 3, 4],
        },
        NpzEntry {
            name: "y_test",
            data: NpzData::U8(&y_test),
            shape: &[20],
        },
    ];
    write_npz(path, &entries, true).unwrap();
}

fn sweep(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("sweep")
        .args([
            "--optimizer",
            "gd,rmsprop",
            "--alphas",
            "0.5,2",
            "--etas",
            "1e-2,1",
        ])
        .args(["--steps", "15", "--hidden", "8", "--no-plots"])
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Returns results.csv without the wall_s and dataset columns.
fn results(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("results.csv"))
        .unwrap()
        .lines()
        .map(|line| {
            let without_time = line.rsplit_once(',').unwrap().0;
            without_time.split_once(',').unwrap().1.to_string()
        })
        .collect()
}

#[test]
fn npz_dataset_with_saved_init() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("toy.npz");
    write_dataset(&data);
    let data = data.to_str().unwrap();
    let first = tmp.path().join("first");
    let second = tmp.path().join("second");
    let init = tmp.path().join("init.npz");

    let output = sweep(&[
        "--data",
        data,
        "--out",
        first.to_str().unwrap(),
        "--save-init",
        init.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(init.exists());
    let rows = results(&first);
    assert_eq!(rows.len(), 1 + 8);

    // theta_0 loaded from the saved file reproduces the first run exactly.
    let output = sweep(&[
        "--data",
        data,
        "--out",
        second.to_str().unwrap(),
        "--init",
        init.to_str().unwrap(),
        "--seed",
        "0",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(results(&second), rows);

    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(second.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["data"]["d"], 12);
    assert_eq!(run["data"]["n_train"], 60);
    assert!(run["config"]["init_sha256"].as_str().unwrap().len() == 64);
}

#[test]
fn init_with_wrong_shape_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("toy.npz");
    write_dataset(&data);
    let init = tmp.path().join("init.npz");
    let out = tmp.path().join("run");
    let data = data.to_str().unwrap();
    let output = sweep(&[
        "--data",
        data,
        "--out",
        out.to_str().unwrap(),
        "--save-init",
        init.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));

    let other = tmp.path().join("other");
    let output = sweep(&[
        "--data",
        data,
        "--out",
        other.to_str().unwrap(),
        "--init",
        init.to_str().unwrap(),
        "--hidden",
        "9",
    ]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("W0 of shape [8, 12]"), "{message}");
    assert!(message.contains("[9, 12]"), "{message}");
}

#[test]
fn bad_settings_name_the_value() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (&["--alphas", "-1,2"], "invalid alphas value -1"),
        (&["--etas", "1:10:0"], "COUNT must be at least 1"),
        (&["--data", "imagenet"], "imagenet"),
        (
            &["--data", "/nonexistent/file.npz"],
            "/nonexistent/file.npz",
        ),
        (&["--backend", "gpu-ish"], "gpu-ish"),
        (&["--divergence-factor", "0.5"], "--divergence-factor = 0.5"),
    ];
    for (args, fragment) in cases {
        let mut all = vec!["--out", out];
        all.extend_from_slice(args);
        let output = sweep(&all);
        assert!(!output.status.success(), "{args:?} succeeded");
        let message = stderr(&output);
        assert!(message.contains(fragment), "{args:?}: {message}");
    }
}

#[test]
fn offset_precision_writes_trust_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("toy.npz");
    write_dataset(&data);
    let data = data.to_str().unwrap();
    let out = tmp.path().join("offset");
    let out = out.to_str().unwrap();

    let output = sweep(&[
        "--data",
        data,
        "--out",
        out,
        "--backend",
        "cpu",
        "--precision",
        "offset",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let mut reader = csv::Reader::from_path(Path::new(out).join("results.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (precision, lost, trusted) = (
        column("precision"),
        column("lost_update"),
        column("trusted"),
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 8);
    for row in &rows {
        assert_eq!(&row[precision], "offset-float64");
        assert!(row[lost].parse::<f64>().unwrap() < 1e-3, "{row:?}");
        assert!(["true", ""].contains(&&row[trusted]), "{row:?}");
    }

    // Resuming the folder in another arithmetic would mix two kinds of cells.
    let output = sweep(&[
        "--data",
        data,
        "--out",
        out,
        "--backend",
        "cpu",
        "--precision",
        "f64",
    ]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("offset-float64"), "{message}");
    assert!(message.contains("--precision"), "{message}");
}

#[test]
fn gpu_precision_on_cpu_backend_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let output = sweep(&[
        "--out",
        out.to_str().unwrap(),
        "--backend",
        "cpu",
        "--precision",
        "f32",
    ]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("--precision f32"), "{message}");
    assert!(message.contains("--backend gpu"), "{message}");
    assert!(!out.join("results.csv").exists());
}

#[test]
fn gpu_backend_writes_same_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("toy.npz");
    write_dataset(&data);
    let data = data.to_str().unwrap();
    let cpu_dir = tmp.path().join("cpu");
    let output = sweep(&[
        "--data",
        data,
        "--out",
        cpu_dir.to_str().unwrap(),
        "--backend",
        "cpu",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let cpu_header = std::fs::read_to_string(cpu_dir.join("results.csv")).unwrap();
    let cpu_header = cpu_header.lines().next().unwrap().to_string();

    for (precision, label) in [
        (None, "offset-float32"),
        (Some("f32"), "float32"),
        (Some("df64"), "offset-df64"),
        (Some("f64"), "float64"),
    ] {
        let out = tmp.path().join(label);
        let mut args = vec![
            "--data",
            data,
            "--out",
            out.to_str().unwrap(),
            "--backend",
            "gpu",
        ];
        args.extend(precision.iter().flat_map(|p| ["--precision", *p]));
        let output = sweep(&args);
        let message = stderr(&output);
        if message.contains("no GPU adapter found") {
            eprintln!("skipped: {message}");
            return;
        }
        if message.contains("no 64-bit floats in shaders") {
            eprintln!("{label} skipped: {message}");
            continue;
        }
        assert!(output.status.success(), "{message}");
        let text = std::fs::read_to_string(out.join("results.csv")).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            cpu_header,
            "{label}: same columns as the CPU engine"
        );
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 8, "{label}: one row per cell");
        for row in rows {
            assert!(row.contains(&format!(",gpu,{label},")), "{label}: {row}");
        }
    }
}

/// A run of 0 steps moves nothing, so no cell is judged trusted or untrusted and the sweep
/// does not warn about lost updates.
#[test]
fn zero_steps_leave_trust_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("toy.npz");
    write_dataset(&data);
    for precision in ["f64", "offset"] {
        let out = tmp.path().join(precision);
        let output = sweep(&[
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--backend",
            "cpu",
            "--precision",
            precision,
            "--steps",
            "0",
        ]);
        let message = stderr(&output);
        assert!(output.status.success(), "{precision}: {message}");
        assert!(!message.contains("untrusted"), "{precision}: {message}");
        let text = std::fs::read_to_string(out.join("results.csv")).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let column = header.iter().position(|&name| name == "trusted").unwrap();
        for line in lines {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields[column], "", "{precision}: {line}");
        }
    }
}
