//! An interrupted sweep, rerun with the same command, ends with the same results.csv as an
//! uninterrupted one.

use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_lazysweep");

fn sweep_command(out: &Path) -> Command {
    sweep_command_with_steps(out, 300)
}

fn sweep_command_with_steps(out: &Path, steps: u32) -> Command {
    let mut command = Command::new(BIN);
    command
        .args([
            "sweep",
            "--data",
            "mnist-subset",
            "--optimizer",
            "gd,modified-rmsprop",
        ])
        .args(["--alphas", "1e-1:1e1:3", "--etas", "1e-3,1e-1,1e3"])
        .args([
            "--steps",
            &steps.to_string(),
            "--hidden",
            "24",
            "--n-train",
            "300",
            "--n-test",
            "200",
        ])
        .args(["--batch-cells", "1", "--no-plots", "--out"])
        .arg(out)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Returns the rows of results.csv without the wall_s column, which measures time.
fn rows_without_time(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    text.lines()
        .map(|line| line.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

fn data_rows(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("results.csv"))
        .map(|text| text.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

#[test]
fn killed_sweep_resumes_to_same_results() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    let resumed = tmp.path().join("resumed");

    let status = sweep_command(&whole).status().unwrap();
    assert!(status.success());
    let expected = rows_without_time(&whole);
    assert_eq!(expected.len(), 1 + 18, "header and 18 cells");

    // Kill the second run once at least two cells are on disk.
    let mut child = sweep_command(&resumed).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while data_rows(&resumed) < 2 {
        assert!(
            Instant::now() < deadline,
            "no cell finished within two minutes"
        );
        if child.try_wait().unwrap().is_some() {
            break;
        }
        sleep(Duration::from_millis(5));
    }
    child.kill().ok();
    child.wait().unwrap();
    let partial = data_rows(&resumed);
    assert!(partial >= 2, "{partial} rows before the kill");
    assert!(partial < 18, "the run finished before it could be killed");

    let status = sweep_command(&resumed).status().unwrap();
    assert!(status.success());
    assert_eq!(rows_without_time(&resumed), expected);
}

#[test]
fn truncated_results_are_completed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    assert!(sweep_command(&dir).status().unwrap().success());
    let expected = rows_without_time(&dir);

    // Keep the header and the first five cells, as if the process died there.
    let text = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    let kept: Vec<&str> = text.lines().take(6).collect();
    std::fs::write(dir.join("results.csv"), kept.join("\n") + "\n").unwrap();

    assert!(sweep_command(&dir).status().unwrap().success());
    assert_eq!(rows_without_time(&dir), expected);
}

#[test]
fn different_configuration_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    assert!(sweep_command(&dir).status().unwrap().success());
    let before = std::fs::read_to_string(dir.join("results.csv")).unwrap();

    let output = sweep_command_with_steps(&dir, 301)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("different configuration"), "{message}");
    assert!(message.contains("steps: 300 before, 301 now"), "{message}");
    assert_eq!(
        std::fs::read_to_string(dir.join("results.csv")).unwrap(),
        before
    );
}

/// A folder of float64 CPU cells is not resumed in another arithmetic or on another
/// engine, and the message names the options that wrote it.
#[test]
fn other_engine_or_precision_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let finished = sweep_command_with_steps(&dir, 5)
        .args(["--backend", "cpu"])
        .status()
        .unwrap();
    assert!(finished.success());
    let before = std::fs::read_to_string(dir.join("results.csv")).unwrap();

    let mut others = vec![vec!["--backend", "cpu", "--precision", "offset"]];
    // The GPU engine computes f64 only on adapters with 64-bit floats in shaders. Elsewhere
    // the run fails before it reads the folder, so the message check below is skipped.
    others.push(vec!["--backend", "gpu", "--precision", "f64"]);
    for options in others {
        let output = sweep_command_with_steps(&dir, 5)
            .args(&options)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{options:?} resumed the folder");
        let message = String::from_utf8_lossy(&output.stderr);
        let opened_engine =
            !message.contains("no GPU adapter") && !message.contains("no 64-bit floats in shaders");
        if opened_engine {
            assert!(
                message.contains("the cpu engine in float64 (--backend cpu --precision f64)"),
                "{options:?}: {message}"
            );
        }
        assert_eq!(
            std::fs::read_to_string(dir.join("results.csv")).unwrap(),
            before,
            "{options:?}"
        );
    }
}

#[test]
fn interrupted_sweep_marks_run_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let mut child = sweep_command(&dir).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while data_rows(&dir) < 1 {
        assert!(
            Instant::now() < deadline,
            "no cell finished within two minutes"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sweep ended before it was interrupted"
        );
        sleep(Duration::from_millis(5));
    }

    let interrupt = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupt.success(), "kill -INT failed");
    let output = child.wait_with_output().unwrap();

    assert_eq!(output.status.code(), Some(130), "exit status");
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("interrupted: finished cells are in"),
        "{message}"
    );
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["status"], "interrupted");
}
