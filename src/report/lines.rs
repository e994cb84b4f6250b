//! Line plots against log10 alpha: one line per optimizer, one panel per quantity.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::font::FONT_FAMILY;
use super::heatmap::{
    DrawResult, HATCH_COLOR, PLOT_MARGIN, TickedAxis, draw_centred_line, format_log_tick,
};
use super::render::{
    Figure, LegendEntry, LegendSample, Marker, draw_legend, series_color, series_marker,
};
use super::scale::cell_edges;

const PANEL_WIDTH: u32 = 560;
const PANEL_HEIGHT: u32 = 460;
const TITLE_HEIGHT: u32 = 84;
const LEGEND_HEIGHT: u32 = 56;
const X_LABEL_AREA: u32 = 72;
const Y_LABEL_AREA: u32 = 90;
const MAX_AXIS_TICKS: usize = 7;
const MARKER_SIZE: i32 = 5;
/// Width of the caps of an error bar, in pixels.
const ERROR_BAR_CAP: u32 = 10;

const TITLE_FONT_PX: u32 = 28;
const SUBTITLE_FONT_PX: u32 = 20;
const TICK_FONT_PX: u32 = 20;
const AXIS_LABEL_FONT_PX: u32 = 22;
const LEGEND_FONT_PX: u32 = 20;

/// One point of a line: x is log10 alpha, y and its spread are in display units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct LinePoint {
    pub x: f64,
    /// NaN leaves a gap in the line.
    pub y: f64,
    /// Standard deviation drawn as an error bar of +-spread; NaN draws none.
    pub spread: f64,
    /// Whether a seed of the cell is untrusted; the point gets a ring.
    pub untrusted: bool,
}

/// Radius in pixels of the ring around an untrusted point.
const RING_RADIUS: i32 = 11;

/// Subtitle note for figures that ring untrusted points.
pub(super) const RINGED_NOTE: &str = "; ringed points: untrusted (rounding lost the update)";

pub(super) struct Line {
    pub label: String,
    pub points: Vec<LinePoint>,
}

pub(super) struct LinePanel {
    pub y_desc: String,
    pub lines: Vec<Line>,
}

/// Panels side by side that share the x axis and the legend.
pub(super) struct LineFigure {
    pub title: String,
    pub subtitle: String,
    /// Every log10 alpha of the grid, which fixes the x range of all panels.
    pub log_alphas: Vec<f64>,
    pub panels: Vec<LinePanel>,
}

impl Figure for LineFigure {
    type Output = ();

