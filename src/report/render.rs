//! Drawing a figure into a PNG or SVG file, and the pieces the multi-panel figures share:
//! series colours, markers and the legend strip.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ReportError;
use super::font::FONT_FAMILY;
use super::heatmap::{DrawResult, ImageFormat};

/// A figure that draws itself onto a drawing area of a fixed size.
pub(super) trait Figure {
    /// Value returned by drawing, such as pixel positions for tests.
    type Output;

    /// Size of the figure in pixels, which also sets the SVG view box.
    fn size(&self) -> (u32, u32);

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> DrawResult<Self::Output, DB>;
}

/// Draws `figure` into the file at `path` in `format`.
pub(super) fn render<F: Figure>(
    figure: &F,
    path: &Path,
    format: ImageFormat,
) -> Result<F::Output, ReportError> {
    let draw_error = |message: String| ReportError::Draw {
        path: path.to_path_buf(),
        message,
    };
    match format {
        ImageFormat::Png => {
            let root = BitMapBackend::new(path, figure.size()).into_drawing_area();
            let output = figure.draw(&root).map_err(|e| draw_error(e.to_string()))?;
            root.present().map_err(|e| draw_error(e.to_string()))?;
            Ok(output)
        }
        ImageFormat::Svg => {
            let root = SVGBackend::new(path, figure.size()).into_drawing_area();
            let output = figure.draw(&root).map_err(|e| draw_error(e.to_string()))?;
            root.present().map_err(|e| draw_error(e.to_string()))?;
            Ok(output)
        }
    }
}

/// Line colours of the optimizers, in panel order: the Okabe-Ito colour-blind-safe palette.
const SERIES_COLORS: [RGBColor; 6] = [
    RGBColor(0, 0, 0),
    RGBColor(213, 94, 0),
    RGBColor(0, 114, 178),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
];

/// Returns the colour of the series at `index`, repeating after six series.
pub(super) fn series_color(index: usize) -> RGBColor {
    SERIES_COLORS[index % SERIES_COLORS.len()]
}

/// Marker shapes, so series stay apart in greyscale print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Marker {
    Circle,
    Triangle,
    Square,
    Cross,
    HollowCircle,
}

const MARKERS: [Marker; 5] = [
    Marker::Circle,
    Marker::Triangle,
    Marker::Square,
    Marker::Cross,
    Marker::HollowCircle,
];

/// Returns the marker of the series at `index`, repeating after five series.
pub(super) fn series_marker(index: usize) -> Marker {
    MARKERS[index % MARKERS.len()]
}

/// Draws `marker` of radius `size` pixels centred at the pixel `centre` of `area`.
pub(super) fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    marker: Marker,
    centre: (i32, i32),
    size: i32,
    color: RGBColor,
) -> DrawResult<(), DB> {
    let (x, y) = centre;
    match marker {
        Marker::Circle => area.draw(&Circle::new(centre, size, color.filled())),
        Marker::HollowCircle => area.draw(&Circle::new(centre, size, color.stroke_width(2))),
        Marker::Triangle => area.draw(&TriangleMarker::new(centre, size + 1, color.filled())),
        Marker::Square => area.draw(&Rectangle::new(
            [(x - size, y - size), (x + size, y + size)],
            color.filled(),
        )),
        Marker::Cross => area.draw(&Cross::new(centre, size, color.stroke_width(2))),
    }
}

/// Line sample of one legend entry.
pub(super) enum LegendSample {
    /// A line with a marker in the middle.
    Series { color: RGBColor, marker: Marker },
    /// A contour line: a coloured line over a wider dark halo.
    Contour { color: RGBColor },
}

pub(super) struct LegendEntry {
    pub label: String,
    pub sample: LegendSample,
}

/// Width of the line sample of a legend entry, in multiples of the font size.
const LEGEND_SAMPLE_EMS: f64 = 2.0;
/// Space between legend entries, in multiples of the font size.
const LEGEND_GAP_EMS: f64 = 1.4;

/// Smallest legend font, in pixels, used when the legend is wider than its area.
const MIN_LEGEND_FONT_PX: u32 = 11;

