//! Heatmaps of one metric over the (alpha, eta) grid of one optimizer.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ReportError;
use super::aggregate::check_grid_value;
use super::font::{FONT_FAMILY, ensure_font_registered};
use super::scale::{
    cell_edges, distinct_levels, integer_ticks, level_index, thinned_integer_ticks, value_color,
    value_range, viridis,
};
use crate::sweep::CellRecord;

/// Figure size in pixels, which also sets the SVG view box.
pub const FIGURE_SIZE: (u32, u32) = (900, 700);

const TITLE_FONT_PX: u32 = 26;
const SUBTITLE_FONT_PX: u32 = 18;
const TICK_FONT_PX: u32 = 18;
const AXIS_LABEL_FONT_PX: u32 = 20;
/// Smallest font a title line is shrunk to when it is wider than the figure.
pub(super) const MIN_TITLE_FONT_PX: u32 = 12;

/// Height of the title strip above the plot.
const TITLE_HEIGHT: u32 = 80;
/// Width of the strip right of the plot that contains the colour bar.
const COLOR_BAR_STRIP_WIDTH: u32 = 140;
pub(super) const PLOT_MARGIN: u32 = 10;
const X_LABEL_AREA: u32 = 70;
const Y_LABEL_AREA: u32 = 90;
/// Width of the tick labels and axis label right of the colour bar.
const COLOR_BAR_LABEL_AREA: u32 = 80;
pub(super) const FRAME_COLOR: RGBColor = RGBColor(160, 160, 160);
/// Number of solid strips that make up the colour bar gradient.
const COLOR_BAR_STEPS: usize = 256;

/// A per-cell metric that a heatmap shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    TestAccuracy,
    TrainAccuracy,
    SignConsistency,
}

impl Metric {
    /// All metrics, in the order [`write_heatmaps`] draws them.
    pub const ALL: [Metric; 3] = [
        Metric::TestAccuracy,
        Metric::TrainAccuracy,
        Metric::SignConsistency,
    ];

    /// Short identifier used in file names, matching the `CellRecord` field name.
    pub fn slug(self) -> &'static str {
        match self {
            Metric::TestAccuracy => "test_acc",
            Metric::TrainAccuracy => "train_acc",
            Metric::SignConsistency => "sign_consistency",
        }
    }

    /// Name used in figure titles.
    pub fn name(self) -> &'static str {
        match self {
            Metric::TestAccuracy => "test accuracy",
            Metric::TrainAccuracy => "train accuracy",
            Metric::SignConsistency => "sign consistency",
        }
    }

    /// Colour bar label, with the unit of [`Metric::display_value`].
    pub fn scale_label(self) -> &'static str {
        match self {
            Metric::TestAccuracy => "test accuracy (%)",
            Metric::TrainAccuracy => "train accuracy (%)",
            Metric::SignConsistency => "sign consistency (fraction)",
        }
    }

    /// Returns the metric of `record` in display units, or NaN if the record diverged.
    ///
    /// Accuracies are in percent (0 to 100) and sign consistency is a fraction (0 to 1).
    pub fn display_value(self, record: &CellRecord) -> f64 {
        if record.diverged {
            return f64::NAN;
        }
        self.display_factor() * self.record_value(record)
    }

    /// Returns the metric as stored in `record` (a fraction), whether or not it diverged.
    pub fn record_value(self, record: &CellRecord) -> f64 {
        match self {
            Metric::TestAccuracy => record.test_acc,
            Metric::TrainAccuracy => record.train_acc,
            Metric::SignConsistency => record.sign_consistency,
        }
    }

    /// Returns the factor from record units to display units: 100 for accuracies, 1 otherwise.
    pub fn display_factor(self) -> f64 {
        match self {
            Metric::TestAccuracy | Metric::TrainAccuracy => 100.0,
            Metric::SignConsistency => 1.0,
        }
    }
}

/// Image file format of the written figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Svg,
}

