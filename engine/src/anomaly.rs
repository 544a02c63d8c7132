//! Per-record anomaly scoring around the likelihood: NuPIC's raw anomaly score (spec/htm.md 2.8, 3.7),
//! NAB's spatial-anomaly rule and the final log-scaled score (2.9).

use serde::{Deserialize, Serialize};

use crate::likelihood::AnomalyLikelihood;

/// Fraction of `active_columns` that are not in `predicted_columns`, rounded to float32 as NuPIC's
/// region output buffer does. Both slices must be sorted ascending. 0 when nothing is active.
pub fn raw_anomaly_score(active_columns: &[u32], predicted_columns: &[u32]) -> f32 {
    if active_columns.is_empty() {
        return 0.0;
    }
    let mut predicted = predicted_columns.iter().peekable();
    let mut hits = 0usize;
    for &column in active_columns {
        while predicted.next_if(|&&p| p < column).is_some() {}
        if predicted.peek() == Some(&&column) {
            hits += 1;
        }
    }
    let active = active_columns.len() as f64;
    ((active - hits as f64) / active) as f32
}

/// NAB's spatial-anomaly rule: a value more than `tolerance` times the seen range above the seen
/// maximum or below the seen minimum is anomalous. Needs two distinct values seen before it fires.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SpatialAnomaly {
    tolerance: f64,
    min_seen: Option<f64>,
    max_seen: Option<f64>,
}

impl SpatialAnomaly {
    /// `tolerance` is the fraction of the seen range allowed outside it (NAB: 0.05).
    pub fn new(tolerance: f64) -> Self {
        SpatialAnomaly { tolerance, min_seen: None, max_seen: None }
    }

    /// Checks `value` against the values seen before it, then adds it to the seen min/max.
    pub fn check_and_update(&mut self, value: f64) -> bool {
        let mut anomalous = false;
        if let (Some(min), Some(max)) = (self.min_seen, self.max_seen) {
            if min != max {
                let margin = (max - min) * self.tolerance;
                anomalous = value > max + margin || value < min - margin;
            }
        }
        if self.max_seen.is_none_or(|max| value > max) {
            self.max_seen = Some(value);
        }
        if self.min_seen.is_none_or(|min| value < min) {
            self.min_seen = Some(value);
        }
        anomalous
    }
}

/// NAB's reported anomaly score: the log-scaled likelihood, or exactly 1.0 on a spatial anomaly.
pub fn final_score(likelihood: f64, spatial_anomaly: bool) -> f64 {
    if spatial_anomaly {
        1.0
    } else {
        AnomalyLikelihood::compute_log_likelihood(likelihood)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_score_counts_unpredicted_active_columns() {
        assert_eq!(raw_anomaly_score(&[], &[1, 2]), 0.0);
        assert_eq!(raw_anomaly_score(&[1, 5, 9, 12], &[]), 1.0);
        assert_eq!(raw_anomaly_score(&[1, 5, 9, 12], &[0, 5, 6, 12, 40]), 0.5);
        assert_eq!(raw_anomaly_score(&[1, 5, 9, 12], &[1, 5, 9, 12]), 0.0);
        let active: Vec<u32> = (0..40).collect();
        assert_eq!(raw_anomaly_score(&active, &[0, 1, 2]), 0.925f32);
    }

    #[test]
    fn spatial_rule_uses_history_only_and_needs_a_range() {
        let mut rule = SpatialAnomaly::new(0.05);
        assert!(!rule.check_and_update(10.0));
        assert!(!rule.check_and_update(1000.0)); // only one distinct value seen before
        assert!(!rule.check_and_update(1049.0)); // within 5 % of the 990 range
        assert!(rule.check_and_update(1200.0));
        assert!(!rule.check_and_update(1200.0)); // the max was updated by the previous call
        assert!(rule.check_and_update(-100.0));
    }

    #[test]
    fn final_score_scales_and_overrides() {
        assert_eq!(final_score(0.5, false), 0.0301029996658834);
        assert_eq!(final_score(1.0, false), 1.0);
        assert_eq!(final_score(0.5, true), 1.0);
    }
}
