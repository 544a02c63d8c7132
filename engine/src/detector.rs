//! NAB's `numenta` detector: the model's raw score → AnomalyLikelihood → log scaling, with the
//! spatial-anomaly override (spec/htm.md 2.9). One `Detector` per series.

use serde::{Deserialize, Serialize};

use crate::anomaly::{final_score, SpatialAnomaly};
use crate::error::{invalid, Error};
use crate::likelihood::AnomalyLikelihood;
use crate::model::{HtmModel, StepOutput, StepTrace};

/// Loads a detector's likelihood in its compact form.
fn compact_likelihood<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<AnomalyLikelihood, D::Error> {
    let mut likelihood = AnomalyLikelihood::deserialize(deserializer)?;
    likelihood.compact();
    Ok(likelihood)
}

/// NAB's spatial tolerance: 5 % of the range seen so far.
pub const SPATIAL_TOLERANCE: f64 = 0.05;

/// Scores for one record.
#[derive(Clone, Debug, PartialEq)]
pub struct Scores {
    pub raw_score: f32,
    pub likelihood: f64,
    pub anomaly_score: f64,
    pub spatial_anomaly: bool,
    pub step: StepOutput,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Detector {
    model: HtmModel,
    /// Compact (see `AnomalyLikelihood::compact`), also when loaded.
    #[serde(deserialize_with = "compact_likelihood")]
    likelihood: AnomalyLikelihood,
    spatial: SpatialAnomaly,
}

impl Detector {
    pub fn new(model: HtmModel, mut likelihood: AnomalyLikelihood) -> Self {
        likelihood.compact();
        Detector { model, likelihood, spatial: SpatialAnomaly::new(SPATIAL_TOLERANCE) }
    }

    /// Records handled so far.
    pub fn records_seen(&self) -> u64 {
        self.model.record_num()
    }

    /// Approximate heap bytes of the model and the likelihood.
    pub fn memory_bytes(&self) -> usize {
        self.model.memory_bytes() + self.likelihood.memory_bytes()
    }

    /// Scores one record exactly as NAB's `handleRecord` does. Non-finite values are rejected
    /// before anything changes, so a bad record never alters the state.
    pub fn handle(&mut self, timestamp_s: i64, value: f64, trace: Option<&mut StepTrace>) -> Result<Scores, Error> {
        if !value.is_finite() {
            return Err(invalid(format!("value must be a finite number, got {value}")));
        }
        let step = self.model.run(timestamp_s, value, true, trace)?;
        let spatial_anomaly = self.spatial.check_and_update(value);
        let likelihood = self.likelihood.anomaly_probability(value, f64::from(step.raw_score), timestamp_s);
        let anomaly_score = final_score(likelihood, spatial_anomaly);
        Ok(Scores { raw_score: step.raw_score, likelihood, anomaly_score, spatial_anomaly, step })
    }
}
