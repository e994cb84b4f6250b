//! Contour lines of a gridded field by marching squares, and the levels to draw.

/// A straight piece of a contour line between two points `(x, y)`.
pub type Segment = [(f64, f64); 2];

/// Candidate sign-consistency levels for contour lines, ascending.
const CONSISTENCY_LEVELS: [f64; 7] = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99];

/// Returns the candidate sign-consistency levels that lie strictly inside `range`.
///
/// The candidates are 0.5, 0.6, 0.7, 0.8, 0.9, 0.95 and 0.99. A level at a range end would
/// trace only single points, so it is left out.
pub fn consistency_levels(range: (f64, f64)) -> Vec<f64> {
    CONSISTENCY_LEVELS
        .iter()
        .copied()
        .filter(|&level| level > range.0 && level < range.1)
        .collect()
}

/// Traces the line where the field equals `level`, by marching squares.
///
/// The field has the value `values[row * xs.len() + column]` at the point
/// `(xs[column], ys[row])`, and is linear along each edge between neighbouring points. A
/// square with a non-finite corner is skipped, so lines stop at blank cells. In a saddle
/// square (diagonal corners on the same side) the mean of the four corners decides which
/// corners the two segments cut off.
///
/// # Panics
///
/// Panics if `values.len() != xs.len() * ys.len()`.
pub fn contour_segments(xs: &[f64], ys: &[f64], values: &[f64], level: f64) -> Vec<Segment> {
    assert_eq!(
        values.len(),
        xs.len() * ys.len(),
        "contour field has {} values for a {} x {} grid",
        values.len(),
        ys.len(),
        xs.len()
    );
    let columns = xs.len();
    let mut segments = Vec::new();
    for row in 0..ys.len().saturating_sub(1) {
        for column in 0..columns.saturating_sub(1) {
            // Corners counter-clockwise from the lower left: (x, y, value).
            let corners = [
                (xs[column], ys[row], values[row * columns + column]),
                (xs[column + 1], ys[row], values[row * columns + column + 1]),
                (
                    xs[column + 1],
                    ys[row + 1],
                    values[(row + 1) * columns + column + 1],
                ),
                (
                    xs[column],
                    ys[row + 1],
                    values[(row + 1) * columns + column],
                ),
            ];
            if corners.iter().any(|corner| !corner.2.is_finite()) {
                continue;
            }
            square_segments(&corners, level, &mut segments);
        }
    }
    segments
}

/// Adds the segments of one square, whose corners run counter-clockwise from the lower left.
fn square_segments(corners: &[(f64, f64, f64); 4], level: f64, segments: &mut Vec<Segment>) {
    let above: Vec<bool> = corners.iter().map(|corner| corner.2 >= level).collect();
    // Edge k runs from corner k to corner k + 1, so corner k touches edges k - 1 and k.
    let crossing = |edge: usize| -> Option<(f64, f64)> {
        let (x0, y0, v0) = corners[edge];
        let (x1, y1, v1) = corners[(edge + 1) % 4];
        if above[edge] == above[(edge + 1) % 4] {
            return None;
        }
        let t = (level - v0) / (v1 - v0);
        Some((x0 + t * (x1 - x0), y0 + t * (y1 - y0)))
    };
    let crossings: Vec<(usize, (f64, f64))> = (0..4)
        .filter_map(|edge| crossing(edge).map(|point| (edge, point)))
        .collect();

    match crossings.len() {
        2 => segments.push([crossings[0].1, crossings[1].1]),
        4 => {
            let centre = corners.iter().map(|corner| corner.2).sum::<f64>() / 4.0;
            let centre_above = centre >= level;
            for corner in 0..4 {
                if above[corner] != centre_above {
                    let before = crossings[(corner + 3) % 4].1;
                    let after = crossings[corner].1;
                    segments.push([before, after]);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_point(actual: (f64, f64), expected: (f64, f64)) {
        assert!(
            (actual.0 - expected.0).abs() < 1e-12 && (actual.1 - expected.1).abs() < 1e-12,
            "{actual:?} differs from {expected:?}"
        );
    }

    #[test]
    fn vertical_line_through_ramp() {
        // The field rises from 0 at x = 0 to 1 at x = 1 on both rows.
        let segments = contour_segments(&[0.0, 1.0], &[0.0, 1.0], &[0.0, 1.0, 0.0, 1.0], 0.25);
        assert_eq!(segments.len(), 1);
        let mut ends = segments[0];
        ends.sort_by(|a, b| a.1.total_cmp(&b.1));
        assert_point(ends[0], (0.25, 0.0));
        assert_point(ends[1], (0.25, 1.0));
    }

    #[test]
    fn level_outside_field_gives_nothing() {
        let segments = contour_segments(&[0.0, 1.0], &[0.0, 1.0], &[0.0, 1.0, 0.0, 1.0], 2.0);
        assert!(segments.is_empty());
    }

    #[test]
    fn blank_corner_skips_square() {
        let values = [0.0, 1.0, 2.0, 0.0, f64::NAN, 2.0];
        let segments = contour_segments(&[0.0, 1.0, 2.0], &[0.0, 1.0], &values, 1.5);
        assert!(segments.is_empty());
        let segments = contour_segments(&[0.0, 1.0, 2.0], &[0.0, 1.0], &values, 0.5);
        assert!(segments.is_empty());
    }

    #[test]
    fn saddle_gives_two_segments() {
        // Lower left and upper right are high, the centre mean 0.5 is below 0.6.
        let values = [1.0, 0.0, 0.0, 1.0];
        let segments = contour_segments(&[0.0, 1.0], &[0.0, 1.0], &values, 0.6);
        assert_eq!(segments.len(), 2);
        // Each segment cuts off one high corner, so it stays within 0.4 of it.
        for segment in &segments {
            let near_lower_left = segment.iter().all(|p| p.0 + p.1 <= 0.4 + 1e-12);
            let near_upper_right = segment.iter().all(|p| p.0 + p.1 >= 1.6 - 1e-12);
            assert!(near_lower_left || near_upper_right, "{segment:?}");
        }
    }

    #[test]
    fn consistency_levels_inside_range() {
        assert_eq!(consistency_levels((0.65, 0.92)), vec![0.7, 0.8, 0.9]);
        assert_eq!(consistency_levels((0.7, 0.8)), Vec::<f64>::new());
        assert_eq!(consistency_levels((0.0, 1.0)).len(), 7);
    }
}
