//! Heat maps side by side, one panel per optimizer, on one colour scale.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::aggregate::{CellSummary, SeedStats};
use super::contour::contour_segments;
use super::heatmap::{
    CellPixel, ColorBarLayout, DrawResult, FRAME_COLOR, Metric, PLOT_MARGIN, TickedAxis,
    draw_centred_line, draw_color_bar, draw_log_axes, hatch_lines,
};
use super::render::{
    CONTOUR_HALO, CONTOUR_HALO_WIDTH, CONTOUR_WIDTH, Figure, LegendEntry, LegendSample,
    contour_color, draw_legend,
};
use super::scale::{cell_edges, distinct_levels, level_index, value_color, value_range};
use crate::optim::OptimizerKind;

/// Width of one panel in pixels, including its axis labels.
pub const PANEL_WIDTH: u32 = 480;
/// Height of one panel in pixels, including its name above the plot.
pub const PANEL_HEIGHT: u32 = 480;

const TITLE_HEIGHT: u32 = 84;
const PANEL_NAME_HEIGHT: u32 = 40;
const COLOR_BAR_STRIP_WIDTH: u32 = 170;
const LEGEND_HEIGHT: u32 = 56;
const X_LABEL_AREA: u32 = 72;
const Y_LABEL_AREA: u32 = 84;
/// Most labelled powers of ten per axis; denser grids label every second decade or fewer.
const MAX_AXIS_TICKS: usize = 7;

const TITLE_FONT_PX: u32 = 28;
const SUBTITLE_FONT_PX: u32 = 20;
const PANEL_NAME_FONT_PX: u32 = 24;
const TICK_FONT_PX: u32 = 20;
const AXIS_LABEL_FONT_PX: u32 = 22;
const LEGEND_FONT_PX: u32 = 20;

/// The statistic over seeds that a panel figure shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    Mean,
    /// Sample standard deviation; blank where fewer than two seeds finished.
    Std,
}

impl Statistic {
    fn pick(self, stats: &SeedStats) -> f64 {
        match self {
            Statistic::Mean => stats.mean,
            Statistic::Std => stats.std,
        }
    }
}

/// One metric statistic of every optimizer on a shared (log10 alpha, log10 eta) grid.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelGrids {
    /// Distinct log10 alpha values of all optimizers, ascending, one per column.
    pub log_alphas: Vec<f64>,
    /// Distinct log10 eta values of all optimizers, ascending, one per row.
    pub log_etas: Vec<f64>,
    /// Optimizer names in panel order (see [`panel_order`]).
    pub optimizers: Vec<String>,
    /// Per panel, the values in display units, row-major: row `i` (eta) and column `j`
    /// (alpha) at `i * log_alphas.len() + j`. NaN for blank cells.
    pub values: Vec<Vec<f64>>,
    /// Per panel, in the layout of `values`, whether a seed of the cell is untrusted.
    pub untrusted: Vec<Vec<bool>>,
}

impl PanelGrids {
    /// Lays out the chosen statistic of `metric` from the summaries of one dataset.
    ///
    /// Cells that no summary covers, and cells whose statistic is NaN, are blank.
    pub fn from_summaries(summaries: &[CellSummary], metric: Metric, statistic: Statistic) -> Self {
        let alphas: Vec<f64> = summaries.iter().map(|s| s.alpha.log10()).collect();
        let etas: Vec<f64> = summaries.iter().map(|s| s.eta.log10()).collect();
        let log_alphas = distinct_levels(&alphas);
        let log_etas = distinct_levels(&etas);
        let optimizers = panel_order(summaries.iter().map(|s| s.optimizer.as_str()));

        let cell_count = log_alphas.len() * log_etas.len();
        let mut values = vec![vec![f64::NAN; cell_count]; optimizers.len()];
        let mut untrusted = vec![vec![false; cell_count]; optimizers.len()];
        for (index, summary) in summaries.iter().enumerate() {
            let panel = optimizers
                .iter()
                .position(|name| *name == summary.optimizer)
                .expect("every optimizer has a panel");
            let column = level_index(&log_alphas, alphas[index]).expect("alpha level exists");
            let row = level_index(&log_etas, etas[index]).expect("eta level exists");
            let value = statistic.pick(summary.stats(metric));
            let cell = row * log_alphas.len() + column;
            values[panel][cell] = metric.display_factor() * value;
            untrusted[panel][cell] = summary.untrusted();
        }
        PanelGrids {
            log_alphas,
            log_etas,
            optimizers,
            values,
            untrusted,
        }
    }

