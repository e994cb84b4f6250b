//! Tests of the figure set on hand-made records.

use std::path::Path;

use image::{GenericImageView, Rgba};

use super::aggregate::aggregate_seeds;
use super::heatmap::{CellPixel, HATCH_COLOR, HeatmapGrid, ImageFormat, Metric};
use super::panels::{PanelFigure, PanelGrids, Statistic};
use super::render::{Figure, render};
use super::scale::viridis;
use super::*;
use crate::sweep::CellRecord;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
const WHITE_PIXEL: Rgba<u8> = Rgba([255, 255, 255, 255]);

const ALPHAS: [f64; 4] = [1e-2, 1.0, 1e2, 1e4];
const ETAS: [f64; 3] = [1e-3, 1e-1, 10.0];

fn record(optimizer: &str, alpha: f64, eta: f64, seed: u64, test_acc: f64) -> CellRecord {
    CellRecord {
        dataset: "mnist".to_string(),
        optimizer: optimizer.to_string(),
        alpha,
        eta,
        seed,
        steps_run: 50,
        diverged: false,
        diverged_step: None,
        final_loss: 0.2,
        train_acc: (test_acc + 0.05).min(1.0),
        test_acc,
        sign_consistency: 0.55 + 0.39 * (alpha.log10() + 2.0) / 6.0,
        rel_change_w0: 0.01,
        rel_change_w1: 0.1,
        lost_update: f64::NAN,
        cancellation: f64::NAN,
        trusted: None,
        backend: "cpu".to_string(),
        precision: "f64".to_string(),
        wall_s: 0.5,
    }
}

fn diverged(optimizer: &str, alpha: f64, eta: f64, seed: u64) -> CellRecord {
    CellRecord {
        diverged: true,
        diverged_step: Some(4),
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

/// Three optimizers on a 4 x 3 grid with `seeds` seeds each. With one seed, gd has
/// accuracies from 0.30 to 0.46 and diverges at the largest eta for alpha <= 1; rmsprop runs
/// from 0.60 to 0.76 and modified-rmsprop from 0.45 to 0.61. Seed s adds 0.02 * s.
fn example_records(seeds: u64) -> Vec<CellRecord> {
    let bases = [("gd", 0.30), ("rmsprop", 0.60), ("modified-rmsprop", 0.45)];
    let mut records = Vec::new();
    for seed in 0..seeds {
        for (optimizer, base) in bases {
            for (row, &eta) in ETAS.iter().enumerate() {
                for (column, &alpha) in ALPHAS.iter().enumerate() {
                    if optimizer == "gd" && row == 2 && column <= 1 {
                        records.push(diverged(optimizer, alpha, eta, seed));
                        continue;
                    }
                    let accuracy =
                        base + 0.05 * row as f64 + 0.02 * column as f64 + 0.02 * seed as f64;
                    records.push(record(optimizer, alpha, eta, seed, accuracy));
                }
            }
        }
    }
    records
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).expect("figure file is readable");
    assert_eq!(bytes[..8], PNG_SIGNATURE, "{} is not a PNG", path.display());
    image::load_from_memory(&bytes).expect("figure decodes as PNG");
}

fn assert_svg(path: &Path) {
    let text = std::fs::read_to_string(path).expect("figure file is readable");
    let body = text.trim_start();
    let body = match body.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .expect("XML declaration ends")
            .1
            .trim_start(),
        None => body,
    };
    assert!(
        body.starts_with("<svg"),
        "{} has no <svg> root",
        path.display()
    );
    assert!(
        text.trim_end().ends_with("</svg>"),
        "{} is cut off",
        path.display()
    );
}

/// Returns the trimmed content of every `<text>` element of an SVG file.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|element| {
            let content = element.split_once('>')?.1;
            let content = content.split_once("</text>")?.0;
            Some(content.trim().to_string())
        })
        .collect()
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

fn rgba(colour: plotters::style::RGBColor) -> Rgba<u8> {
    Rgba([colour.0, colour.1, colour.2, 255])
}

