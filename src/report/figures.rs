//! The figure set of one dataset: panel heat maps, accuracy against alpha at a fixed eta,
//! the best eta per alpha, accuracy with sign-consistency contours, and spreads over seeds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ReportError;
use super::aggregate::{CellSummary, aggregate_seeds};
use super::contour::consistency_levels;
use super::font::ensure_font_registered;
use super::heatmap::{ImageFormat, Metric, UNTRUSTED_NOTE};
use super::lines::{Line, LineFigure, LinePanel, LinePoint, RINGED_NOTE};
use super::panels::{ContourOverlay, PanelFigure, PanelGrids, Statistic, panel_order};
use super::render::render;
use super::scale::{LEVEL_TOLERANCE, distinct_levels};
use crate::sweep::CellRecord;

/// The eta of the fixed-eta figure when none is requested. Kanoh and Sugiyama
/// (arXiv:2103.03466) compare RMSProp and modified RMSProp against alpha at eta = 1.
pub const DEFAULT_FIXED_ETA: f64 = 1.0;

/// Settings of [`write_figures`].
#[derive(Debug, Clone, PartialEq)]
pub struct FigureOptions {
    /// Run settings added to every title, such as "n=10000, hidden=1000, 5000 steps".
    pub context: String,
    /// Requested eta of the accuracy-against-alpha figure; the grid eta nearest in log10 is used.
    pub eta: f64,
    /// File formats written for every figure.
    pub formats: Vec<ImageFormat>,
}

impl FigureOptions {
    /// Returns options with `context`, eta = 1 and both PNG and SVG output.
    pub fn new(context: impl Into<String>) -> Self {
        FigureOptions {
            context: context.into(),
            eta: DEFAULT_FIXED_ETA,
            formats: vec![ImageFormat::Png, ImageFormat::Svg],
        }
    }
}

/// One figure written by [`write_figures`], in every requested format.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenFigure {
    /// File name without the extension, such as `heatmaps_test_acc`.
    pub stem: String,
    /// One sentence describing what the figure shows, for reports.
    pub caption: String,
    /// One file per format, in the order of [`FigureOptions::formats`].
    pub files: Vec<PathBuf>,
}

/// Draws every figure of the records of one dataset into `out_dir`.
///
/// The figures, each written once per format:
///
/// - `heatmaps_<metric>`: mean test accuracy, train accuracy and sign consistency over
///   (log10 alpha, log10 eta), one panel per optimizer, one colour scale per figure.
/// - `accuracy_vs_alpha`: test and train accuracy against alpha at the grid eta nearest to
///   [`FigureOptions::eta`], one line per optimizer, error bars of one standard deviation.
/// - `best_eta_vs_alpha`: test accuracy, sign consistency and the chosen eta against alpha,
///   where each alpha uses the eta with the highest mean test accuracy (see [`best_eta_cells`]).
/// - `accuracy_with_sign_consistency`: the test accuracy panels with contour lines of
///   sign consistency.
/// - `heatmaps_<metric>_std`: the sample standard deviation over seeds, only when some
///   cell has more than one seed.
///
/// Diverged cells are blank everywhere. `out_dir` is created if it does not exist.
pub fn write_figures(
    records: &[CellRecord],
    out_dir: &Path,
    options: &FigureOptions,
) -> Result<Vec<WrittenFigure>, ReportError> {
    let dataset = single_dataset(records)?;
    if !(options.eta.is_finite() && options.eta > 0.0) {
        return Err(ReportError::InvalidFixedEta { eta: options.eta });
    }
    let summaries = aggregate_seeds(records)?;
    ensure_font_registered()?;
    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::CreateDir {
        path: out_dir.to_path_buf(),
        source,
    })?;

    let seed_note = seed_note(&summaries);
    let context = if options.context.is_empty() {
        seed_note.clone()
    } else {
        format!("{}, {seed_note}", options.context)
    };
    let writer = FigureWriter {
        out_dir,
        formats: &options.formats,
    };
    let mut written = Vec::new();

    for metric in Metric::ALL {
        let grids = PanelGrids::from_summaries(&summaries, metric, Statistic::Mean);
        let figure = PanelFigure {
            grids: &grids,
            title: format!("{dataset}: {}, mean over seeds", metric.name()),
            subtitle: format!(
                "{context}; blank cells: diverged or not run{}",
                untrusted_note(&grids)
            ),
            bar_label: metric.scale_label().to_string(),
            contours: None,
        };
        let caption = format!(
            "Mean {} over (log10 alpha, log10 eta), one panel per optimizer on a shared colour \
             scale; blank cells diverged or were not run, and hatched cells are untrusted because \
             rounding lost their parameter updates.",
            metric.name()
        );
        written.push(writer.write(&format!("heatmaps_{}", metric.slug()), caption, &figure)?);
    }

    written.push(writer.write_fixed_eta(&summaries, dataset, &context, options.eta)?);
    written.push(writer.write_best_eta(&summaries, dataset, &context)?);
    written.push(writer.write_combined(&summaries, dataset, &context)?);

    if summaries.iter().any(|s| s.seeds > 1) {
        for metric in Metric::ALL {
            let grids = PanelGrids::from_summaries(&summaries, metric, Statistic::Std);
            let figure = PanelFigure {
                grids: &grids,
                title: format!(
                    "{dataset}: {}, standard deviation over seeds",
                    metric.name()
                ),
                subtitle: format!("{context}; blank cells: fewer than two finished seeds"),
                bar_label: format!("std of {}", metric.scale_label()),
                contours: None,
            };
            let caption = format!(
                "Sample standard deviation of {} over seeds, per cell; blank cells have fewer \
                 than two seeds that did not diverge.",
                metric.name()
            );
            let stem = format!("heatmaps_{}_std", metric.slug());
            written.push(writer.write(&stem, caption, &figure)?);
        }
    }
    Ok(written)
}