    /// Returns the value of panel `panel` at row `eta_index` and column `alpha_index`.
    pub fn value(&self, panel: usize, eta_index: usize, alpha_index: usize) -> f64 {
        self.values[panel][eta_index * self.log_alphas.len() + alpha_index]
    }

    /// Returns whether any cell of any panel is marked untrusted.
    pub fn has_untrusted(&self) -> bool {
        self.untrusted.iter().flatten().any(|&u| u)
    }

    /// Returns the colour scale range over the finite values of every panel.
    pub fn shared_range(&self) -> Option<(f64, f64)> {
        let all: Vec<f64> = self.values.iter().flatten().copied().collect();
        value_range(&all)
    }
}

/// Orders optimizer names as in [`OptimizerKind::ALL`] (gd, rmsprop, modified-rmsprop, adam,
/// modified-adam), with unknown names after them in alphabetical order, each once.
pub fn panel_order<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut unique: Vec<&str> = names.collect();
    unique.sort();
    unique.dedup();
    let rank = |name: &str| {
        OptimizerKind::ALL
            .iter()
            .position(|kind| kind.name() == name)
            .unwrap_or(OptimizerKind::ALL.len())
    };
    unique.sort_by_key(|name| (rank(name), name.to_string()));
    unique.into_iter().map(str::to_string).collect()
}

/// Contour lines of a second field drawn over the panels.
pub(super) struct ContourOverlay {
    /// Per panel, the field in the layout of [`PanelGrids::values`].
    pub values: Vec<Vec<f64>>,
    pub levels: Vec<f64>,
    /// Name of the field in the legend, such as "sign consistency".
    pub name: String,
}

/// A row of heat map panels with one colour bar.
pub(super) struct PanelFigure<'a> {
    pub grids: &'a PanelGrids,
    pub title: String,
    pub subtitle: String,
    pub bar_label: String,
    pub contours: Option<ContourOverlay>,
}

/// Cell pixel centres and the colour scale of a drawn panel figure, which tests use to
/// sample pixels.
#[derive(Debug, Clone)]
#[cfg_attr(not(test), allow(dead_code))]
pub(super) struct PanelPixels {
    pub range: Option<(f64, f64)>,
    /// Per panel, the pixel centre of every cell.
    pub cells: Vec<Vec<CellPixel>>,
}

impl Figure for PanelFigure<'_> {
    type Output = PanelPixels;

    fn size(&self) -> (u32, u32) {
        let panels = self.grids.optimizers.len().max(1) as u32;
        let legend = if self.has_legend() { LEGEND_HEIGHT } else { 0 };
        (
            panels * PANEL_WIDTH + COLOR_BAR_STRIP_WIDTH,
            TITLE_HEIGHT + PANEL_HEIGHT + legend,
        )
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> DrawResult<PanelPixels, DB> {
        root.fill(&WHITE)?;
        let (width, _) = self.size();
        let (title_area, body) = root.split_vertically(TITLE_HEIGHT);
        draw_centred_line(&title_area, &self.title, TITLE_FONT_PX, 10)?;
        draw_centred_line(&title_area, &self.subtitle, SUBTITLE_FONT_PX, 50)?;

        let (row, legend_area) = body.split_vertically(PANEL_HEIGHT);
        let (panels_area, bar_area) = row.split_horizontally(width - COLOR_BAR_STRIP_WIDTH);
        let range = self.grids.shared_range();

        let panel_count = self.grids.optimizers.len();
        let mut cells = Vec::with_capacity(panel_count);
        if panel_count > 0 {
            let areas = panels_area.split_evenly((1, panel_count));
            for (panel, area) in areas.iter().enumerate() {
                cells.push(self.draw_panel(area, panel, range)?);
            }
        }

        if let Some(range) = range {
            // The bar spans the plot rows of the panels: below the panel name and the
            // chart margin, above the x label area.
            let layout = ColorBarLayout {
                top: PANEL_NAME_HEIGHT + PLOT_MARGIN,
                bottom: PLOT_MARGIN + X_LABEL_AREA,
                tick_font_px: TICK_FONT_PX,
                label_font_px: AXIS_LABEL_FONT_PX,
            };
            draw_color_bar(&bar_area, &self.bar_label, range, &layout)?;
        }
        if let Some(overlay) = self.contours.as_ref().filter(|_| self.has_legend()) {
            let entries: Vec<LegendEntry> = overlay
                .levels
                .iter()
                .enumerate()
                .map(|(index, level)| LegendEntry {
                    label: format!("{level}"),
                    sample: LegendSample::Contour {
                        color: contour_color(index),
                    },
                })
                .collect();
            let title = format!("contours of {}:", overlay.name);
            draw_legend(&legend_area, &title, &entries, LEGEND_FONT_PX)?;
        }
        Ok(PanelPixels { range, cells })
    }
}

