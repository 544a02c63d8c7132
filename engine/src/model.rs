//! The OPF `TemporalAnomaly` model: encoders → spatial pooler → sequence memory → raw anomaly score,
//! plus the optional SDR classifier for predictions (spec/htm.md 2.3-2.8, 2.12).

use serde::{Deserialize, Serialize};

use crate::anomaly::raw_anomaly_score;
use crate::backtracking_tm::{BacktrackingTm, BacktrackingTmParams};
use crate::classifier::{opf_predictions, opf_region_alpha, SdrClassifier};
use crate::encoders::{DateEncoder, DatePart, Rdse};
use crate::error::{invalid, Error};
use crate::fault;
use crate::spatial_pooler::{SpParams, SpatialPooler};
use crate::temporal_memory::{TemporalMemory, TemporalMemoryParams};

/// The widest encoder output the spatial pooler takes (its input limit); checked before any encoder
/// allocates, so an absurd width is refused instead of allocated.
pub const MAX_INPUT_WIDTH: u32 = 1 << 16;
/// The farthest prediction horizon: the classifier keeps the active cells of that many past records.
pub const MAX_PREDICTION_STEP: u32 = 10_000;

/// One encoder of the sensor, in SP input order (the caller sorts NuPIC's encoder keys).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EncoderConfig {
    TimeOfDay { w: u32, radius: f64 },
    DayOfWeek { w: u32, radius: f64 },
    Weekend { w: u32 },
    Rdse { resolution: f64, w: u32, n: u32, seed: u64 },
}

/// Which sequence memory the model uses.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SequenceMemoryConfig {
    Backtracking(BacktrackingTmParams),
    TemporalMemory(TemporalMemoryParams),
}

/// SDR classifier settings (only when predictions are enabled).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClassifierConfig {
    pub steps: Vec<u32>,
    pub alpha: f64,
    pub act_value_alpha: f64,
}

/// Everything needed to build a model; the Python face derives it from an OPF params dict.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelConfig {
    pub encoders: Vec<EncoderConfig>,
    pub sp: SpParams,
    pub sequence_memory: SequenceMemoryConfig,
    pub classifier: Option<ClassifierConfig>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
enum Encoder {
    Date(DateEncoder),
    Rdse(Rdse),
}

// One per model: its size does not matter, and a box would add an indirection to every step.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, Serialize, Deserialize)]
enum SequenceMemory {
    Backtracking(BacktrackingTm),
    TemporalMemory(TemporalMemory),
}

impl SequenceMemory {
    fn compute(&mut self, columns: &[u32], learn: bool) {
        match self {
            SequenceMemory::Backtracking(tm) => tm.compute(columns, learn),
            SequenceMemory::TemporalMemory(tm) => tm.compute(columns, learn),
        }
    }
    fn predicted_columns(&self, out: &mut Vec<u32>) {
        match self {
            SequenceMemory::Backtracking(tm) => tm.predicted_columns(out),
            SequenceMemory::TemporalMemory(tm) => tm.predicted_columns(out),
        }
    }
    fn active_cells(&self, out: &mut Vec<u32>) {
        match self {
            SequenceMemory::Backtracking(tm) => tm.active_cells(out),
            SequenceMemory::TemporalMemory(tm) => tm.active_cells(out),
        }
    }
    fn size(&self) -> (usize, usize) {
        match self {
            SequenceMemory::Backtracking(tm) => (tm.num_segments(), tm.num_synapses()),
            SequenceMemory::TemporalMemory(tm) => (tm.num_segments(), tm.num_synapses()),
        }
    }
}

/// What one record produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepOutput {
    /// Fraction of active columns that were not predicted (float32, as NuPIC's region output).
    pub raw_score: f32,
    /// RDSE bucket of the value (None for a missing value).
    pub bucket: Option<u32>,
    /// Best prediction for `steps[0]` records ahead, when the classifier is on.
    pub best_prediction: Option<f64>,
    /// Up to 8 (value, probability) pairs for `steps[0]`, most likely first.
    pub predictions: Vec<(f64, f64)>,
}