struct FigureWriter<'a> {
    out_dir: &'a Path,
    formats: &'a [ImageFormat],
}

impl FigureWriter<'_> {
    fn write<F: super::render::Figure>(
        &self,
        stem: &str,
        caption: String,
        figure: &F,
    ) -> Result<WrittenFigure, ReportError> {
        let mut files = Vec::with_capacity(self.formats.len());
        for &format in self.formats {
            let path = self.out_dir.join(format!("{stem}.{}", format.extension()));
            render(figure, &path, format)?;
            files.push(path);
        }
        Ok(WrittenFigure {
            stem: stem.to_string(),
            caption,
            files,
        })
    }

    fn write_fixed_eta(
        &self,
        summaries: &[CellSummary],
        dataset: &str,
        context: &str,
        requested: f64,
    ) -> Result<WrittenFigure, ReportError> {
        let log_etas: Vec<f64> = summaries.iter().map(|s| s.eta.log10()).collect();
        let levels = distinct_levels(&log_etas);
        let log_eta = nearest_level(&levels, requested.log10()).expect("records exist");
        let eta_text = format_grid_value(10f64.powf(log_eta));
        let title = if (log_eta - requested.log10()).abs() <= LEVEL_TOLERANCE {
            format!("{dataset}: accuracy against alpha at eta = {eta_text}")
        } else {
            format!(
                "{dataset}: accuracy against alpha at eta = {eta_text} (grid eta nearest in log10 \
                 to the requested {})",
                format_grid_value(requested)
            )
        };
        let at_eta: Vec<&CellSummary> = summaries
            .iter()
            .filter(|s| (s.eta.log10() - log_eta).abs() <= LEVEL_TOLERANCE)
            .collect();
        let panels = [Metric::TestAccuracy, Metric::TrainAccuracy]
            .into_iter()
            .map(|metric| LinePanel {
                y_desc: metric.scale_label().to_string(),
                lines: lines_by_optimizer(&at_eta, metric),
            })
            .collect();
        let mut subtitle = if at_eta.iter().any(|s| s.test_acc.count > 1) {
            format!("{context}; error bars: one standard deviation over seeds")
        } else {
            context.to_string()
        };
        subtitle.push_str(ringed_note(&at_eta));
        let figure = LineFigure {
            title,
            subtitle,
            log_alphas: all_log_alphas(summaries),
            panels,
        };
        let caption = format!(
            "Test and train accuracy against log10 alpha at eta = {eta_text}, one line per \
             optimizer; gaps are diverged cells."
        );
        self.write("accuracy_vs_alpha", caption, &figure)
    }

    fn write_best_eta(
        &self,
        summaries: &[CellSummary],
        dataset: &str,
        context: &str,
    ) -> Result<WrittenFigure, ReportError> {
        let best = best_eta_cells(summaries);
        let mut panels: Vec<LinePanel> = [Metric::TestAccuracy, Metric::SignConsistency]
            .into_iter()
            .map(|metric| LinePanel {
                y_desc: metric.scale_label().to_string(),
                lines: lines_by_optimizer(&best, metric),
            })
            .collect();
        let eta_lines = group_by_optimizer(&best)
            .into_iter()
            .map(|(label, cells)| Line {
                label,
                points: cells
                    .iter()
                    .map(|s| LinePoint {
                        x: s.alpha.log10(),
                        y: s.eta.log10(),
                        spread: f64::NAN,
                        untrusted: s.untrusted(),
                    })
                    .collect(),
            })
            .collect();
        panels.push(LinePanel {
            y_desc: "best log10 eta (learning rate)".to_string(),
            lines: eta_lines,
        });
        let figure = LineFigure {
            title: format!(
                "{dataset}: test accuracy and sign consistency at the best eta per alpha"
            ),
            subtitle: format!(
                "{context}; best eta: highest mean test accuracy among non-diverged cells{}",
                ringed_note(&best)
            ),
            log_alphas: all_log_alphas(summaries),
            panels,
        };
        let caption = "Test accuracy, sign consistency and the chosen log10 eta against log10 \
                       alpha, where each alpha and optimizer uses the eta with the highest mean \
                       test accuracy."
            .to_string();
        self.write("best_eta_vs_alpha", caption, &figure)
    }

    fn write_combined(
        &self,
        summaries: &[CellSummary],
        dataset: &str,
        context: &str,
    ) -> Result<WrittenFigure, ReportError> {
        let accuracy = PanelGrids::from_summaries(summaries, Metric::TestAccuracy, Statistic::Mean);
        let consistency =
            PanelGrids::from_summaries(summaries, Metric::SignConsistency, Statistic::Mean);
        let levels = consistency
            .shared_range()
            .map(consistency_levels)
            .unwrap_or_default();
        let figure = PanelFigure {
            grids: &accuracy,
            title: format!("{dataset}: test accuracy (colour) and sign consistency (contours)"),
            subtitle: format!(
                "{context}; blank cells: diverged or not run{}",
                untrusted_note(&accuracy)
            ),
            bar_label: Metric::TestAccuracy.scale_label().to_string(),
            contours: Some(ContourOverlay {
                values: consistency.values,
                levels,
                name: "sign consistency".to_string(),
            }),
        };
        let caption = "Mean test accuracy as colour with contour lines of mean sign consistency, \
                       one panel per optimizer; low consistency marks active (feature-learning) \
                       training."
            .to_string();
        self.write("accuracy_with_sign_consistency", caption, &figure)
    }
}

