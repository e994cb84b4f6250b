//! Grids of alpha and eta values and the cells of a sweep.

use crate::optim::OptimizerKind;

/// Parses a grid of positive values: `START:STOP:COUNT` (COUNT log-spaced values from START
/// to STOP, both included) or a comma-separated list.
///
/// Values whose log10 is an integer are exact powers of ten (parsed from `1eK`), so a grid
/// such as `1e-4:1e4:9` matches the values a user types.
pub fn parse_grid(name: &str, text: &str) -> Result<Vec<f64>, String> {
    let values = if text.contains(':') {
        parse_range(name, text)?
    } else {
        text.split(',')
            .map(|item| parse_value(name, item.trim()))
            .collect::<Result<Vec<f64>, String>>()?
    };
    if values.is_empty() {
        return Err(format!(
            "--{name} is empty: give START:STOP:COUNT or a comma list"
        ));
    }
    for &value in &values {
        if !(value.is_finite() && value > 0.0) {
            return Err(format!(
                "invalid {name} value {value}: every value must be finite and > 0"
            ));
        }
    }
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    if sorted.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(format!("--{name} '{text}' lists a value twice"));
    }
    Ok(values)
}

fn parse_value(name: &str, text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .map_err(|_| format!("invalid {name} value '{text}': expected a number such as 1e-3"))
}

fn parse_range(name: &str, text: &str) -> Result<Vec<f64>, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let [start, stop, count] = parts[..] else {
        return Err(format!(
            "invalid --{name} '{text}': expected START:STOP:COUNT, such as 1e-4:1e4:9"
        ));
    };
    let start = parse_value(name, start.trim())?;
    let stop = parse_value(name, stop.trim())?;
    let count: usize = count.trim().parse().map_err(|_| {
        format!("invalid COUNT '{count}' in --{name} '{text}': expected a positive integer")
    })?;
    if !(start > 0.0 && stop > 0.0 && start.is_finite() && stop.is_finite()) {
        return Err(format!(
            "invalid --{name} '{text}': START and STOP must be finite and > 0 for a log grid"
        ));
    }
    match count {
        0 => Err(format!(
            "invalid --{name} '{text}': COUNT must be at least 1"
        )),
        1 if start != stop => Err(format!(
            "invalid --{name} '{text}': COUNT = 1 needs START = STOP"
        )),
        1 => Ok(vec![start]),
        _ => {
            let (lo, hi) = (start.log10(), stop.log10());
            Ok((0..count)
                .map(|i| {
                    let exponent = lo + (hi - lo) * i as f64 / (count - 1) as f64;
                    power_of_ten(exponent)
                })
                .collect())
        }
    }
}

/// Returns 10^exponent, exactly the decimal power of ten when the exponent is an integer
/// up to rounding of the grid arithmetic.
fn power_of_ten(exponent: f64) -> f64 {
    let rounded = exponent.round();
    if (exponent - rounded).abs() < 1e-9 {
        format!("1e{}", rounded as i64)
            .parse()
            .expect("a valid float literal")
    } else {
        10f64.powf(exponent)
    }
}

/// One cell of a sweep: an optimizer, alpha, eta and seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridCell {
    pub optimizer: OptimizerKind,
    pub alpha: f64,
    pub eta: f64,
    pub seed: u64,
}

/// Lists every cell, ordered by seed, optimizer, alpha, then eta.
pub fn cells(
    optimizers: &[OptimizerKind],
    alphas: &[f64],
    etas: &[f64],
    seeds: &[u64],
) -> Vec<GridCell> {
    let mut cells = Vec::with_capacity(seeds.len() * optimizers.len() * alphas.len() * etas.len());
    for &seed in seeds {
        for &optimizer in optimizers {
            for &alpha in alphas {
                for &eta in etas {
                    cells.push(GridCell {
                        optimizer,
                        alpha,
                        eta,
                        seed,
                    });
                }
            }
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_range_hits_powers_of_ten() {
        let values = parse_grid("alphas", "1e-4:1e4:9").unwrap();
        let expected: Vec<f64> = (-4..=4)
            .map(|k| format!("1e{k}").parse().unwrap())
            .collect();
        assert_eq!(values, expected);
    }

    #[test]
    fn half_decades_are_log_spaced() {
        let values = parse_grid("etas", "1:100:5").unwrap();
        assert_eq!(values[0], 1.0);
        assert_eq!(values[2], 10.0);
        assert!((values[1] - 10f64.sqrt()).abs() < 1e-15);
        assert_eq!(values[4], 100.0);
    }

    #[test]
    fn comma_list_and_single_value() {
        assert_eq!(parse_grid("etas", "0.5, 2").unwrap(), vec![0.5, 2.0]);
        assert_eq!(parse_grid("etas", "3:3:1").unwrap(), vec![3.0]);
    }

    #[test]
    fn bad_grids_name_the_problem() {
        let cases = [
            ("0:1:3", "> 0"),
            ("-1,2", "-1"),
            ("1:10:0", "at least 1"),
            ("1:10:1", "START = STOP"),
            ("1:10", "START:STOP:COUNT"),
            ("1:10:x", "COUNT 'x'"),
            ("abc", "'abc'"),
            ("1,1", "twice"),
        ];
        for (text, fragment) in cases {
            let err = parse_grid("alphas", text).unwrap_err();
            assert!(err.contains(fragment), "{text}: {err}");
        }
    }

    #[test]
    fn cells_are_ordered_seed_first() {
        let list = cells(
            &[OptimizerKind::Gd, OptimizerKind::Rmsprop],
            &[1.0, 2.0],
            &[0.1],
            &[0, 1],
        );
        assert_eq!(list.len(), 8);
        assert_eq!(
            list[0],
            GridCell {
                optimizer: OptimizerKind::Gd,
                alpha: 1.0,
                eta: 0.1,
                seed: 0
            }
        );
        assert_eq!(list[4].seed, 1);
        assert_eq!(list[2].optimizer, OptimizerKind::Rmsprop);
    }
}
