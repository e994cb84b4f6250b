//! Pure helpers shared by figures: grid levels, cell edges, colour scale range and
//! the viridis colour map.

use plotters::style::RGBColor;

/// Two log10 grid values closer than this are treated as the same grid level.
pub const LEVEL_TOLERANCE: f64 = 1e-9;

/// Viridis sampled at 9 evenly spaced points from 0 to 1 (matplotlib's `viridis`).
///
/// Colours between anchors are linear interpolations in RGB.
const VIRIDIS_ANCHORS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 45, 123),
    (59, 82, 139),
    (44, 114, 142),
    (33, 145, 140),
    (40, 174, 128),
    (94, 201, 98),
    (173, 220, 48),
    (253, 231, 37),
];

/// Sorts the values and merges those within [`LEVEL_TOLERANCE`] of each other.
///
/// Non-finite values are dropped. The result is strictly ascending.
pub fn distinct_levels(values: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);

    let mut levels: Vec<f64> = Vec::with_capacity(sorted.len());
    for value in sorted {
        match levels.last() {
            Some(&last) if value - last <= LEVEL_TOLERANCE => {}
            _ => levels.push(value),
        }
    }
    levels
}

/// Returns the index of the level within [`LEVEL_TOLERANCE`] of `value`, if any.
pub fn level_index(levels: &[f64], value: f64) -> Option<usize> {
    levels
        .iter()
        .position(|&level| (level - value).abs() <= LEVEL_TOLERANCE)
}

/// Computes the `n + 1` edges of the cells centred at `n` strictly ascending centres.
///
/// Inner edges lie halfway between neighbouring centres. Each outer edge is as far
/// from its centre as the nearest inner edge, so the end cells are symmetric about
/// their centres. A single centre gets a cell of width 1, and an empty slice
/// returns no edges.
pub fn cell_edges(centres: &[f64]) -> Vec<f64> {
    debug_assert!(
        centres.windows(2).all(|pair| pair[0] < pair[1]),
        "cell centres must be strictly ascending"
    );
    match centres {
        [] => Vec::new(),
        [only] => vec![only - 0.5, only + 0.5],
        [first, second, ..] => {
            let n = centres.len();
            let mut edges = Vec::with_capacity(n + 1);
            edges.push(first - 0.5 * (second - first));
            for pair in centres.windows(2) {
                edges.push(0.5 * (pair[0] + pair[1]));
            }
            let last = centres[n - 1];
            let before_last = centres[n - 2];
            edges.push(last + 0.5 * (last - before_last));
            edges
        }
    }
}

/// Returns the integers in `[low, high]`, ascending, for ticks at powers of ten on a log10 axis.
pub fn integer_ticks(low: f64, high: f64) -> Vec<f64> {
    if !(low.is_finite() && high.is_finite()) || low > high {
        return Vec::new();
    }
    let first = low.ceil() as i64;
    let last = high.floor() as i64;
    (first..=last).map(|power| power as f64).collect()
}

/// Returns the multiples of the smallest stride `k >= 1` in `[low, high]` that give at most
/// `max_ticks` ticks, ascending.
///
/// The ticks are integer powers of ten on a log10 axis. Thinning by multiples keeps 0 among
/// the ticks whenever it is in range. `max_ticks = 0` is treated as 1.
pub fn thinned_integer_ticks(low: f64, high: f64, max_ticks: usize) -> Vec<f64> {
    let all = integer_ticks(low, high);
    let max_ticks = max_ticks.max(1);
    let mut stride: i64 = 1;
    loop {
        let kept: Vec<f64> = all
            .iter()
            .copied()
            .filter(|&tick| (tick as i64).rem_euclid(stride) == 0)
            .collect();
        if kept.len() <= max_ticks {
            return kept;
        }
        stride += 1;
    }
}

/// Computes the colour scale range `(min, max)` over the finite values.
///
/// Returns `None` when no value is finite. When all finite values are equal,
/// the range is widened to `value ± max(1% of |value|, 1e-6)` so the scale has
/// a non-zero width and the value maps to the middle of the colour map.
pub fn value_range(values: &[f64]) -> Option<(f64, f64)> {
    let mut finite = values.iter().copied().filter(|v| v.is_finite());
    let first = finite.next()?;
    let (min, max) = finite.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if max > min {
        Some((min, max))
    } else {
        let half_width = (0.01 * min.abs()).max(1e-6);
        Some((min - half_width, min + half_width))
    }
}