/// Returns, for each optimizer and alpha, the cell with the highest mean test accuracy.
///
/// Cells where every seed diverged, or whose mean test accuracy is not finite, are never
/// chosen, and an alpha with no other cell is left out. Equal accuracies pick the smaller
/// eta. The result is ordered by optimizer name, then alpha.
pub fn best_eta_cells(summaries: &[CellSummary]) -> Vec<&CellSummary> {
    let mut best: BTreeMap<(&str, i64), &CellSummary> = BTreeMap::new();
    for summary in summaries {
        if summary.all_diverged() || !summary.test_acc.mean.is_finite() {
            continue;
        }
        // Alphas within the level tolerance share a key after rounding to a fine lattice.
        let alpha_key = (summary.alpha.log10() / LEVEL_TOLERANCE / 10.0).round() as i64;
        let key = (summary.optimizer.as_str(), alpha_key);
        match best.get(&key) {
            Some(current)
                if current.test_acc.mean > summary.test_acc.mean
                    || (current.test_acc.mean == summary.test_acc.mean
                        && current.eta <= summary.eta) => {}
            _ => {
                best.insert(key, summary);
            }
        }
    }
    best.into_values().collect()
}

/// Returns the level nearest to `target`, or `None` for no levels. A tie picks the lower one.
pub fn nearest_level(levels: &[f64], target: f64) -> Option<f64> {
    levels.iter().copied().min_by(|a, b| {
        (a - target)
            .abs()
            .total_cmp(&(b - target).abs())
            .then(a.total_cmp(b))
    })
}

/// Formats a grid value compactly: powers of ten as `1e-3`, 1 as `1`, others with four
/// significant digits.
pub fn format_grid_value(value: f64) -> String {
    let exponent = value.log10();
    let rounded = exponent.round();
    if (exponent - rounded).abs() <= LEVEL_TOLERANCE {
        if rounded == 0.0 {
            "1".to_string()
        } else {
            format!("1e{}", rounded as i64)
        }
    } else {
        format!("{value:.3e}")
    }
}

fn single_dataset(records: &[CellRecord]) -> Result<&str, ReportError> {
    let first = records.first().ok_or(ReportError::NoRecords)?;
    let mut datasets: Vec<String> = records.iter().map(|r| r.dataset.clone()).collect();
    datasets.sort();
    datasets.dedup();
    if datasets.len() > 1 {
        return Err(ReportError::MixedDatasets { datasets });
    }
    Ok(first.dataset.as_str())
}

/// Describes the seeds behind the figures, such as "3 seeds" or "1 to 3 seeds per cell".
fn seed_note(summaries: &[CellSummary]) -> String {
    let fewest = summaries.iter().map(|s| s.seeds).min().unwrap_or(0);
    let most = summaries.iter().map(|s| s.seeds).max().unwrap_or(0);
    match (fewest, most) {
        (1, 1) => "1 seed".to_string(),
        (low, high) if low == high => format!("{high} seeds"),
        (low, high) => format!("{low} to {high} seeds per cell"),
    }
}