impl PanelFigure<'_> {
    fn has_legend(&self) -> bool {
        self.contours
            .as_ref()
            .is_some_and(|overlay| !overlay.levels.is_empty())
    }

    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: usize,
        range: Option<(f64, f64)>,
    ) -> DrawResult<Vec<CellPixel>, DB> {
        let grids = self.grids;
        draw_centred_line(area, &grids.optimizers[panel], PANEL_NAME_FONT_PX, 8)?;
        let (_, plot_area) = area.split_vertically(PANEL_NAME_HEIGHT);

        let x_edges = cell_edges(&grids.log_alphas);
        let y_edges = cell_edges(&grids.log_etas);
        let (x_low, x_high) = (x_edges[0], x_edges[x_edges.len() - 1]);
        let (y_low, y_high) = (y_edges[0], y_edges[y_edges.len() - 1]);
        let mut chart = ChartBuilder::on(&plot_area)
            .margin(PLOT_MARGIN)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(
                TickedAxis::thinned(x_low, x_high, &grids.log_alphas, MAX_AXIS_TICKS),
                TickedAxis::thinned(y_low, y_high, &grids.log_etas, MAX_AXIS_TICKS),
            )?;

        draw_log_axes(&mut chart)?;

        let columns = grids.log_alphas.len();
        let mut rectangles = Vec::new();
        let mut hatches = Vec::new();
        let mut cells = Vec::with_capacity(grids.values[panel].len());
        for row in 0..grids.log_etas.len() {
            for column in 0..columns {
                let corners = [
                    (x_edges[column], y_edges[row]),
                    (x_edges[column + 1], y_edges[row + 1]),
                ];
                let value = grids.value(panel, row, column);
                if let Some(colour) = range.and_then(|range| value_color(value, range)) {
                    rectangles.push(Rectangle::new(corners, colour.filled()));
                    if grids.untrusted[panel][row * columns + column] {
                        hatches.extend(hatch_lines(corners));
                    }
                }
                let (x, y) = chart.backend_coord(&(grids.log_alphas[column], grids.log_etas[row]));
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

        if let Some(overlay) = &self.contours {
            let mut lines = Vec::new();
            for (index, &level) in overlay.levels.iter().enumerate() {
                let segments = contour_segments(
                    &grids.log_alphas,
                    &grids.log_etas,
                    &overlay.values[panel],
                    level,
                );
                lines.extend(segments.into_iter().map(|segment| (index, segment)));
            }
            // Halos first, so that no halo covers a line of another level.
            chart.draw_series(lines.iter().map(|(_, segment)| {
                PathElement::new(
                    segment.to_vec(),
                    CONTOUR_HALO.stroke_width(CONTOUR_HALO_WIDTH),
                )
            }))?;
            chart.draw_series(lines.iter().map(|(index, segment)| {
                PathElement::new(
                    segment.to_vec(),
                    contour_color(*index).stroke_width(CONTOUR_WIDTH),
                )
            }))?;
        }

        // A thin frame marks the extent of the grid, so blank border cells still read as
        // part of it.
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
}