/// Returns the viridis colour at position `t`, where 0 is dark purple and 1 is yellow.
///
/// `t` is clamped to [0, 1], and NaN maps to 0.
pub fn viridis(t: f64) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let segments = (VIRIDIS_ANCHORS.len() - 1) as f64;
    let position = t * segments;
    let lower = (position.floor() as usize).min(VIRIDIS_ANCHORS.len() - 2);
    let fraction = position - lower as f64;

    let (r0, g0, b0) = VIRIDIS_ANCHORS[lower];
    let (r1, g1, b1) = VIRIDIS_ANCHORS[lower + 1];
    let mix = |a: u8, b: u8| -> u8 {
        let value = f64::from(a) + fraction * (f64::from(b) - f64::from(a));
        value.round() as u8
    };
    RGBColor(mix(r0, r1), mix(g0, g1), mix(b0, b1))
}

/// Maps `value` onto viridis with `range.0` at the dark end and `range.1` at the bright end.
///
/// Returns `None` for a non-finite value, which figures draw as a blank cell.
/// Values outside the range are clamped to the nearest end.
pub fn value_color(value: f64, range: (f64, f64)) -> Option<RGBColor> {
    if !value.is_finite() {
        return None;
    }
    let (min, max) = range;
    let width = max - min;
    let t = if width > 0.0 {
        (value - min) / width
    } else {
        0.5
    };
    Some(viridis(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(actual: &[f64], expected: &[f64]) {
        assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{actual:?} vs {expected:?}");
        }
    }

    #[test]
    fn cell_edges_uneven_spacing() {
        let edges = cell_edges(&[-2.0, -1.0, 1.0]);
        assert_close(&edges, &[-2.5, -1.5, 0.0, 2.0]);
    }

    #[test]
    fn cell_edges_single_centre() {
        assert_close(&cell_edges(&[0.3]), &[-0.2, 0.8]);
    }

    #[test]
    fn cell_edges_empty() {
        assert!(cell_edges(&[]).is_empty());
    }

    #[test]
    fn distinct_levels_merges_rounding_noise() {
        let levels = distinct_levels(&[1.0, -2.0, 1.0 + 1e-12, f64::NAN, -2.0]);
        assert_close(&levels, &[-2.0, 1.0]);
        assert_eq!(level_index(&levels, 1.0 + 1e-11), Some(1));
        assert_eq!(level_index(&levels, 0.0), None);
    }

    #[test]
    fn integer_ticks_inside_range() {
        assert_close(&integer_ticks(-2.5, 1.0), &[-2.0, -1.0, 0.0, 1.0]);
        assert!(integer_ticks(0.2, 0.8).is_empty());
        assert!(integer_ticks(1.0, -1.0).is_empty());
    }

    #[test]
    fn thinned_ticks_keep_zero() {
        assert_close(
            &thinned_integer_ticks(-4.25, 8.25, 7),
            &[-4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0],
        );
        assert_close(
            &thinned_integer_ticks(-6.5, 6.5, 7),
            &[-6.0, -4.0, -2.0, 0.0, 2.0, 4.0, 6.0],
        );
        assert_close(&thinned_integer_ticks(-1.5, 1.5, 7), &[-1.0, 0.0, 1.0]);
        assert_close(&thinned_integer_ticks(1.0, 7.0, 2), &[3.0, 6.0]);
        assert_eq!(thinned_integer_ticks(0.0, 3.0, 0), vec![0.0]);
    }

    #[test]
    fn value_range_ignores_nan() {
        let range = value_range(&[0.4, f64::NAN, 0.9, 0.1]);
        assert_eq!(range, Some((0.1, 0.9)));
    }

    #[test]
    fn value_range_widens_constant_data() {
        let (min, max) = value_range(&[50.0, 50.0]).unwrap();
        assert!(min < 50.0);
        assert!(max > 50.0);
        assert!((0.5 * (min + max) - 50.0).abs() < 1e-12);
        let (zero_min, zero_max) = value_range(&[0.0]).unwrap();
        assert!(zero_max - zero_min > 0.0);
    }

    #[test]
    fn value_range_all_nan_is_none() {
        assert_eq!(value_range(&[f64::NAN, f64::INFINITY]), None);
        assert_eq!(value_range(&[]), None);
    }

    #[test]
    fn value_color_maps_range_ends_to_map_ends() {
        let data = [12.0, 47.5, 88.0, f64::NAN];
        let range = value_range(&data).unwrap();
        assert_eq!(value_color(12.0, range), Some(RGBColor(68, 1, 84)));
        assert_eq!(value_color(88.0, range), Some(RGBColor(253, 231, 37)));
        assert_eq!(value_color(f64::NAN, range), None);
    }

    #[test]
    fn value_color_clamps_outside_range() {
        assert_eq!(value_color(-5.0, (0.0, 1.0)), Some(viridis(0.0)));
        assert_eq!(value_color(7.0, (0.0, 1.0)), Some(viridis(1.0)));
    }

    #[test]
    fn viridis_interpolates_between_anchors() {
        assert_eq!(viridis(0.5), RGBColor(33, 145, 140));
        // Halfway between the anchors at 0.0 and 0.125.
        assert_eq!(viridis(0.0625), RGBColor(70, 23, 104));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
    }
}