/// The internals of one record, for parity debugging (`influxhtm detect --trace`).
#[derive(Clone, Debug, Default)]
pub struct StepTrace {
    pub encoding: Vec<u32>,
    pub active_columns: Vec<u32>,
    pub predicted_columns: Vec<u32>,
    pub active_cells: Vec<u32>,
    pub segments: usize,
    pub synapses: usize,
}

/// Per-call working buffers; never serialized (rebuilt empty after load).
#[derive(Clone, Debug, Default)]
struct Scratch {
    bits: Vec<u32>,
    columns: Vec<u32>,
    cells: Vec<u32>,
}

/// NuPIC's HTMPredictionModel in TemporalAnomaly mode.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HtmModel {
    encoders: Vec<Encoder>,
    sp: SpatialPooler,
    memory: SequenceMemory,
    classifier: Option<(SdrClassifier, u32)>,
    /// Predicted columns left by the previous record (used for this record's raw score).
    prev_predicted: Vec<u32>,
    record_num: u64,
    #[serde(skip)]
    scratch: Scratch,
}

impl HtmModel {
    /// Builds a model; invalid configurations are reported, never silently adjusted.
    pub fn new(config: ModelConfig) -> Result<Self, Error> {
        if config.encoders.is_empty() {
            return Err(invalid("the model needs at least one encoder"));
        }
        let rdse_count = config.encoders.iter().filter(|e| matches!(e, EncoderConfig::Rdse { .. })).count();
        if rdse_count != 1 {
            return Err(invalid("the model needs exactly one value (RDSE) encoder"));
        }
        let mut width = 0u32;
        let mut encoders = Vec::with_capacity(config.encoders.len());
        for enc in &config.encoders {
            let e = build_encoder(enc)?;
            width = width.checked_add(e.width()).filter(|&w| w <= MAX_INPUT_WIDTH).ok_or_else(|| {
                invalid(format!("the encoders are wider than the spatial pooler's {MAX_INPUT_WIDTH} input bits"))
            })?;
            encoders.push(e);
        }
        let mut sp_params = config.sp;
        sp_params.input_width = width;
        sp_params.potential_radius = width;
        let columns = sp_params.column_count;
        let sp = SpatialPooler::new(sp_params).map_err(Error::InvalidParams)?;
        let (memory, memory_columns) = match config.sequence_memory {
            SequenceMemoryConfig::Backtracking(p) => {
                let n = p.number_of_cols;
                let tm = BacktrackingTm::new(p).map_err(Error::InvalidParams)?;
                (SequenceMemory::Backtracking(tm), n)
            }
            SequenceMemoryConfig::TemporalMemory(p) => {
                let n = p.column_count;
                let tm = TemporalMemory::new(p).map_err(Error::InvalidParams)?;
                (SequenceMemory::TemporalMemory(tm), n)
            }
        };
        if memory_columns != columns {
            return Err(invalid(format!(
                "the sequence memory has {memory_columns} columns, the spatial pooler {columns}"
            )));
        }
        let classifier = config.classifier.map(build_classifier).transpose()?;
        Ok(HtmModel {
            encoders,
            sp,
            memory,
            classifier,
            prev_predicted: Vec::new(),
            record_num: 0,
            scratch: Scratch::default(),
        })
    }

    /// Number of records run so far (NuPIC's `predictionNumber` of the next result).
    pub fn record_num(&self) -> u64 {
        self.record_num
    }