impl ImageFormat {
    /// File name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Svg => "svg",
        }
    }
}

/// One metric of one optimizer on the (alpha, eta) grid, averaged over seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatmapGrid {
    pub dataset: String,
    pub optimizer: String,
    pub metric: Metric,
    /// Distinct log10 alpha values in ascending order, one per column.
    pub log_alphas: Vec<f64>,
    /// Distinct log10 eta values in ascending order, one per row.
    pub log_etas: Vec<f64>,
    /// Cell means in display units, stored row-major. Row `i` (eta) and column `j`
    /// (alpha) is at `i * log_alphas.len() + j`. NaN where every run diverged or none exists.
    pub values: Vec<f64>,
    /// Number of records per cell, in the same layout as `values`.
    pub runs: Vec<usize>,
    /// Whether a run of the cell that did not diverge is untrusted, in the layout of
    /// `values`.
    pub untrusted: Vec<bool>,
}

impl HeatmapGrid {
    /// Builds the grid of `metric` from the records of one dataset and optimizer.
    ///
    /// The value of a cell is the mean over its non-diverged runs (seeds). A run
    /// counts as diverged if its `diverged` flag is set or its metric is not finite.
    /// The dataset and optimizer names are taken from the first record.
    pub fn from_records(records: &[&CellRecord], metric: Metric) -> Result<Self, ReportError> {
        let first = records.first().ok_or(ReportError::NoRecords)?;
        for record in records {
            check_grid_value("alpha", record.alpha, record)?;
            check_grid_value("eta", record.eta, record)?;
        }

        let alphas: Vec<f64> = records.iter().map(|r| r.alpha.log10()).collect();
        let etas: Vec<f64> = records.iter().map(|r| r.eta.log10()).collect();
        let log_alphas = distinct_levels(&alphas);
        let log_etas = distinct_levels(&etas);

        let columns = log_alphas.len();
        let cell_count = columns * log_etas.len();
        let mut sums = vec![0.0; cell_count];
        let mut finite_counts = vec![0usize; cell_count];
        let mut runs = vec![0usize; cell_count];
        let mut untrusted = vec![false; cell_count];
        for (record, (&log_alpha, &log_eta)) in records.iter().zip(alphas.iter().zip(&etas)) {
            // Every value was one of the inputs of `distinct_levels`, so both lookups succeed.
            let column = level_index(&log_alphas, log_alpha).expect("alpha level exists");
            let row = level_index(&log_etas, log_eta).expect("eta level exists");
            let cell = row * columns + column;
            runs[cell] += 1;
            untrusted[cell] |= !record.diverged && record.trusted == Some(false);
            let value = metric.display_value(record);
            if value.is_finite() {
                sums[cell] += value;
                finite_counts[cell] += 1;
            }
        }

        let values = sums
            .iter()
            .zip(&finite_counts)
            .map(|(&sum, &count)| {
                if count > 0 {
                    sum / count as f64
                } else {
                    f64::NAN
                }
            })
            .collect();

        Ok(HeatmapGrid {
            dataset: first.dataset.clone(),
            optimizer: first.optimizer.clone(),
            metric,
            log_alphas,
            log_etas,
            values,
            runs,
            untrusted,
        })
    }

    /// Returns the cell mean at row `eta_index` and column `alpha_index`.
    pub fn value(&self, eta_index: usize, alpha_index: usize) -> f64 {
        self.values[eta_index * self.log_alphas.len() + alpha_index]
    }

    /// Returns true if some grid cell has no record at all.
    pub fn has_missing_cells(&self) -> bool {
        self.runs.contains(&0)
    }
}

/// Writes one PNG heatmap per optimizer and metric into `out_dir`.
///
/// Files are named `heatmap_<metric>_<optimizer>.png` (see [`heatmap_file_name`]),
/// and are returned in optimizer-name order with the metrics in [`Metric::ALL`] order.
/// `context` is added to every title, for example "MNIST, n=10000, h=1000, 5000 steps".
/// `out_dir` is created if it does not exist.
pub fn write_heatmaps(
    records: &[CellRecord],
    out_dir: &Path,
    context: &str,
) -> Result<Vec<PathBuf>, ReportError> {
    write_heatmaps_as(records, out_dir, context, ImageFormat::Png)
}

