use std::path::Path;

use image::{GenericImageView, Rgba};

use super::*;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
const WHITE_PIXEL: Rgba<u8> = Rgba([255, 255, 255, 255]);

fn record(optimizer: &str, alpha: f64, eta: f64, seed: u64, accuracy: f64) -> CellRecord {
    CellRecord {
        dataset: "mnist".to_string(),
        optimizer: optimizer.to_string(),
        alpha,
        eta,
        seed,
        steps_run: 100,
        diverged: false,
        diverged_step: None,
        final_loss: 0.1,
        train_acc: (accuracy + 0.05).min(1.0),
        test_acc: accuracy,
        sign_consistency: 0.5 + 0.5 * accuracy,
        rel_change_w0: 0.01,
        rel_change_w1: 0.1,
        lost_update: f64::NAN,
        cancellation: f64::NAN,
        trusted: None,
        backend: "cpu".to_string(),
        precision: "f32".to_string(),
        wall_s: 1.0,
    }
}

fn diverged(optimizer: &str, alpha: f64, eta: f64, seed: u64) -> CellRecord {
    CellRecord {
        diverged: true,
        diverged_step: Some(7),
        final_loss: f64::INFINITY,
        train_acc: f64::NAN,
        test_acc: f64::NAN,
        sign_consistency: f64::NAN,
        rel_change_w0: f64::NAN,
        rel_change_w1: f64::NAN,
        lost_update: f64::NAN,
        cancellation: f64::NAN,
        trusted: None,
        ..record(optimizer, alpha, eta, seed, 0.0)
    }
}

/// Builds a 5 x 5 grid for two optimizers, with unevenly spaced alphas and
/// some cells at the largest learning rate diverged.
fn example_records() -> Vec<CellRecord> {
    let alphas = [1e-3, 1e-2, 0.1, 1.0, 100.0];
    let etas = [1e-4, 1e-3, 1e-2, 0.1, 1.0];
    let mut records = Vec::new();
    for optimizer in ["gd", "modified-rmsprop"] {
        for (i, &eta) in etas.iter().enumerate() {
            for (j, &alpha) in alphas.iter().enumerate() {
                let unstable = optimizer == "gd" && i == 4 && j >= 3;
                if unstable || (i == 4 && j == 4) {
                    records.push(diverged(optimizer, alpha, eta, 0));
                } else {
                    let accuracy = 0.5 + 0.09 * i as f64 + 0.01 * j as f64;
                    records.push(record(optimizer, alpha, eta, 0, accuracy));
                }
            }
        }
    }
    records
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).expect("figure file is readable");
    assert_eq!(bytes[..8], PNG_SIGNATURE, "{} is not a PNG", path.display());
    let decoded = image::load_from_memory(&bytes).expect("figure decodes as PNG");
    assert_eq!(decoded.dimensions(), FIGURE_SIZE, "{}", path.display());
}

fn pixel(image: &image::DynamicImage, cell: &CellPixel) -> Rgba<u8> {
    image.get_pixel(cell.x as u32, cell.y as u32)
}

fn find_cell(cells: &[CellPixel], eta_index: usize, alpha_index: usize) -> CellPixel {
    *cells
        .iter()
        .find(|c| c.eta_index == eta_index && c.alpha_index == alpha_index)
        .expect("cell was drawn")
}

