//! The `lazysweep plot` command on a hand-made results.csv, and the summary of a protocol run
//! built from hand-made run folders.

use std::path::Path;
use std::process::{Command, Output};

use lazysweep::sweep::output::results_csv;
use lazysweep::sweep::reproduce::{SUMMARY_FILE, protocol, report_dataset, write_summary};
use lazysweep::sweep::{CellRecord, Scale};

const BIN: &str = env!("CARGO_BIN_EXE_lazysweep");

fn record(dataset: &str, optimizer: &str, alpha: f64, eta: f64, seed: u64) -> CellRecord {
    let accuracy = 0.5 + 0.04 * alpha.log10() + 0.03 * eta.log10() + 0.01 * seed as f64;
    let diverged = optimizer == "gd" && eta >= 10.0;
    let metric = |value: f64| if diverged { f64::NAN } else { value };
    CellRecord {
        dataset: dataset.to_string(),
        optimizer: optimizer.to_string(),
        alpha,
        eta,
        seed,
        steps_run: if diverged { 3 } else { 20 },
        diverged,
        diverged_step: diverged.then_some(3),
        final_loss: if diverged { f64::INFINITY } else { 0.3 },
        train_acc: metric(accuracy + 0.02),
        test_acc: metric(accuracy),
        sign_consistency: metric(0.6 + 0.05 * alpha.log10()),
        rel_change_w0: metric(0.01),
        rel_change_w1: metric(0.1),
        lost_update: f64::NAN,
        cancellation: f64::NAN,
        trusted: None,
        backend: "cpu".to_string(),
        precision: "f64".to_string(),
        wall_s: 0.1,
    }
}

/// Writes a 3 x 3 grid of gd, rmsprop and modified-rmsprop with `seeds` seeds to
/// `dir/results.csv`.
fn write_results(dir: &Path, dataset: &str, seeds: u64) {
    let mut records = Vec::new();
    for seed in 0..seeds {
        for optimizer in ["gd", "rmsprop", "modified-rmsprop"] {
            for alpha in [0.1, 1.0, 10.0] {
                for eta in [0.1, 1.0, 10.0] {
                    records.push(record(dataset, optimizer, alpha, eta, seed));
                }
            }
        }
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("results.csv"), results_csv(&records).unwrap()).unwrap();
}

fn plot(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("plot")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn plot_draws_every_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    write_results(&run, "mnist", 2);

    let output = plot(&[run.to_str().unwrap(), "--eta", "0.3"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    // Six figures plus three standard-deviation figures, each as PNG and SVG, and one PNG
    // heat map per optimizer (3) and metric (3).
    assert_eq!(printed.len(), 18 + 9, "{printed:?}");
    for name in [
        "heatmaps_test_acc.png",
        "heatmaps_train_acc.svg",
        "heatmaps_sign_consistency.png",
        "accuracy_vs_alpha.svg",
        "best_eta_vs_alpha.png",
        "accuracy_with_sign_consistency.png",
        "heatmaps_test_acc_std.png",
        "heatmap_test_acc_gd.png",
    ] {
        let path = run.join("figures").join(name);
        assert!(path.is_file(), "{} missing", path.display());
        assert!(
            printed.contains(&path.display().to_string()),
            "{name} not printed"
        );
    }
}

#[test]
fn plot_without_results_names_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let output = plot(&[tmp.path().to_str().unwrap()]);
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("no finished cells"), "{message}");
    assert!(message.contains("run a sweep with --out"), "{message}");

    let missing = tmp.path().join("missing");
    let output = plot(&[missing.to_str().unwrap()]);
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("not found"), "{message}");
}

#[test]
fn plot_rejects_zero_eta() {
    let tmp = tempfile::tempdir().unwrap();
    write_results(tmp.path(), "mnist", 1);
    let output = plot(&[tmp.path().to_str().unwrap(), "--eta", "0"]);
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("invalid fixed eta 0"), "{message}");
}

#[test]
fn summary_links_existing_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path();
    let mut reports = Vec::new();
    for config in protocol(Scale::Quick) {
        write_results(&out.join(&config.data), &config.data, 1);
        reports.push(report_dataset(out, config, 1.0).unwrap());
    }
    let summary = write_summary(out, Scale::Quick, &reports).unwrap();
    assert_eq!(summary, out.join(SUMMARY_FILE));
    let text = std::fs::read_to_string(&summary).unwrap();

    for dataset in ["## mnist", "## fashion-mnist", "## cifar10"] {
        assert!(text.contains(dataset), "{dataset} section missing");
    }
    assert!(text.contains("13 alphas from 1e-4 to 1e8"));
    assert!(text.contains("27 finished cells, 3 diverged"));
    assert!(text.contains("![heatmaps_test_acc](mnist/figures/heatmaps_test_acc.png)"));

    // Every relative link in the summary points at a file or folder that exists.
    let links: Vec<&str> = text
        .split("](")
        .skip(1)
        .map(|rest| rest.split_once(')').unwrap().0)
        .collect();
    assert!(links.len() > 3 * 12, "{} links", links.len());
    for link in links {
        assert!(!link.starts_with('/'), "{link} is absolute");
        assert!(out.join(link).exists(), "{link} does not exist");
    }
}

#[test]
fn reproduce_rejects_unknown_scale() {
    let tmp = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["reproduce", "--scale", "huge", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("unknown scale 'huge'"), "{message}");
}