/// Writes the heatmaps of [`write_heatmaps`] in the given image format.
pub fn write_heatmaps_as(
    records: &[CellRecord],
    out_dir: &Path,
    context: &str,
    format: ImageFormat,
) -> Result<Vec<PathBuf>, ReportError> {
    if records.is_empty() {
        return Err(ReportError::NoRecords);
    }
    check_single_dataset(records)?;
    ensure_font_registered()?;
    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::CreateDir {
        path: out_dir.to_path_buf(),
        source,
    })?;

    let mut by_optimizer: BTreeMap<&str, Vec<&CellRecord>> = BTreeMap::new();
    for record in records {
        by_optimizer
            .entry(record.optimizer.as_str())
            .or_default()
            .push(record);
    }

    let mut paths = Vec::with_capacity(by_optimizer.len() * Metric::ALL.len());
    for (optimizer, group) in &by_optimizer {
        for metric in Metric::ALL {
            let grid = HeatmapGrid::from_records(group, metric)?;
            let path = out_dir.join(heatmap_file_name(metric, optimizer, format));
            render_heatmap(&grid, context, &path, format)?;
            paths.push(path);
        }
    }
    Ok(paths)
}

/// Returns `heatmap_<metric slug>_<optimizer>.<extension>`.
///
/// Characters of the optimizer name other than ASCII letters, digits, `-`, `_`
/// and `.` are replaced by `_`.
pub fn heatmap_file_name(metric: Metric, optimizer: &str, format: ImageFormat) -> String {
    let safe_optimizer: String = optimizer
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "heatmap_{}_{}.{}",
        metric.slug(),
        safe_optimizer,
        format.extension()
    )
}

fn check_single_dataset(records: &[CellRecord]) -> Result<(), ReportError> {
    let mut datasets: Vec<String> = records.iter().map(|r| r.dataset.clone()).collect();
    datasets.sort();
    datasets.dedup();
    if datasets.len() > 1 {
        return Err(ReportError::MixedDatasets { datasets });
    }
    Ok(())
}

/// Pixel position of a cell centre in a rendered figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CellPixel {
    pub eta_index: usize,
    pub alpha_index: usize,
    pub x: i32,
    pub y: i32,
}

/// Draws `grid` into the file at `path` and returns the pixel centre of every cell.
pub(crate) fn render_heatmap(
    grid: &HeatmapGrid,
    context: &str,
    path: &Path,
    format: ImageFormat,
) -> Result<Vec<CellPixel>, ReportError> {
    let draw_error = |error: String| ReportError::Draw {
        path: path.to_path_buf(),
        message: error,
    };
    match format {
        ImageFormat::Png => {
            let root = BitMapBackend::new(path, FIGURE_SIZE).into_drawing_area();
            let cells =
                draw_heatmap(&root, grid, context).map_err(|e| draw_error(e.to_string()))?;
            root.present().map_err(|e| draw_error(e.to_string()))?;
            Ok(cells)
        }
        ImageFormat::Svg => {
            let root = SVGBackend::new(path, FIGURE_SIZE).into_drawing_area();
            let cells =
                draw_heatmap(&root, grid, context).map_err(|e| draw_error(e.to_string()))?;
            root.present().map_err(|e| draw_error(e.to_string()))?;
            Ok(cells)
        }
    }
}

pub(super) type DrawResult<T, DB> =
    Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Draws the title, the cell rectangles and the colour bar onto `root`.
fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    grid: &HeatmapGrid,
    context: &str,
) -> DrawResult<Vec<CellPixel>, DB> {
    root.fill(&WHITE)?;
    let (title_area, body) = root.split_vertically(TITLE_HEIGHT);
    let (plot_area, bar_area) = body.split_horizontally(FIGURE_SIZE.0 - COLOR_BAR_STRIP_WIDTH);

    draw_title(&title_area, grid, context)?;
    let cells = draw_cells(&plot_area, grid)?;

    let finite: Vec<f64> = grid
        .values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    if let Some(range) = value_range(&finite) {
        // The bar spans the same pixel rows as the grid, because both charts use the same
        // top margin and the bar's bottom margin equals the plot's margin plus its x label area.
        let layout = ColorBarLayout {
            top: PLOT_MARGIN,
            bottom: PLOT_MARGIN + X_LABEL_AREA,
            tick_font_px: TICK_FONT_PX,
            label_font_px: AXIS_LABEL_FONT_PX,
        };
        draw_color_bar(&bar_area, grid.metric.scale_label(), range, &layout)?;
    }
    Ok(cells)
}

fn draw_title<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    grid: &HeatmapGrid,
    context: &str,
) -> DrawResult<(), DB> {
    let title = format!(
        "{}: {}, {}",
        grid.dataset,
        grid.metric.name(),
        grid.optimizer
    );
    draw_centred_line(area, &title, TITLE_FONT_PX, 12)?;

    let mut blank_note = if grid.has_missing_cells() {
        "blank cells: diverged or not run".to_string()
    } else {
        "blank cells: diverged".to_string()
    };
    if grid.untrusted.contains(&true) {
        blank_note.push_str(UNTRUSTED_NOTE);
    }
    let subtitle = if context.is_empty() {
        blank_note.to_string()
    } else {
        format!("{context}; {blank_note}")
    };
    draw_centred_line(area, &subtitle, SUBTITLE_FONT_PX, 48)?;
    Ok(())
}

/// Draws one line of text centred on `area`, `top` pixels below its top.
///
/// A line wider than the area is drawn with a smaller font, down to
/// [`MIN_TITLE_FONT_PX`]. A line that is still too wide is split into two lines at a "; "
/// when it has one, and otherwise runs past the figure edges.
pub(super) fn draw_centred_line<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    font_px: u32,
    top: i32,
) -> DrawResult<(), DB> {
    let available = f64::from(area.dim_in_pixel().0.saturating_sub(2 * PLOT_MARGIN));
    let fitted_px = fitted_font_px(area, text, font_px, available)?;
    // A line that does not fit even at the smallest font is split in two at the "; "
    // nearest its middle, and both halves share one font size.
    if fitted_px == MIN_TITLE_FONT_PX
        && let Some((first, second)) = split_near_middle(text)
    {
        let first_px = fitted_font_px(area, first, font_px, available)?;
        let second_px = fitted_font_px(area, second, font_px, available)?;
        let px = first_px.min(second_px);
        draw_line_at(area, first, px, top)?;
        return draw_line_at(area, second, px, top + px as i32 + 2);
    }
    draw_line_at(area, text, fitted_px, top)
}

/// Returns `font_px`, or the smaller size at which `text` fits in `available` pixels, but
/// not below [`MIN_TITLE_FONT_PX`].
fn fitted_font_px<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    font_px: u32,
    available: f64,
) -> DrawResult<u32, DB> {
    let requested_style = TextStyle::from((FONT_FAMILY, font_px).into_font());
    let (width, _) = area.estimate_text_size(text, &requested_style)?;
    Ok(if f64::from(width) > available {
        let scaled = f64::from(font_px) * available / f64::from(width);
        (scaled.floor() as u32).max(MIN_TITLE_FONT_PX)
    } else {
        font_px
    })
}

/// Splits `text` at the "; " nearest its middle, dropping the separator.
fn split_near_middle(text: &str) -> Option<(&str, &str)> {
    let middle = text.len() / 2;
    let at = text
        .match_indices("; ")
        .map(|(index, _)| index)
        .min_by_key(|&index| index.abs_diff(middle))?;
    Some((&text[..at], &text[at + 2..]))
}