/// Text widths of a legend at one font size, in pixels.
struct LegendWidths {
    style: TextStyle<'static>,
    sample: i32,
    gap: i32,
    title: i32,
    entries: Vec<i32>,
    total: i32,
}

fn measure_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    entries: &[LegendEntry],
    font_px: u32,
) -> DrawResult<LegendWidths, DB> {
    let style =
        TextStyle::from((FONT_FAMILY, font_px).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let sample = (LEGEND_SAMPLE_EMS * f64::from(font_px)).round() as i32;
    let gap = (LEGEND_GAP_EMS * f64::from(font_px)).round() as i32;
    let title_width = if title.is_empty() {
        0
    } else {
        area.estimate_text_size(title, &style)?.0 as i32 + gap / 2
    };
    let mut widths = Vec::with_capacity(entries.len());
    for entry in entries {
        let text_width = area.estimate_text_size(&entry.label, &style)?.0 as i32;
        widths.push(sample + 8 + text_width);
    }
    let total = title_width + widths.iter().sum::<i32>() + gap * (entries.len() as i32 - 1).max(0);
    Ok(LegendWidths {
        style,
        sample,
        gap,
        title: title_width,
        entries: widths,
        total,
    })
}

/// Draws `entries` in one row, centred on `area`, with `title` in front of them.
///
/// A row wider than the area is drawn with a smaller font, down to [`MIN_LEGEND_FONT_PX`].
/// A row that is still too wide runs past the right edge.
pub(super) fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    entries: &[LegendEntry],
    font_px: u32,
) -> DrawResult<(), DB> {
    let (area_width, area_height) = area.dim_in_pixel();
    let available = area_width as i32 - 8;
    let mut font_px = font_px;
    let mut layout = measure_legend(area, title, entries, font_px)?;
    while layout.total > available && font_px > MIN_LEGEND_FONT_PX {
        font_px -= 1;
        layout = measure_legend(area, title, entries, font_px)?;
    }
    let LegendWidths {
        style,
        sample,
        gap,
        title: title_width,
        entries: widths,
        total,
    } = layout;
    let y = area_height as i32 / 2;
    let mut x = ((area_width as i32 - total) / 2).max(4);

    if !title.is_empty() {
        area.draw_text(title, &style, (x, y))?;
        x += title_width;
    }
    for (entry, width) in entries.iter().zip(&widths) {
        let line = [(x, y), (x + sample, y)];
        match entry.sample {
            LegendSample::Series { color, marker } => {
                area.draw(&PathElement::new(line, color.stroke_width(2)))?;
                draw_marker(area, marker, (x + sample / 2, y), 5, color)?;
            }
            LegendSample::Contour { color } => {
                area.draw(&PathElement::new(
                    line,
                    CONTOUR_HALO.stroke_width(CONTOUR_HALO_WIDTH),
                ))?;
                area.draw(&PathElement::new(line, color.stroke_width(CONTOUR_WIDTH)))?;
            }
        }
        area.draw_text(&entry.label, &style, (x + sample + 8, y))?;
        x += width + gap;
    }
    Ok(())
}

/// Colours of the contour levels, ascending: bright hues that stand out on viridis.
const CONTOUR_COLORS: [RGBColor; 7] = [
    RGBColor(255, 255, 255),
    RGBColor(255, 0, 255),
    RGBColor(255, 140, 0),
    RGBColor(255, 40, 40),
    RGBColor(0, 230, 255),
    RGBColor(255, 175, 215),
    RGBColor(190, 190, 190),
];
pub(super) const CONTOUR_HALO: RGBColor = RGBColor(0, 0, 0);
pub(super) const CONTOUR_WIDTH: u32 = 2;
pub(super) const CONTOUR_HALO_WIDTH: u32 = 5;

/// Returns the colour of the contour level at `index`, repeating after seven levels.
pub(super) fn contour_color(index: usize) -> RGBColor {
    CONTOUR_COLORS[index % CONTOUR_COLORS.len()]
}