    /// Runs one record. `timestamp_s` is the naive wall-clock time as seconds since 1970-01-01 00:00:00;
    /// a NaN value encodes as "missing" (no value bits, no classifier update), as in NuPIC.
    pub fn run(
        &mut self,
        timestamp_s: i64,
        value: f64,
        learn: bool,
        trace: Option<&mut StepTrace>,
    ) -> Result<StepOutput, Error> {
        if value.is_infinite() {
            return Err(invalid(format!("value must be finite, got {value}")));
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = self.step(timestamp_s, value, learn, &mut scratch, trace);
        self.scratch = scratch;
        result
    }

    fn step(
        &mut self,
        timestamp_s: i64,
        value: f64,
        learn: bool,
        s: &mut Scratch,
        trace: Option<&mut StepTrace>,
    ) -> Result<StepOutput, Error> {
        s.bits.clear();
        let mut offset = 0u32;
        let mut bucket = None;
        for enc in &mut self.encoders {
            match enc {
                Encoder::Date(d) => {
                    d.encode(timestamp_s, offset, &mut s.bits).map_err(|e| invalid(e.to_string()))?;
                    offset += d.width();
                }
                Encoder::Rdse(r) => {
                    bucket = r.encode(value, offset, &mut s.bits);
                    offset += r.width();
                }
            }
        }
        s.bits.sort_unstable();
        self.sp.compute(&s.bits, learn, &mut s.columns);
        fault::check(value);
        let raw_score = raw_anomaly_score(&s.columns, &self.prev_predicted);
        if let Some(t) = trace {
            t.encoding.clone_from(&s.bits);
            t.active_columns.clone_from(&s.columns);
            t.predicted_columns.clone_from(&self.prev_predicted);
            self.memory.compute(&s.columns, learn);
            self.memory.active_cells(&mut t.active_cells);
            (t.segments, t.synapses) = self.memory.size();
        } else {
            self.memory.compute(&s.columns, learn);
        }
        self.memory.predicted_columns(&mut self.prev_predicted);

        let mut out = StepOutput { raw_score, bucket, ..StepOutput::default() };
        if let (Some((classifier, step)), Some(b)) = (self.classifier.as_mut(), bucket) {
            self.memory.active_cells(&mut s.cells);
            let result =
                classifier.compute(self.record_num, &s.cells, b, value, learn, true).map_err(Error::InvalidParams)?;
            if let Some(result) = result {
                if let Some((_, probs)) = result.probabilities.iter().find(|(k, _)| *k == *step) {
                    let (best, preds) = opf_predictions(&result.actual_values, probs);
                    out.best_prediction = Some(best);
                    out.predictions = preds;
                }
            }
        }
        self.record_num += 1;
        Ok(out)
    }
}

impl Encoder {
    fn width(&self) -> u32 {
        match self {
            Encoder::Date(d) => d.width(),
            Encoder::Rdse(r) => r.width(),
        }
    }
}

/// One encoder from its configuration, or why it cannot be built.
fn build_encoder(config: &EncoderConfig) -> Result<Encoder, Error> {
    let date = |part| DateEncoder::try_new(part).map(Encoder::Date);
    let built = match *config {
        EncoderConfig::TimeOfDay { w, radius } => date(DatePart::TimeOfDay { w, radius }),
        EncoderConfig::DayOfWeek { w, radius } => date(DatePart::DayOfWeek { w, radius }),
        EncoderConfig::Weekend { w } => date(DatePart::Weekend { w }),
        EncoderConfig::Rdse { resolution, w, n, seed } => {
            if n > MAX_INPUT_WIDTH {
                return Err(invalid(format!("RDSE: n must be at most {MAX_INPUT_WIDTH}, got {n}")));
            }
            Rdse::try_new(resolution, w, n, seed).map(Encoder::Rdse)
        }
    };
    built.map_err(|e| invalid(e.to_string()))
}

/// The SDR classifier and its first (reported) step, or why it cannot be built.
fn build_classifier(c: ClassifierConfig) -> Result<(SdrClassifier, u32), Error> {
    let first = *c.steps.first().ok_or_else(|| invalid("classifier steps must not be empty"))?;
    if let Some(&step) = c.steps.iter().find(|&&s| s > MAX_PREDICTION_STEP) {
        return Err(invalid(format!("classifier steps must be at most {MAX_PREDICTION_STEP}, got {step}")));
    }
    // The OPF hands region parameters over as text, so the classifier learns with alpha rounded to
    // 6 significant digits; reproduce that for NuPIC's predictions.
    let classifier =
        SdrClassifier::new(c.steps, opf_region_alpha(c.alpha), c.act_value_alpha).map_err(Error::InvalidParams)?;
    Ok((classifier, first))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ModelConfig {
        ModelConfig {
            encoders: vec![
                EncoderConfig::TimeOfDay { w: 21, radius: 9.49 },
                EncoderConfig::Rdse { resolution: 0.5, w: 21, n: 400, seed: 42 },
            ],
            sp: SpParams::nab(0),
            sequence_memory: SequenceMemoryConfig::Backtracking(BacktrackingTmParams::nab()),
            classifier: Some(ClassifierConfig { steps: vec![1], alpha: 0.035, act_value_alpha: 0.3 }),
        }
    }

    fn rejected(change: impl FnOnce(&mut ModelConfig), words: &str) {
        let mut c = config();
        change(&mut c);
        match HtmModel::new(c) {
            Err(Error::InvalidParams(m)) => assert!(m.contains(words), "{m}"),
            other => panic!("expected InvalidParams with {words:?}, got {:?}", other.err()),
        }
    }

    #[test]
    fn invalid_configurations_are_errors_not_panics() {
        assert!(HtmModel::new(config()).is_ok());
        let rdse = |resolution, w, n| EncoderConfig::Rdse { resolution, w, n, seed: 1 };
        rejected(|c| c.encoders[1] = rdse(0.5, 20, 400), "odd");
        rejected(|c| c.encoders[1] = rdse(0.5, 21, 100), "6 * w");
        rejected(|c| c.encoders[1] = rdse(f64::NAN, 21, 400), "resolution");
        rejected(|c| c.encoders[1] = rdse(0.5, 21, u32::MAX), "at most");
        rejected(|c| c.encoders[0] = EncoderConfig::TimeOfDay { w: 22, radius: 1.0 }, "odd");
        rejected(|c| c.encoders.truncate(1), "exactly one");
        rejected(|c| c.encoders.clear(), "at least one");
        rejected(|c| c.sp.column_count = 1024, "columns");
        rejected(|c| c.classifier.as_mut().unwrap().steps = vec![MAX_PREDICTION_STEP + 1], "at most");
        rejected(|c| c.classifier.as_mut().unwrap().steps.clear(), "empty");
    }

    #[test]
    fn the_injected_fault_panics_inside_the_step_on_its_value_only() {
        const TRIGGER: f64 = 987_654.321_5;
        let mut model = HtmModel::new(config()).unwrap();
        fault::panic_on_value(Some(TRIGGER));
        let before = model.run(0, 1.0, true, None).map(|s| s.raw_score);
        let hit = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.run(60, TRIGGER, true, None)));
        fault::panic_on_value(None);
        assert!(before.is_ok());
        let payload = hit.expect_err("the trigger value panics");
        let message = payload.downcast_ref::<String>().expect("a formatted message");
        assert!(message.contains("injected fault"), "{message}");
        // Disarmed, the same value is an ordinary input.
        assert!(model.run(120, TRIGGER, true, None).is_ok());
    }

    #[test]
    fn an_infinite_value_is_an_error_and_changes_nothing() {
        let mut model = HtmModel::new(config()).unwrap();
        assert!(matches!(model.run(0, f64::INFINITY, true, None), Err(Error::InvalidParams(_))));
        assert_eq!(model.record_num(), 0);
        model.run(0, 1.0, true, None).unwrap();
        assert_eq!(model.record_num(), 1);
    }
}