#[test]
fn write_heatmaps_example_grid() {
    let dir = tempfile::tempdir().unwrap();
    let records = example_records();
    let context = "MNIST, n=10000, h=1000, 5000 steps";
    let paths = write_heatmaps(&records, dir.path(), context).unwrap();

    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let expected = [
        "heatmap_test_acc_gd.png",
        "heatmap_train_acc_gd.png",
        "heatmap_sign_consistency_gd.png",
        "heatmap_test_acc_modified-rmsprop.png",
        "heatmap_train_acc_modified-rmsprop.png",
        "heatmap_sign_consistency_modified-rmsprop.png",
    ];
    assert_eq!(names, expected);
    for path in &paths {
        assert!(path.starts_with(dir.path()));
        assert_png(path);
    }

    // Set LAZYSWEEP_PREVIEW_DIR to keep copies of the example figures for viewing.
    if let Some(preview_dir) = std::env::var_os("LAZYSWEEP_PREVIEW_DIR") {
        let preview_dir = Path::new(&preview_dir);
        std::fs::create_dir_all(preview_dir).unwrap();
        for path in &paths {
            std::fs::copy(path, preview_dir.join(path.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn diverged_cell_left_blank() {
    let dir = tempfile::tempdir().unwrap();
    let records = example_records();
    let gd: Vec<&CellRecord> = records.iter().filter(|r| r.optimizer == "gd").collect();
    let grid = HeatmapGrid::from_records(&gd, Metric::TestAccuracy).unwrap();
    let path = dir.path().join("blank.png");
    let cells = render_heatmap(&grid, "blank check", &path, ImageFormat::Png).unwrap();
    assert_eq!(cells.len(), 25);
    let image = image::open(&path).unwrap();

    let diverged_cell = find_cell(&cells, 4, 3);
    assert!(grid.value(4, 3).is_nan());
    assert_eq!(pixel(&image, &diverged_cell), WHITE_PIXEL);

    let finite: Vec<f64> = grid
        .values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let range = value_range(&finite).unwrap();
    let drawn_cell = find_cell(&cells, 1, 2);
    let expected = value_color(grid.value(1, 2), range).unwrap();
    let drawn_pixel = pixel(&image, &drawn_cell);
    assert_ne!(drawn_pixel, WHITE_PIXEL);
    assert_eq!(drawn_pixel, Rgba([expected.0, expected.1, expected.2, 255]));
}

#[test]
fn range_ends_drawn_with_map_ends() {
    let dir = tempfile::tempdir().unwrap();
    let records = example_records();
    let gd: Vec<&CellRecord> = records.iter().filter(|r| r.optimizer == "gd").collect();
    let grid = HeatmapGrid::from_records(&gd, Metric::TestAccuracy).unwrap();
    let path = dir.path().join("ends.png");
    let cells = render_heatmap(&grid, "", &path, ImageFormat::Png).unwrap();
    let image = image::open(&path).unwrap();

    // Lowest accuracy at (eta 0, alpha 0), highest drawn one at (eta 4, alpha 2).
    assert_eq!(
        pixel(&image, &find_cell(&cells, 0, 0)),
        Rgba([68, 1, 84, 255])
    );
    assert_eq!(
        pixel(&image, &find_cell(&cells, 4, 2)),
        Rgba([253, 231, 37, 255])
    );
}

#[test]
fn single_alpha_works() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<CellRecord> = [1e-3, 1e-2, 1e-1]
        .iter()
        .enumerate()
        .map(|(i, &eta)| record("rmsprop", 1.0, eta, 0, 0.6 + 0.1 * i as f64))
        .collect();
    let paths = write_heatmaps(&records, dir.path(), "one alpha").unwrap();
    assert_eq!(paths.len(), 3);
    for path in &paths {
        assert_png(path);
    }
}

#[test]
fn single_eta_works() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<CellRecord> = [0.5, 2.0, 8.0]
        .iter()
        .enumerate()
        .map(|(i, &alpha)| record("adam", alpha, 0.01, 0, 0.6 + 0.1 * i as f64))
        .collect();
    let paths = write_heatmaps(&records, dir.path(), "one eta").unwrap();
    assert_eq!(paths.len(), 3);
    for path in &paths {
        assert_png(path);
    }
}

#[test]
fn single_cell_works() {
    let dir = tempfile::tempdir().unwrap();
    let records = vec![record("gd", 1.0, 0.1, 0, 0.9)];
    let paths = write_heatmaps(&records, dir.path(), "one cell").unwrap();
    assert_eq!(paths.len(), 3);
    for path in &paths {
        assert_png(path);
    }
}

#[test]
fn long_context_still_writes() {
    let dir = tempfile::tempdir().unwrap();
    let records = vec![record("gd", 1.0, 0.1, 0, 0.9)];
    let context = "a context line much wider than the figure, ".repeat(6);
    let paths = write_heatmaps(&records, dir.path(), &context).unwrap();
    assert_eq!(paths.len(), 3);
    assert_png(&paths[0]);
}

#[test]
fn all_diverged_writes_blank_grid() {
    let dir = tempfile::tempdir().unwrap();
    let records = vec![diverged("gd", 1.0, 10.0, 0), diverged("gd", 10.0, 10.0, 0)];
    let paths = write_heatmaps(&records, dir.path(), "all diverged").unwrap();
    assert_eq!(paths.len(), 3);
    assert_png(&paths[0]);
}

#[test]
fn empty_records_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let error = write_heatmaps(&[], dir.path(), "").unwrap_err();
    assert!(matches!(error, ReportError::NoRecords), "{error:?}");
    assert!(error.to_string().contains("no cell records"));
}

#[test]
fn mixed_datasets_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut other = record("gd", 1.0, 0.1, 0, 0.5);
    other.dataset = "cifar10".to_string();
    let records = vec![record("gd", 1.0, 0.1, 0, 0.5), other];
    let error = write_heatmaps(&records, dir.path(), "").unwrap_err();
    assert!(
        matches!(error, ReportError::MixedDatasets { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("cifar10, mnist"));
}

#[test]
fn non_positive_alpha_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let records = vec![record("gd", 0.0, 0.1, 3, 0.5)];
    let error = write_heatmaps(&records, dir.path(), "").unwrap_err();
    assert!(matches!(
        error,
        ReportError::InvalidGridValue { name: "alpha", .. }
    ));
    assert!(error.to_string().contains("seed 3"));
}

#[test]
fn unwritable_directory_reports_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-directory");
    std::fs::write(&blocker, b"file").unwrap();
    let records = vec![record("gd", 1.0, 0.1, 0, 0.5)];
    let error = write_heatmaps(&records, &blocker.join("figures"), "").unwrap_err();
    assert!(matches!(error, ReportError::CreateDir { .. }), "{error:?}");
    assert!(error.to_string().contains("not-a-directory"));
}

#[test]
fn grid_averages_seeds() {
    let records = [
        record("gd", 1.0, 0.1, 0, 0.4),
        record("gd", 1.0, 0.1, 1, 0.6),
        diverged("gd", 1.0, 0.1, 2),
        diverged("gd", 10.0, 0.1, 0),
        diverged("gd", 10.0, 0.1, 1),
    ];
    let refs: Vec<&CellRecord> = records.iter().collect();
    let grid = HeatmapGrid::from_records(&refs, Metric::TestAccuracy).unwrap();
    assert_eq!(grid.log_alphas, vec![0.0, 1.0]);
    assert_eq!(grid.log_etas.len(), 1);
    assert_eq!(grid.runs, vec![3, 2]);
    assert!((grid.value(0, 0) - 50.0).abs() < 1e-9);
    assert!(grid.value(0, 1).is_nan());
    assert!(!grid.has_missing_cells());
}

#[test]
fn grid_nan_metric_counts_as_diverged() {
    let mut broken = record("gd", 1.0, 0.1, 1, 0.5);
    broken.sign_consistency = f64::NAN;
    let records = [record("gd", 1.0, 0.1, 0, 0.5), broken];
    let refs: Vec<&CellRecord> = records.iter().collect();
    let grid = HeatmapGrid::from_records(&refs, Metric::SignConsistency).unwrap();
    assert!((grid.value(0, 0) - 0.75).abs() < 1e-12);
}

#[test]
fn grid_reports_missing_cells() {
    let records = [
        record("gd", 1.0, 0.1, 0, 0.5),
        record("gd", 10.0, 1.0, 0, 0.5),
    ];
    let refs: Vec<&CellRecord> = records.iter().collect();
    let grid = HeatmapGrid::from_records(&refs, Metric::TestAccuracy).unwrap();
    assert_eq!(grid.runs, vec![1, 0, 0, 1]);
    assert!(grid.has_missing_cells());
}

#[test]
fn svg_heatmap_contains_text() {
    let dir = tempfile::tempdir().unwrap();
    let records = example_records();
    let paths = write_heatmaps_as(&records, dir.path(), "svg check", ImageFormat::Svg).unwrap();
    assert_eq!(paths.len(), 6);
    let svg = std::fs::read_to_string(&paths[0]).unwrap();
    assert!(
        paths[0]
            .to_string_lossy()
            .ends_with("heatmap_test_acc_gd.svg")
    );
    assert!(svg.contains("<text"));
    assert!(svg.contains("mnist: test accuracy, gd"));
    assert!(svg.contains("log10 alpha (output scale)"));
    assert!(svg.contains("test accuracy (%)"));
}

#[test]
fn file_name_replaces_unsafe_characters() {
    assert_eq!(
        heatmap_file_name(Metric::SignConsistency, "my opt/2", ImageFormat::Png),
        "heatmap_sign_consistency_my_opt_2.png"
    );
}

#[test]
fn display_value_units() {
    let sample = record("gd", 1.0, 0.1, 0, 0.25);
    assert!((Metric::TestAccuracy.display_value(&sample) - 25.0).abs() < 1e-9);
    assert!((Metric::TrainAccuracy.display_value(&sample) - 30.0).abs() < 1e-9);
    assert!((Metric::SignConsistency.display_value(&sample) - 0.625).abs() < 1e-12);
    let failed = diverged("gd", 1.0, 0.1, 0);
    assert!(Metric::TestAccuracy.display_value(&failed).is_nan());
}
