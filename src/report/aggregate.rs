//! Seed aggregation: the mean and spread of each metric over the seeds of one cell.

use super::ReportError;
use super::heatmap::Metric;
use super::scale::{distinct_levels, level_index};
use crate::sweep::CellRecord;

/// Mean and sample standard deviation of one metric over the usable seeds of a cell.
///
/// Values are in record units: accuracies and sign consistency are fractions in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeedStats {
    /// Mean over the usable seeds, or NaN when there are none.
    pub mean: f64,
    /// Sample standard deviation (denominator `count - 1`), or NaN when `count < 2`.
    pub std: f64,
    /// Number of seeds that did not diverge and have a finite value of this metric.
    pub count: usize,
}

impl SeedStats {
    /// Computes the statistics of `values`, which must all be finite.
    pub fn from_values(values: &[f64]) -> Self {
        let count = values.len();
        if count == 0 {
            return SeedStats {
                mean: f64::NAN,
                std: f64::NAN,
                count,
            };
        }
        let mean = values.iter().sum::<f64>() / count as f64;
        let std = if count < 2 {
            f64::NAN
        } else {
            // Two passes: the squared deviations from the mean, not E[x^2] - E[x]^2, which
            // cancels badly for accuracies close to each other.
            let squares: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
            (squares / (count - 1) as f64).sqrt()
        };
        SeedStats { mean, std, count }
    }
}

/// The seeds of one (dataset, optimizer, alpha, eta) cell, summarized.
#[derive(Debug, Clone, PartialEq)]
pub struct CellSummary {
    pub dataset: String,
    pub optimizer: String,
    /// Alpha of the first record of the cell; the others match it to [`super::LEVEL_TOLERANCE`] in log10.
    pub alpha: f64,
    /// Eta of the first record of the cell, matched like `alpha`.
    pub eta: f64,
    /// Number of records (seeds) of the cell, diverged or not.
    pub seeds: usize,
    /// Number of records whose `diverged` flag is set.
    pub diverged_seeds: usize,
    /// Number of records that did not diverge and whose `trusted` column is false.
    pub untrusted_seeds: usize,
    pub test_acc: SeedStats,
    pub train_acc: SeedStats,
    pub sign_consistency: SeedStats,
}

impl CellSummary {
    /// Returns the statistics of `metric`, in record units.
    pub fn stats(&self, metric: Metric) -> &SeedStats {
        match metric {
            Metric::TestAccuracy => &self.test_acc,
            Metric::TrainAccuracy => &self.train_acc,
            Metric::SignConsistency => &self.sign_consistency,
        }
    }

    /// Returns true when some seed finished with a result that rounding made untrustworthy.
    pub fn untrusted(&self) -> bool {
        self.untrusted_seeds > 0
    }

    /// Returns true when no seed of the cell finished without diverging.
    pub fn all_diverged(&self) -> bool {
        self.diverged_seeds == self.seeds
    }
}

/// Groups records by (dataset, optimizer, alpha, eta) and summarizes each group over its seeds.
///
/// Alphas and etas are matched by their log10 within [`super::LEVEL_TOLERANCE`]. A diverged
/// record counts towards `seeds` and `diverged_seeds` but not towards any metric. A
/// non-diverged record with a non-finite metric is left out of that metric only. The result
/// is sorted by dataset, optimizer, alpha and eta.
///
/// Fails on an alpha or eta that is not positive and finite.
pub fn aggregate_seeds(records: &[CellRecord]) -> Result<Vec<CellSummary>, ReportError> {
    for record in records {
        check_grid_value("alpha", record.alpha, record)?;
        check_grid_value("eta", record.eta, record)?;
    }
    let log_alphas: Vec<f64> = records.iter().map(|r| r.alpha.log10()).collect();
    let log_etas: Vec<f64> = records.iter().map(|r| r.eta.log10()).collect();
    let alpha_levels = distinct_levels(&log_alphas);
    let eta_levels = distinct_levels(&log_etas);

    // Each group is keyed by (dataset, optimizer, alpha level, eta level) and lists its records.
    let mut groups: std::collections::BTreeMap<(&str, &str, usize, usize), Vec<&CellRecord>> =
        std::collections::BTreeMap::new();
    for (index, record) in records.iter().enumerate() {
        // Every log value was an input of `distinct_levels`, so both lookups succeed.
        let alpha_level =
            level_index(&alpha_levels, log_alphas[index]).expect("alpha level exists");
        let eta_level = level_index(&eta_levels, log_etas[index]).expect("eta level exists");
        let key = (
            record.dataset.as_str(),
            record.optimizer.as_str(),
            alpha_level,
            eta_level,
        );
        groups.entry(key).or_default().push(record);
    }

    Ok(groups
        .into_values()
        .map(|group| summarize(&group))
        .collect())
}