fn draw_line_at<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    font_px: u32,
    top: i32,
) -> DrawResult<(), DB> {
    let style =
        TextStyle::from((FONT_FAMILY, font_px).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    let centre_x = (area.dim_in_pixel().0 / 2) as i32;
    area.draw_text(text, &style, (centre_x, top))?;
    Ok(())
}

/// A linear log10 axis whose labelled ticks are a fixed list of positions.
pub(super) struct TickedAxis {
    low: f64,
    high: f64,
    ticks: Vec<f64>,
}

impl TickedAxis {
    /// Builds an axis over `[low, high]` with ticks at the integer powers of ten
    /// inside it, or at the cell centres when fewer than two integers fall inside.
    pub(super) fn new(low: f64, high: f64, centres: &[f64]) -> Self {
        let integers = integer_ticks(low, high);
        let ticks = if integers.len() >= 2 {
            integers
        } else {
            centres.to_vec()
        };
        TickedAxis { low, high, ticks }
    }

    /// Builds an axis like [`TickedAxis::new`] with at most `max_ticks` powers of ten,
    /// thinned to every second, third, ... decade when the range contains more.
    pub(super) fn thinned(low: f64, high: f64, centres: &[f64], max_ticks: usize) -> Self {
        let integers = thinned_integer_ticks(low, high, max_ticks);
        if integers.len() >= 2 {
            TickedAxis {
                low,
                high,
                ticks: integers,
            }
        } else {
            TickedAxis::new(low, high, centres)
        }
    }
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let fraction = (value - self.low) / (self.high - self.low);
        let pixels = f64::from(limit.1 - limit.0);
        limit.0 + (fraction * pixels).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Light points are the unlabelled minor grid lines, which heatmaps do not draw.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.low..self.high
    }
}

/// Draws the labelled log10 alpha (x) and log10 eta (y) axes of a grid chart, with grid
/// lines off so that a blank (diverged) cell stays background-coloured.
pub(super) fn draw_log_axes<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<TickedAxis, TickedAxis>>,
) -> DrawResult<(), DB> {
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("log10 alpha (output scale)")
        .y_desc("log10 eta (learning rate)")
        .label_style((FONT_FAMILY, TICK_FONT_PX))
        .axis_desc_style((FONT_FAMILY, AXIS_LABEL_FONT_PX))
        .x_label_formatter(&format_log_tick)
        .y_label_formatter(&format_log_tick)
        .draw()
}

pub(super) fn format_log_tick(value: &f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{}", value.round() as i64)
    } else {
        format!("{value:.2}")
    }
}

fn draw_cells<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    grid: &HeatmapGrid,
) -> DrawResult<Vec<CellPixel>, DB> {
    let x_edges = cell_edges(&grid.log_alphas);
    let y_edges = cell_edges(&grid.log_etas);
    let (x_low, x_high) = (x_edges[0], x_edges[x_edges.len() - 1]);
    let (y_low, y_high) = (y_edges[0], y_edges[y_edges.len() - 1]);

    let mut chart = ChartBuilder::on(area)
        .margin(PLOT_MARGIN)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(
            TickedAxis::new(x_low, x_high, &grid.log_alphas),
            TickedAxis::new(y_low, y_high, &grid.log_etas),
        )?;

    draw_log_axes(&mut chart)?;

    let finite: Vec<f64> = grid
        .values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let range = value_range(&finite);
    let mut rectangles = Vec::new();
    let mut hatches = Vec::new();
    let mut cells = Vec::with_capacity(grid.values.len());
    for row in 0..grid.log_etas.len() {
        for column in 0..grid.log_alphas.len() {
            let corners = [
                (x_edges[column], y_edges[row]),
                (x_edges[column + 1], y_edges[row + 1]),
            ];
            let colour = range.and_then(|range| value_color(grid.value(row, column), range));
            if let Some(colour) = colour {
                rectangles.push(Rectangle::new(corners, colour.filled()));
                if grid.untrusted[row * grid.log_alphas.len() + column] {
                    hatches.extend(hatch_lines(corners));
                }
            }
            let (x, y) = chart.backend_coord(&(grid.log_alphas[column], grid.log_etas[row]));
            cells.push(CellPixel {
                eta_index: row,
                alpha_index: column,
                x,
                y,
            });
        }
    }
    chart.draw_series(rectangles)?;
    chart.draw_series(hatches)?;

    // A thin frame marks the extent of the grid, so blank cells at its border
    // still read as part of it. It runs along the outer cell edges only.
    let frame = [
        (x_low, y_low),
        (x_high, y_low),
        (x_high, y_high),
        (x_low, y_high),
        (x_low, y_low),
    ];
    chart.draw_series(std::iter::once(PathElement::new(
        frame,
        FRAME_COLOR.stroke_width(1),
    )))?;
    Ok(cells)
}

