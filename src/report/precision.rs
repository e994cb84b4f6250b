//! Heat maps of the numerical error of each arithmetic mode over the (alpha, eta) grid.

use std::path::Path;

use super::ReportError;
use super::figures::WrittenFigure;
use super::font::ensure_font_registered;
use super::heatmap::ImageFormat;
use super::panels::{ContourOverlay, PanelFigure, PanelGrids};
use super::render::render;

/// Errors below this are drawn at it, so that exact agreement (error 0) has a colour.
const ERROR_FLOOR: f64 = 1e-17;

/// Relative errors of several arithmetic modes on one (log10 alpha, log10 eta) grid.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorPanels {
    /// Distinct log10 alpha values, ascending, one per column.
    pub log_alphas: Vec<f64>,
    /// Distinct log10 eta values, ascending, one per row.
    pub log_etas: Vec<f64>,
    /// Mode names in panel order, such as `gpu f32`.
    pub modes: Vec<String>,
    /// Per mode, the relative errors row-major: row `i` (eta) and column `j` (alpha) at
    /// `i * log_alphas.len() + j`. NaN where the cell diverged or has no reference.
    pub errors: Vec<Vec<f64>>,
    /// Per mode, in the layout of `errors`, whether the mode's own rounding measures
    /// flagged the cell as untrusted.
    pub untrusted: Vec<Vec<bool>>,
}

/// Draws `panels` as log10 relative error with a contour at `limit`, into
/// `out_dir/stem.<extension>` for every format.
pub fn write_error_figure(
    out_dir: &Path,
    stem: &str,
    title: &str,
    subtitle: &str,
    panels: &ErrorPanels,
    limit: f64,
    formats: &[ImageFormat],
) -> Result<WrittenFigure, ReportError> {
    ensure_font_registered()?;
    let log_errors: Vec<Vec<f64>> = panels
        .errors
        .iter()
        .map(|errors| errors.iter().map(|&e| log_error(e)).collect())
        .collect();
    let grids = PanelGrids {
        log_alphas: panels.log_alphas.clone(),
        log_etas: panels.log_etas.clone(),
        optimizers: panels.modes.clone(),
        values: log_errors.clone(),
        untrusted: panels.untrusted.clone(),
    };
    let figure = PanelFigure {
        grids: &grids,
        title: title.to_string(),
        subtitle: subtitle.to_string(),
        bar_label: "log10 relative error".to_string(),
        contours: Some(ContourOverlay {
            values: log_errors,
            levels: vec![limit.log10()],
            name: "log10 relative error".to_string(),
        }),
    };
    let mut files = Vec::with_capacity(formats.len());
    for &format in formats {
        let path = out_dir.join(format!("{stem}.{}", format.extension()));
        render(&figure, &path, format)?;
        files.push(path);
    }
    Ok(WrittenFigure {
        stem: stem.to_string(),
        caption: format!(
            "{title}: log10 of the relative error per cell, one panel per mode; the contour \
             marks an error of {limit:e}, blank cells diverged, and hatched cells are the ones \
             the mode's own rounding measures flagged as untrusted."
        ),
        files,
    })
}

/// Returns log10 of a relative error, floored at `ERROR_FLOOR` so that exact cells get a
/// color. A diverged cell's NaN stays NaN, so that its cell is left blank: `f64::max`
/// would replace NaN by the floor, which reads as the most accurate color.
fn log_error(error: f64) -> f64 {
    if error.is_nan() {
        f64::NAN
    } else {
        error.max(ERROR_FLOOR).log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diverged_error_stays_blank() {
        assert!(log_error(f64::NAN).is_nan());
        assert_eq!(log_error(0.0), ERROR_FLOOR.log10());
        assert_eq!(log_error(1e-3), -3.0);
    }

    #[test]
    fn error_figure_files_written() {
        let dir = tempfile::tempdir().unwrap();
        let panels = ErrorPanels {
            log_alphas: vec![0.0, 1.0, 2.0],
            log_etas: vec![-1.0, 0.0],
            modes: vec!["cpu f64".into(), "gpu f32".into()],
            errors: vec![vec![1e-15, 1e-12, 0.0, 1e-9, 1e-4, f64::NAN], vec![1e-7; 6]],
            untrusted: vec![vec![false; 6], vec![false, false, false, false, true, true]],
        };
        let formats = [ImageFormat::Png, ImageFormat::Svg];
        let written =
            write_error_figure(dir.path(), "errors", "test", "", &panels, 1e-3, &formats).unwrap();
        assert_eq!(written.files.len(), 2);
        for path in &written.files {
            assert!(
                std::fs::metadata(path).unwrap().len() > 1000,
                "{}",
                path.display()
            );
        }
    }
}