fn all_log_alphas(summaries: &[CellSummary]) -> Vec<f64> {
    let values: Vec<f64> = summaries.iter().map(|s| s.alpha.log10()).collect();
    distinct_levels(&values)
}

/// Groups cells by optimizer in panel order, each group sorted by alpha.
fn group_by_optimizer<'a>(cells: &[&'a CellSummary]) -> Vec<(String, Vec<&'a CellSummary>)> {
    let order = panel_order(cells.iter().map(|s| s.optimizer.as_str()));
    order
        .into_iter()
        .map(|name| {
            let mut group: Vec<&CellSummary> = cells
                .iter()
                .copied()
                .filter(|s| s.optimizer == name)
                .collect();
            group.sort_by(|a, b| a.alpha.total_cmp(&b.alpha));
            (name, group)
        })
        .collect()
}

/// Builds one line per optimizer of `metric` against log10 alpha, in display units.
fn lines_by_optimizer(cells: &[&CellSummary], metric: Metric) -> Vec<Line> {
    let factor = metric.display_factor();
    group_by_optimizer(cells)
        .into_iter()
        .map(|(label, group)| Line {
            label,
            points: group
                .iter()
                .map(|s| {
                    let stats = s.stats(metric);
                    LinePoint {
                        x: s.alpha.log10(),
                        y: factor * stats.mean,
                        spread: factor * stats.std,
                        untrusted: s.untrusted(),
                    }
                })
                .collect(),
        })
        .collect()
}

/// Returns the subtitle note for ringed points, or nothing when no plotted cell is
/// untrusted.
fn ringed_note(cells: &[&CellSummary]) -> &'static str {
    if cells.iter().any(|s| s.untrusted()) {
        RINGED_NOTE
    } else {
        ""
    }
}

/// Returns the subtitle note for hatched cells, or nothing when no cell is hatched.
fn untrusted_note(grids: &PanelGrids) -> &'static str {
    if grids.has_untrusted() {
        UNTRUSTED_NOTE
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::aggregate::SeedStats;

    fn summary(optimizer: &str, alpha: f64, eta: f64, test_acc: f64) -> CellSummary {
        let stats = SeedStats::from_values(&[test_acc]);
        CellSummary {
            dataset: "mnist".into(),
            optimizer: optimizer.into(),
            alpha,
            eta,
            seeds: 1,
            diverged_seeds: 0,
            untrusted_seeds: 0,
            test_acc: stats,
            train_acc: stats,
            sign_consistency: stats,
        }
    }

    #[test]
    fn best_eta_per_alpha() {
        let mut failed = summary("gd", 1.0, 10.0, f64::NAN);
        failed.diverged_seeds = 1;
        failed.test_acc = SeedStats::from_values(&[]);
        let summaries = vec![
            summary("gd", 1.0, 0.1, 0.5),
            summary("gd", 1.0, 1.0, 0.9),
            failed,
            summary("gd", 10.0, 0.1, 0.7),
            summary("gd", 10.0, 1.0, 0.7),
            summary("rmsprop", 1.0, 0.1, 0.95),
        ];
        let best = best_eta_cells(&summaries);
        let picked: Vec<(&str, f64, f64)> = best
            .iter()
            .map(|s| (s.optimizer.as_str(), s.alpha, s.eta))
            .collect();
        assert_eq!(
            picked,
            vec![("gd", 1.0, 1.0), ("gd", 10.0, 0.1), ("rmsprop", 1.0, 0.1)]
        );
    }

    #[test]
    fn best_eta_skips_all_diverged_alpha() {
        let mut failed = summary("gd", 100.0, 1.0, f64::NAN);
        failed.diverged_seeds = 1;
        failed.test_acc = SeedStats::from_values(&[]);
        let summaries = vec![summary("gd", 1.0, 1.0, 0.5), failed];
        assert_eq!(best_eta_cells(&summaries).len(), 1);
    }

    #[test]
    fn nearest_level_in_log10() {
        let levels = [-2.0, -1.0, 0.0, 1.0];
        assert_eq!(nearest_level(&levels, 0.0), Some(0.0));
        assert_eq!(nearest_level(&levels, -0.4), Some(0.0));
        assert_eq!(nearest_level(&levels, -0.5), Some(-1.0));
        assert_eq!(nearest_level(&levels, 7.0), Some(1.0));
        assert_eq!(nearest_level(&[], 0.0), None);
    }

    #[test]
    fn grid_values_format() {
        assert_eq!(format_grid_value(1.0), "1");
        assert_eq!(format_grid_value(1e-3), "1e-3");
        assert_eq!(format_grid_value(1e8), "1e8");
        assert_eq!(format_grid_value(10f64.sqrt()), "3.162e0");
    }
}