/// Colour of the hatching over untrusted cells.
pub(super) const HATCH_COLOR: RGBColor = RGBColor(20, 20, 20);

/// Text added to a subtitle when some cells are hatched.
pub(super) const UNTRUSTED_NOTE: &str = "; hatched: untrusted (rounding lost the update)";

/// Returns three diagonal strokes across the cell with opposite `corners`, one through its
/// centre, marking a cell whose result rounding made untrustworthy.
pub(super) fn hatch_lines(corners: [(f64, f64); 2]) -> Vec<PathElement<(f64, f64)>> {
    let [(x0, y0), (x1, y1)] = corners;
    let (xm, ym) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    // The diagonal and two parallels halfway to the opposite corners.
    [
        [(x0, y0), (x1, y1)],
        [(x0, ym), (xm, y1)],
        [(xm, y0), (x1, ym)],
    ]
    .into_iter()
    .map(|stroke| PathElement::new(stroke.to_vec(), HATCH_COLOR.stroke_width(2)))
    .collect()
}

pub(super) fn color_bar_decimals(range: (f64, f64)) -> usize {
    let width = range.1 - range.0;
    let magnitude = width.log10().floor() as i64;
    (1 - magnitude).clamp(0, 6) as usize
}

/// Placement and text sizes of a colour bar.
pub(super) struct ColorBarLayout {
    /// Pixels from the top of the bar's area to the top of the bar.
    pub top: u32,
    /// Pixels from the bottom of the bar to the bottom of the bar's area.
    pub bottom: u32,
    pub tick_font_px: u32,
    pub label_font_px: u32,
}

pub(super) fn draw_color_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    label: &str,
    range: (f64, f64),
    layout: &ColorBarLayout,
) -> DrawResult<(), DB> {
    let mut chart = ChartBuilder::on(area)
        .margin_top(layout.top)
        .margin_bottom(layout.bottom)
        .margin_left(2 * PLOT_MARGIN)
        .margin_right(PLOT_MARGIN)
        .set_label_area_size(LabelAreaPosition::Right, COLOR_BAR_LABEL_AREA)
        .build_cartesian_2d(0.0..1.0, range.0..range.1)?;

    let decimals = color_bar_decimals(range);
    let format_tick = |value: &f64| format!("{value:.decimals$}");
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(8)
        .set_all_tick_mark_size(6)
        .y_desc(label)
        .label_style((FONT_FAMILY, layout.tick_font_px))
        .axis_desc_style((FONT_FAMILY, layout.label_font_px))
        .y_label_formatter(&format_tick)
        .draw()?;

    let step = (range.1 - range.0) / COLOR_BAR_STEPS as f64;
    chart.draw_series((0..COLOR_BAR_STEPS).map(|k| {
        let low = range.0 + step * k as f64;
        let colour = viridis((k as f64 + 0.5) / COLOR_BAR_STEPS as f64);
        Rectangle::new([(0.0, low), (1.0, low + step)], colour.filled())
    }))?;
    Ok(())
}

#[cfg(test)]
mod tests;
