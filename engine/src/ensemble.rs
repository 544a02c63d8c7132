//! The ensemble detector (opt-in, DESIGN.md §7): NAB's `numenta` detector and ARTime side by side
//! on every record, each calibrated so that its own alert level maps to 0.5, and fused with a
//! refractory period.
//!
//! Why this shape (measured on the 31 NAB files of tests/fixtures/nab; README "Detectors"):
//! - The two fail on different files: HTM misses slow drifts and level shifts and raises bursts of
//!   false alarms on long noisy files; ARTime's output is sparse and precise but misses spikes in
//!   periodic data. Either one's alert is taken.
//! - Their scores mean different things: HTM's final score crosses 0.5 often on noisy data, while
//!   every non-zero ARTime score is already an anomaly decision. So each is calibrated to a common
//!   alert level (`NUMENTA_ALERT`, `ARTIME_ALERT` map to 0.5) instead of taking the raw maximum.
//! - NAB pays for the first detection in a window only and charges every false positive, and an
//!   operator wants one alert per incident: after an alert the ensemble stays quiet, longer after an
//!   HTM alert (HTM's alerts come in bursts) than after an ARTime one.
//! - The quiet period is a share of the series' length, not of the probation: NAB sizes an
//!   incident's window by the length (a tenth of it, shared among the file's incidents), while the
//!   probation stops growing at 750 records. Chosen on the files of up to 4,032 records alone, a
//!   length-scaled quiet period carries over to the long files; a probation-scaled one does not.
//!
//! The four constants are one global setting for every series, chosen on a grid over the 31 files
//! by each setting's score averaged over the settings whose quiet periods lie within 25 % of its
//! own (so a choice at the edge of a cliff, where one swallowed window costs two points, loses), a
//! rule checked by leave-one-category-out cross-validation (bench/tune_ensemble.py).
//! `raw_score` and `anomaly_likelihood` of the result stay HTM's.

use serde::{Deserialize, Serialize};

use crate::artime::{Artime, MIN_RECORDS};
use crate::detector::{Detector, Scores};
use crate::error::{invalid, Error};
use crate::model::StepTrace;

/// HTM's final score at which the ensemble alerts (maps to 0.5).
pub const NUMENTA_ALERT: f64 = 0.9;
/// ARTime's score at which the ensemble alerts (maps to 0.5).
pub const ARTIME_ALERT: f64 = 0.3;
/// Records kept quiet after an HTM alert, as a share of the series' length.
pub const QUIET_AFTER_NUMENTA: f64 = 0.055;
/// Records kept quiet after an ARTime alert, as a share of the series' length.
pub const QUIET_AFTER_ARTIME: f64 = 0.0275;
/// The highest score of a record that does not alert.
pub const BELOW_ALERT: f64 = 0.49;

/// The fused score of one record from the two detectors' scores; `quiet` says whether the record
/// falls in the refractory period of an earlier alert. Returns the score and, if the record alerts,
/// the share of the series' length to stay quiet afterwards.
pub fn fuse(numenta: f64, artime: f64, quiet: bool) -> (f64, Option<f64>) {
    let evidence = (numenta / NUMENTA_ALERT).max(artime / ARTIME_ALERT);
    if quiet || evidence < 1.0 {
        return (BELOW_ALERT * evidence.min(1.0), None);
    }
    let above = |score: f64, alert: f64| if score >= alert { (score - alert) / (1.0 - alert) } else { 0.0 };
    let confidence = above(numenta, NUMENTA_ALERT).max(above(artime, ARTIME_ALERT)).min(1.0);
    let quiet_share = if artime >= ARTIME_ALERT { QUIET_AFTER_ARTIME } else { QUIET_AFTER_NUMENTA };
    (0.5 + 0.5 * confidence, Some(quiet_share))
}

/// HTM (`numenta`) plus ARTime, fused (see the module doc).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ensemble {
    numenta: Detector,
    artime: Artime,
    /// Records (1-based numbers) up to this one are quiet after the last alert; 0 before any.
    quiet_until: u64,
}

impl Ensemble {
    /// `dmin`/`dmax`: the series' range; `length`: its number of records as NAB hands it to every
    /// detector (in a stream: the length whose NAB probation is the detector's). ARTime needs at
    /// least `MIN_RECORDS` for its warm-up, so shorter lengths are raised to that.
    pub fn new(numenta: Detector, dmin: f64, dmax: f64, length: u64) -> Result<Self, Error> {
        if !(dmin.is_finite() && dmax.is_finite()) || dmin > dmax {
            return Err(invalid(format!("the ensemble needs a finite range min <= max, got {dmin} .. {dmax}")));
        }
        let artime = Artime::new(dmin, dmax, length.max(MIN_RECORDS))?;
        Ok(Ensemble { numenta, artime, quiet_until: 0 })
    }

    /// Records handled so far.
    pub fn records_seen(&self) -> u64 {
        self.numenta.records_seen()
    }

    /// Approximate heap bytes of both parts.
    pub fn memory_bytes(&self) -> usize {
        self.numenta.memory_bytes() + self.artime.memory_bytes()
    }

    /// Scores one record: HTM's scores with `anomaly_score` replaced by the ensemble's. A non-finite
    /// value is rejected before anything changes (by HTM's detector, which goes first; a value it
    /// accepts, ARTime accepts too).
    pub fn handle(&mut self, timestamp_s: i64, value: f64, trace: Option<&mut StepTrace>) -> Result<Scores, Error> {
        let mut scores = self.numenta.handle(timestamp_s, value, trace)?;
        let artime = self.artime.handle(value)?;
        let record = self.records_seen();
        let (score, quiet_share) = fuse(scores.anomaly_score, artime, record <= self.quiet_until);
        if let Some(share) = quiet_share {
            self.quiet_until = record + (share * self.artime.n_records() as f64) as u64;
        }
        scores.anomaly_score = score;
        Ok(scores)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_detector_alerts_at_its_own_level() {
        assert_eq!(fuse(NUMENTA_ALERT, 0.0, false), (0.5, Some(QUIET_AFTER_NUMENTA)));
        assert_eq!(fuse(0.0, ARTIME_ALERT, false), (0.5, Some(QUIET_AFTER_ARTIME)));
        assert_eq!(fuse(1.0, 0.0, false).0, 1.0);
        assert_eq!(fuse(0.0, 1.0, false).0, 1.0);
        // both: ARTime's (shorter) quiet period, the higher confidence
        assert_eq!(fuse(1.0, ARTIME_ALERT, false), (1.0, Some(QUIET_AFTER_ARTIME)));
    }

    #[test]
    fn below_the_levels_or_when_quiet_nothing_alerts() {
        let (score, alert) = fuse(NUMENTA_ALERT * 0.5, 0.0, false);
        assert!(alert.is_none() && (score - BELOW_ALERT * 0.5).abs() < 1e-12);
        assert_eq!(fuse(1.0, 1.0, true), (BELOW_ALERT, None));
        assert_eq!(fuse(0.0, 0.0, false), (0.0, None));
    }
}