    fn size(&self) -> (u32, u32) {
        let panels = self.panels.len().max(1) as u32;
        (
            panels * PANEL_WIDTH,
            TITLE_HEIGHT + PANEL_HEIGHT + LEGEND_HEIGHT,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<(), DB> {
        root.fill(&WHITE)?;
        let (title_area, body) = root.split_vertically(TITLE_HEIGHT);
        draw_centred_line(&title_area, &self.title, TITLE_FONT_PX, 10)?;
        draw_centred_line(&title_area, &self.subtitle, SUBTITLE_FONT_PX, 50)?;
        let (row, legend_area) = body.split_vertically(PANEL_HEIGHT);

        if !self.panels.is_empty() {
            let areas = row.split_evenly((1, self.panels.len()));
            for (panel, area) in self.panels.iter().zip(&areas) {
                self.draw_panel(area, panel)?;
            }
        }

        let labels = self
            .panels
            .first()
            .map(|panel| &panel.lines[..])
            .unwrap_or(&[]);
        let entries: Vec<LegendEntry> = labels
            .iter()
            .enumerate()
            .map(|(index, line)| LegendEntry {
                label: line.label.clone(),
                sample: LegendSample::Series {
                    color: series_color(index),
                    marker: series_marker(index),
                },
            })
            .collect();
        draw_legend(&legend_area, "", &entries, LEGEND_FONT_PX)?;
        Ok(())
    }
}

impl LineFigure {
    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: &LinePanel,
    ) -> DrawResult<(), DB> {
        let x_edges = cell_edges(&self.log_alphas);
        let (x_low, x_high) = match (x_edges.first(), x_edges.last()) {
            (Some(&low), Some(&high)) => (low, high),
            _ => (-0.5, 0.5),
        };
        let (y_low, y_high) = y_range(panel);
        let mut chart = ChartBuilder::on(area)
            .margin(PLOT_MARGIN)
            .margin_right(3 * PLOT_MARGIN)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(
                TickedAxis::thinned(x_low, x_high, &self.log_alphas, MAX_AXIS_TICKS),
                y_low..y_high,
            )?;
        chart
            .configure_mesh()
            .x_desc("log10 alpha (output scale)")
            .y_desc(panel.y_desc.as_str())
            .label_style((FONT_FAMILY, TICK_FONT_PX))
            .axis_desc_style((FONT_FAMILY, AXIS_LABEL_FONT_PX))
            .x_label_formatter(&format_log_tick)
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(WHITE)
            .y_labels(6)
            .draw()?;

        for (index, line) in panel.lines.iter().enumerate() {
            let color = series_color(index);
            for run in finite_runs(&line.points) {
                chart.draw_series(LineSeries::new(
                    run.iter().map(|p| (p.x, p.y)),
                    color.stroke_width(2),
                ))?;
            }
            let bars = line
                .points
                .iter()
                .filter(|p| p.y.is_finite() && p.spread.is_finite() && p.spread > 0.0);
            chart.draw_series(bars.map(|p| {
                ErrorBar::new_vertical(
                    p.x,
                    p.y - p.spread,
                    p.y,
                    p.y + p.spread,
                    color.stroke_width(1),
                    ERROR_BAR_CAP,
                )
            }))?;
            let centres: Vec<(f64, f64)> = line
                .points
                .iter()
                .filter(|p| p.y.is_finite())
                .map(|p| (p.x, p.y))
                .collect();
            draw_markers(&mut chart, series_marker(index), &centres, color)?;
            let rings = line
                .points
                .iter()
                .filter(|p| p.y.is_finite() && p.untrusted);
            chart.draw_series(
                rings.map(|p| Circle::new((p.x, p.y), RING_RADIUS, HATCH_COLOR.stroke_width(2))),
            )?;
        }
        Ok(())
    }
}

type LineChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<TickedAxis, RangedCoordf64>>;

/// Draws `marker` at every point of `centres`, given in chart coordinates.
fn draw_markers<DB: DrawingBackend>(
    chart: &mut LineChart<'_, DB>,
    marker: Marker,
    centres: &[(f64, f64)],
    color: RGBColor,
) -> DrawResult<(), DB> {
    let size = MARKER_SIZE;
    let points = centres.iter().copied();
    match marker {
        Marker::Circle => {
            chart.draw_series(points.map(|c| Circle::new(c, size, color.filled())))?;
        }
        Marker::HollowCircle => {
            chart.draw_series(points.map(|c| Circle::new(c, size, color.stroke_width(2))))?;
        }
        Marker::Triangle => {
            chart.draw_series(points.map(|c| TriangleMarker::new(c, size + 1, color.filled())))?;
        }
        Marker::Cross => {
            chart.draw_series(points.map(|c| Cross::new(c, size, color.stroke_width(2))))?;
        }
        Marker::Square => {
            chart.draw_series(points.map(|c| {
                EmptyElement::at(c) + Rectangle::new([(-size, -size), (size, size)], color.filled())
            }))?;
        }
    }
    Ok(())
}

/// Splits points into the runs of consecutive finite y values.
fn finite_runs(points: &[LinePoint]) -> Vec<&[LinePoint]> {
    points
        .split(|p| !p.y.is_finite())
        .filter(|run| !run.is_empty())
        .collect()
}

/// Returns the y range of a panel: its values with their error bars, padded by 5% each way.
fn y_range(panel: &LinePanel) -> (f64, f64) {
    let mut low = f64::INFINITY;
    let mut high = f64::NEG_INFINITY;
    for point in panel.lines.iter().flat_map(|line| &line.points) {
        if !point.y.is_finite() {
            continue;
        }
        let spread = if point.spread.is_finite() {
            point.spread
        } else {
            0.0
        };
        low = low.min(point.y - spread);
        high = high.max(point.y + spread);
    }
    if !(low.is_finite() && high.is_finite()) {
        return (0.0, 1.0);
    }
    let pad = if high > low {
        0.05 * (high - low)
    } else {
        (0.05 * low.abs()).max(0.5)
    };
    (low - pad, high + pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(x: f64, y: f64, spread: f64) -> LinePoint {
        LinePoint {
            x,
            y,
            spread,
            untrusted: false,
        }
    }

    /// Renders one line of three points, the middle one untrusted when `ring` is set, and
    /// returns the PNG's pixels.
    fn rendered(ring: bool) -> image::RgbaImage {
        let mut points = vec![
            point(0.0, 20.0, f64::NAN),
            point(1.0, 60.0, f64::NAN),
            point(2.0, 40.0, f64::NAN),
        ];
        points[1].untrusted = ring;
        let figure = LineFigure {
            title: "title".into(),
            subtitle: String::new(),
            log_alphas: vec![0.0, 1.0, 2.0],
            panels: vec![LinePanel {
                y_desc: "test accuracy (%)".into(),
                lines: vec![Line {
                    label: "gd".into(),
                    points,
                }],
            }],
        };
        super::super::font::ensure_font_registered().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("line.png");
        super::super::render::render(&figure, &path, super::super::heatmap::ImageFormat::Png)
            .unwrap();
        image::open(&path).unwrap().to_rgba8()
    }

    #[test]
    fn untrusted_point_gets_ring() {
        let plain = rendered(false);
        let ringed = rendered(true);
        assert_eq!(plain.dimensions(), ringed.dimensions());
        let changed: Vec<(u32, u32)> = plain
            .enumerate_pixels()
            .filter(|&(x, y, p)| ringed.get_pixel(x, y) != p)
            .map(|(x, y, _)| (x, y))
            .collect();
        // A ring of radius 11 and stroke 2 covers about 2 pi 11 x 2 = 140 pixels, all
        // within a box of 2 x (11 + 2) pixels around one point.
        assert!(changed.len() > 60, "{} pixels changed", changed.len());
        let (xs, ys): (Vec<u32>, Vec<u32>) = changed.iter().copied().unzip();
        let width = xs.iter().max().unwrap() - xs.iter().min().unwrap();
        let height = ys.iter().max().unwrap() - ys.iter().min().unwrap();
        assert!(width <= 2 * (RING_RADIUS as u32 + 2), "ring width {width}");
        assert!(
            height <= 2 * (RING_RADIUS as u32 + 2),
            "ring height {height}"
        );
    }

    #[test]
    fn runs_split_at_gaps() {
        let points = [
            point(0.0, 1.0, f64::NAN),
            point(1.0, f64::NAN, f64::NAN),
            point(2.0, 2.0, f64::NAN),
            point(3.0, 3.0, f64::NAN),
        ];
        let runs = finite_runs(&points);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].len(), 1);
        assert_eq!(runs[1].len(), 2);
    }

    #[test]
    fn y_range_covers_error_bars() {
        let panel = LinePanel {
            y_desc: String::new(),
            lines: vec![Line {
                label: "gd".into(),
                points: vec![point(0.0, 50.0, 10.0), point(1.0, 80.0, f64::NAN)],
            }],
        };
        let (low, high) = y_range(&panel);
        assert!((low - 38.0).abs() < 1e-9, "{low}");
        assert!((high - 82.0).abs() < 1e-9, "{high}");
    }

    #[test]
    fn y_range_of_empty_panel() {
        let panel = LinePanel {
            y_desc: String::new(),
            lines: Vec::new(),
        };
        assert_eq!(y_range(&panel), (0.0, 1.0));
    }
}