fn summarize(group: &[&CellRecord]) -> CellSummary {
    let first = group[0];
    let usable: Vec<&CellRecord> = group.iter().copied().filter(|r| !r.diverged).collect();
    let stats = |metric: Metric| {
        let values: Vec<f64> = usable
            .iter()
            .map(|r| metric.record_value(r))
            .filter(|v| v.is_finite())
            .collect();
        SeedStats::from_values(&values)
    };
    CellSummary {
        dataset: first.dataset.clone(),
        optimizer: first.optimizer.clone(),
        alpha: first.alpha,
        eta: first.eta,
        seeds: group.len(),
        diverged_seeds: group.len() - usable.len(),
        untrusted_seeds: usable.iter().filter(|r| r.trusted == Some(false)).count(),
        test_acc: stats(Metric::TestAccuracy),
        train_acc: stats(Metric::TrainAccuracy),
        sign_consistency: stats(Metric::SignConsistency),
    }
}

/// Rejects a grid value that has no finite log10.
pub(super) fn check_grid_value(
    name: &'static str,
    value: f64,
    record: &CellRecord,
) -> Result<(), ReportError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ReportError::InvalidGridValue {
            name,
            value,
            optimizer: record.optimizer.clone(),
            seed: record.seed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(optimizer: &str, alpha: f64, eta: f64, seed: u64, test_acc: f64) -> CellRecord {
        CellRecord {
            dataset: "mnist".to_string(),
            optimizer: optimizer.to_string(),
            alpha,
            eta,
            seed,
            steps_run: 10,
            diverged: false,
            diverged_step: None,
            final_loss: 0.1,
            train_acc: test_acc + 0.25,
            test_acc,
            sign_consistency: 1.0 - test_acc,
            rel_change_w0: 0.01,
            rel_change_w1: 0.1,
            lost_update: f64::NAN,
            cancellation: f64::NAN,
            trusted: None,
            backend: "cpu".to_string(),
            precision: "f64".to_string(),
            wall_s: 1.0,
        }
    }

    fn diverged(optimizer: &str, alpha: f64, eta: f64, seed: u64) -> CellRecord {
        CellRecord {
            diverged: true,
            diverged_step: Some(3),
            final_loss: f64::INFINITY,
            train_acc: f64::NAN,
            test_acc: f64::NAN,
            sign_consistency: f64::NAN,
            ..record(optimizer, alpha, eta, seed, 0.0)
        }
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 1e-12,
            "{actual} differs from {expected}"
        );
    }

    /// Three seeds of one cell (one diverged), two of another, one alone, one all diverged.
    fn hand_made() -> Vec<CellRecord> {
        vec![
            record("gd", 1.0, 0.1, 0, 0.5),
            record("gd", 1.0, 0.1, 1, 0.75),
            diverged("gd", 1.0, 0.1, 2),
            record("rmsprop", 1.0, 0.1, 0, 0.25),
            record("rmsprop", 1.0, 0.1, 1, 0.5),
            record("gd", 10.0, 0.1, 0, 0.875),
            diverged("gd", 10.0, 1.0, 0),
            diverged("gd", 10.0, 1.0, 1),
        ]
    }

    #[test]
    fn summaries_sorted_by_key() {
        let summaries = aggregate_seeds(&hand_made()).unwrap();
        let keys: Vec<(&str, f64, f64)> = summaries
            .iter()
            .map(|s| (s.optimizer.as_str(), s.alpha, s.eta))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("gd", 1.0, 0.1),
                ("gd", 10.0, 0.1),
                ("gd", 10.0, 1.0),
                ("rmsprop", 1.0, 0.1)
            ]
        );
    }

    #[test]
    fn mean_and_sample_std() {
        let summaries = aggregate_seeds(&hand_made()).unwrap();
        let gd = &summaries[0];
        assert_eq!(gd.seeds, 3);
        assert_eq!(gd.diverged_seeds, 1);
        assert_eq!(gd.test_acc.count, 2);
        assert_close(gd.test_acc.mean, 0.625);
        // Deviations are +-0.125, so the sample variance is 2 * 0.125^2 / 1.
        assert_close(gd.test_acc.std, 0.125 * 2f64.sqrt());
        assert_close(gd.train_acc.mean, 0.875);
        assert_close(gd.train_acc.std, 0.125 * 2f64.sqrt());
        assert_close(gd.sign_consistency.mean, 0.375);

        let rmsprop = &summaries[3];
        assert_eq!(rmsprop.seeds, 2);
        assert_eq!(rmsprop.diverged_seeds, 0);
        assert_close(rmsprop.test_acc.mean, 0.375);
        assert_close(rmsprop.test_acc.std, 0.125 * 2f64.sqrt());
    }

    #[test]
    fn three_values_sample_std() {
        let stats = SeedStats::from_values(&[0.2, 0.4, 0.9]);
        assert_eq!(stats.count, 3);
        assert_close(stats.mean, 0.5);
        // Squared deviations 0.09 + 0.01 + 0.16 = 0.26, divided by 2.
        assert_close(stats.std, 0.13f64.sqrt());
    }

    #[test]
    fn single_seed_has_no_std() {
        let summaries = aggregate_seeds(&hand_made()).unwrap();
        let single = &summaries[1];
        assert_eq!(single.seeds, 1);
        assert_close(single.test_acc.mean, 0.875);
        assert!(single.test_acc.std.is_nan());
    }

    #[test]
    fn all_diverged_cell_is_nan() {
        let summaries = aggregate_seeds(&hand_made()).unwrap();
        let failed = &summaries[2];
        assert_eq!(failed.seeds, 2);
        assert_eq!(failed.diverged_seeds, 2);
        assert!(failed.all_diverged());
        assert_eq!(failed.test_acc.count, 0);
        assert!(failed.test_acc.mean.is_nan());
        assert!(failed.sign_consistency.std.is_nan());
    }

    #[test]
    fn nan_metric_left_out_of_that_metric() {
        let mut broken = record("gd", 1.0, 0.1, 1, 0.5);
        broken.sign_consistency = f64::NAN;
        let records = [record("gd", 1.0, 0.1, 0, 0.5), broken];
        let summaries = aggregate_seeds(&records).unwrap();
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0].diverged_seeds, 0);
        assert_eq!(summaries[0].sign_consistency.count, 1);
        assert_eq!(summaries[0].test_acc.count, 2);
    }

    #[test]
    fn rounding_noise_in_alpha_merges() {
        let records = [
            record("gd", 1e-3, 0.1, 0, 0.5),
            record("gd", 1e-3 * (1.0 + 1e-13), 0.1, 1, 0.75),
        ];
        let summaries = aggregate_seeds(&records).unwrap();
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0].seeds, 2);
    }

    #[test]
    fn datasets_kept_apart() {
        let mut other = record("gd", 1.0, 0.1, 0, 0.5);
        other.dataset = "cifar10".to_string();
        let records = [record("gd", 1.0, 0.1, 0, 0.5), other];
        let summaries = aggregate_seeds(&records).unwrap();
        assert_eq!(summaries.len(), 2);
        assert_eq!(summaries[0].dataset, "cifar10");
    }

    #[test]
    fn negative_eta_rejected() {
        let records = [record("gd", 1.0, -0.1, 4, 0.5)];
        let error = aggregate_seeds(&records).unwrap_err();
        assert!(matches!(
            error,
            ReportError::InvalidGridValue { name: "eta", .. }
        ));
    }

    #[test]
    fn empty_input_gives_no_summaries() {
        assert!(aggregate_seeds(&[]).unwrap().is_empty());
    }
}