fn file_names(figures: &[WrittenFigure]) -> Vec<String> {
    figures
        .iter()
        .flat_map(|figure| &figure.files)
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn figure_set_files_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    let records = example_records(2);
    let options = FigureOptions::new("n=100, hidden=8, 50 steps");
    let figures = write_figures(&records, dir.path(), &options).unwrap();

    let stems: Vec<&str> = figures.iter().map(|f| f.stem.as_str()).collect();
    assert_eq!(
        stems,
        [
            "heatmaps_test_acc",
            "heatmaps_train_acc",
            "heatmaps_sign_consistency",
            "accuracy_vs_alpha",
            "best_eta_vs_alpha",
            "accuracy_with_sign_consistency",
            "heatmaps_test_acc_std",
            "heatmaps_train_acc_std",
            "heatmaps_sign_consistency_std",
        ]
    );
    for figure in &figures {
        assert_eq!(figure.files.len(), 2, "{}", figure.stem);
        assert!(!figure.caption.is_empty());
        assert!(figure.files[0].starts_with(dir.path()));
        assert_png(&figure.files[0]);
        assert_svg(&figure.files[1]);
    }
    assert!(file_names(&figures).contains(&"heatmaps_test_acc.svg".to_string()));

    // Set LAZYSWEEP_PREVIEW_DIR to keep copies of the example figures for viewing.
    if let Some(preview_dir) = std::env::var_os("LAZYSWEEP_PREVIEW_DIR") {
        let preview_dir = Path::new(&preview_dir);
        std::fs::create_dir_all(preview_dir).unwrap();
        for path in figures.iter().flat_map(|figure| &figure.files) {
            std::fs::copy(path, preview_dir.join(path.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn single_seed_has_no_std_figures() {
    let dir = tempfile::tempdir().unwrap();
    let options = FigureOptions {
        formats: vec![ImageFormat::Png],
        ..FigureOptions::new("")
    };
    let figures = write_figures(&example_records(1), dir.path(), &options).unwrap();
    assert_eq!(figures.len(), 6);
    assert!(figures.iter().all(|figure| !figure.stem.ends_with("_std")));
}

#[test]
fn panels_share_one_colour_scale() {
    let dir = tempfile::tempdir().unwrap();
    let summaries = aggregate_seeds(&example_records(1)).unwrap();
    let grids = PanelGrids::from_summaries(&summaries, Metric::TestAccuracy, Statistic::Mean);
    assert_eq!(grids.optimizers, ["gd", "rmsprop", "modified-rmsprop"]);

    let figure = PanelFigure {
        grids: &grids,
        title: "shared scale".into(),
        subtitle: String::new(),
        bar_label: "test accuracy (%)".into(),
        contours: None,
    };
    let path = dir.path().join("panels.png");
    let pixels = render(&figure, &path, ImageFormat::Png).unwrap();
    let image = image::open(&path).unwrap();
    assert_eq!(image.dimensions(), figure.size());

    // The scale runs from the lowest gd cell (30%) to the highest rmsprop cell (76%).
    let (low, high) = pixels.range.unwrap();
    assert!((low - 30.0).abs() < 1e-9, "{low}");
    assert!((high - 76.0).abs() < 1e-9, "{high}");
    assert_eq!(pixels.cells.len(), 3);

    let gd_lowest = find_cell(&pixels.cells[0], 0, 0);
    assert_eq!(pixel(&image, &gd_lowest), rgba(viridis(0.0)));
    let rmsprop_highest = find_cell(&pixels.cells[1], 2, 3);
    assert_eq!(pixel(&image, &rmsprop_highest), rgba(viridis(1.0)));
    // gd's own best cell (46%) sits at (46 - 30) / 46 of the shared scale, not at its top.
    let gd_highest = find_cell(&pixels.cells[0], 2, 3);
    let expected = value_color(grids.value(0, 2, 3), (low, high)).unwrap();
    assert_eq!(pixel(&image, &gd_highest), rgba(expected));
    assert_ne!(expected, viridis(1.0));
}

#[test]
fn diverged_panel_cells_blank() {
    let dir = tempfile::tempdir().unwrap();
    let summaries = aggregate_seeds(&example_records(2)).unwrap();
    let grids = PanelGrids::from_summaries(&summaries, Metric::SignConsistency, Statistic::Mean);
    let figure = PanelFigure {
        grids: &grids,
        title: "blank cells".into(),
        subtitle: String::new(),
        bar_label: "sign consistency (fraction)".into(),
        contours: None,
    };
    let path = dir.path().join("blank.png");
    let pixels = render(&figure, &path, ImageFormat::Png).unwrap();
    let image = image::open(&path).unwrap();

    assert!(grids.value(0, 2, 1).is_nan());
    assert_eq!(
        pixel(&image, &find_cell(&pixels.cells[0], 2, 1)),
        WHITE_PIXEL
    );
    assert_eq!(
        pixel(&image, &find_cell(&pixels.cells[0], 2, 0)),
        WHITE_PIXEL
    );
    // The same cell of rmsprop did not diverge and is coloured.
    assert_ne!(
        pixel(&image, &find_cell(&pixels.cells[1], 2, 1)),
        WHITE_PIXEL
    );
    assert_ne!(
        pixel(&image, &find_cell(&pixels.cells[0], 1, 1)),
        WHITE_PIXEL
    );
}

#[test]
fn untrusted_panel_cells_hatched() {
    let dir = tempfile::tempdir().unwrap();
    let mut records = example_records(1);
    // modified-rmsprop at the smallest eta and largest alpha froze.
    for record in records.iter_mut() {
        record.trusted = Some(true);
        if record.optimizer == "modified-rmsprop"
            && record.eta == ETAS[0]
            && record.alpha == ALPHAS[3]
        {
            record.trusted = Some(false);
        }
    }
    let summaries = aggregate_seeds(&records).unwrap();
    let grids = PanelGrids::from_summaries(&summaries, Metric::TestAccuracy, Statistic::Mean);
    assert!(grids.has_untrusted());
    assert!(grids.untrusted[2][3]);
    assert_eq!(grids.untrusted.iter().flatten().filter(|&&u| u).count(), 1);

    let figure = PanelFigure {
        grids: &grids,
        title: "hatched cells".into(),
        subtitle: String::new(),
        bar_label: "test accuracy (%)".into(),
        contours: None,
    };
    let path = dir.path().join("hatched.png");
    let pixels = render(&figure, &path, ImageFormat::Png).unwrap();
    let image = image::open(&path).unwrap();
    let range = pixels.range.unwrap();

    // The centre of a hatched cell lies on its diagonal stroke.
    let hatched = find_cell(&pixels.cells[2], 0, 3);
    assert_eq!(pixel(&image, &hatched), rgba(HATCH_COLOR));
    // Its neighbour, and the same cell of rmsprop, keep their colour.
    let neighbour = find_cell(&pixels.cells[2], 0, 2);
    let expected = value_color(grids.value(2, 0, 2), range).unwrap();
    assert_eq!(pixel(&image, &neighbour), rgba(expected));
    let other_panel = find_cell(&pixels.cells[1], 0, 3);
    let expected = value_color(grids.value(1, 0, 3), range).unwrap();
    assert_eq!(pixel(&image, &other_panel), rgba(expected));
}

#[test]
fn untrusted_heatmap_cell_hatched() {
    let mut records = example_records(1);
    records.retain(|r| r.optimizer == "gd");
    records[0].trusted = Some(false);
    let refs: Vec<&CellRecord> = records.iter().collect();
    let grid = HeatmapGrid::from_records(&refs, Metric::TestAccuracy).unwrap();
    assert!(grid.untrusted[0]);
    assert_eq!(grid.untrusted.iter().filter(|&&u| u).count(), 1);

    // A diverged record is blank, never hatched, even when marked untrusted.
    let mut diverged_record = records.clone();
    let last = diverged_record.iter().position(|r| r.diverged).unwrap();
    diverged_record[last].trusted = Some(false);
    let refs: Vec<&CellRecord> = diverged_record.iter().collect();
    let grid = HeatmapGrid::from_records(&refs, Metric::TestAccuracy).unwrap();
    assert_eq!(grid.untrusted.iter().filter(|&&u| u).count(), 1);
}

#[test]
fn std_grid_holds_seed_spread() {
    let summaries = aggregate_seeds(&example_records(3)).unwrap();
    let grids = PanelGrids::from_summaries(&summaries, Metric::TestAccuracy, Statistic::Std);
    // Seeds add 0, 0.02 and 0.04, so the sample standard deviation is 2 percentage points.
    assert!((grids.value(1, 0, 0) - 2.0).abs() < 1e-9);
    assert!(grids.value(0, 2, 0).is_nan());
}

#[test]
fn combined_figure_has_contour_legend() {
    let dir = tempfile::tempdir().unwrap();
    let options = FigureOptions {
        formats: vec![ImageFormat::Svg],
        ..FigureOptions::new("")
    };
    let figures = write_figures(&example_records(1), dir.path(), &options).unwrap();
    let combined = figures
        .iter()
        .find(|figure| figure.stem == "accuracy_with_sign_consistency")
        .unwrap();
    let texts = svg_texts(&std::fs::read_to_string(&combined.files[0]).unwrap());
    assert!(
        texts.iter().any(|t| t == "contours of sign consistency:"),
        "{texts:?}"
    );
    // Consistency spans 0.55 to 0.94 here, so the levels 0.6 to 0.9 are drawn.
    for level in ["0.6", "0.7", "0.8", "0.9"] {
        assert!(
            texts.iter().any(|t| t == level),
            "level {level} missing from {texts:?}"
        );
    }
    assert!(!texts.iter().any(|t| t == "0.95"), "{texts:?}");
}

#[test]
fn fixed_eta_title_names_grid_eta() {
    let dir = tempfile::tempdir().unwrap();
    let options = FigureOptions {
        eta: 0.05,
        formats: vec![ImageFormat::Svg],
        ..FigureOptions::new("")
    };
    let figures = write_figures(&example_records(1), dir.path(), &options).unwrap();
    let fixed = figures
        .iter()
        .find(|figure| figure.stem == "accuracy_vs_alpha")
        .unwrap();
    let texts = svg_texts(&std::fs::read_to_string(&fixed.files[0]).unwrap());
    let title = "mnist: accuracy against alpha at eta = 1e-1 (grid eta nearest in log10 to the \
                 requested 5.000e-2)";
    assert!(texts.iter().any(|t| t == title), "{texts:?}");
    assert!(fixed.caption.contains("eta = 1e-1"));
}

#[test]
fn invalid_fixed_eta_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let options = FigureOptions {
        eta: 0.0,
        ..FigureOptions::new("")
    };
    let error = write_figures(&example_records(1), dir.path(), &options).unwrap_err();
    assert!(
        matches!(error, ReportError::InvalidFixedEta { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("--eta"));
}

#[test]
fn empty_and_mixed_records_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let options = FigureOptions::new("");
    let error = write_figures(&[], dir.path(), &options).unwrap_err();
    assert!(matches!(error, ReportError::NoRecords));

    let mut records = example_records(1);
    records[0].dataset = "cifar10".into();
    let error = write_figures(&records, dir.path(), &options).unwrap_err();
    assert!(matches!(error, ReportError::MixedDatasets { .. }));
}

#[test]
fn all_diverged_still_draws() {
    let dir = tempfile::tempdir().unwrap();
    let records = vec![diverged("gd", 1.0, 1.0, 0), diverged("gd", 10.0, 1.0, 0)];
    let options = FigureOptions {
        formats: vec![ImageFormat::Png],
        ..FigureOptions::new("")
    };
    let figures = write_figures(&records, dir.path(), &options).unwrap();
    assert_eq!(figures.len(), 6);
    for figure in &figures {
        assert_png(&figure.files[0]);
    }
}
