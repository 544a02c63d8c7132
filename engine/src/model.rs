//! The OPF `TemporalAnomaly` model: encoders → spatial pooler → sequence memory → raw anomaly score,
//! plus the optional SDR classifier for predictions (spec/htm.md 2.3-2.8, 2.12).

use serde::{Deserialize, Serialize};

use crate::anomaly::raw_anomaly_score;
use crate::backtracking_tm::{BacktrackingTm, BacktrackingTmParams};
use crate::classifier::{opf_predictions, opf_region_alpha, SdrClassifier};
use crate::encoders::{DateEncoder, DatePart, Rdse};
use crate::error::{invalid, Error};
use crate::fault;
use crate::sensor::{self, ClassifierInput, FieldValue, Role, SensorEncoder};
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
    TimeOfDay {
        w: u32,
        radius: f64,
    },
    DayOfWeek {
        w: u32,
        radius: f64,
    },
    Weekend {
        w: u32,
    },
    Rdse {
        resolution: f64,
        w: u32,
        n: u32,
        seed: u64,
    },
    /// A multi-field model's encoder (NuPIC's OPF sensor). A model uses either these only, reading
    /// [`HtmModel::run_record`]'s fields, or the ones above, reading `run`'s timestamp and value.
    Field(Box<SensorEncoder>),
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
    Field(SensorEncoder),
}

// One per model: its size does not matter, and a box would add an indirection to every step.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, Serialize, Deserialize)]
enum SequenceMemory {
    Backtracking(BacktrackingTm),
    TemporalMemory(TemporalMemory),
}

impl SequenceMemory {
    fn memory_bytes(&self) -> usize {
        match self {
            SequenceMemory::Backtracking(tm) => tm.memory_bytes(),
            SequenceMemory::TemporalMemory(tm) => tm.memory_bytes(),
        }
    }
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
    fn reset(&mut self) {
        match self {
            SequenceMemory::Backtracking(tm) => tm.reset(),
            SequenceMemory::TemporalMemory(tm) => tm.reset(),
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
    /// Every configured step's predictions, in the classifier's step order (empty without a
    /// classifier or before its first output).
    pub multi_step: Vec<StepPrediction>,
}

/// The classifier's prediction for one horizon.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepPrediction {
    pub steps: u32,
    /// NuPIC's `multiStepBestPredictions[steps]`.
    pub best: f64,
    /// NuPIC's `multiStepPredictions[steps]`: up to 8 (value, probability), most likely first.
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
        let fields: Vec<SensorEncoder> = config
            .encoders
            .iter()
            .filter_map(|e| if let EncoderConfig::Field(f) = e { Some((**f).clone()) } else { None })
            .collect();
        if fields.is_empty() {
            let rdse_count = config.encoders.iter().filter(|e| matches!(e, EncoderConfig::Rdse { .. })).count();
            if rdse_count != 1 {
                return Err(invalid("the model needs exactly one value (RDSE) encoder"));
            }
        } else if fields.len() != config.encoders.len() {
            return Err(invalid("a model's encoders are either all field encoders or none"));
        } else {
            sensor::validate(&fields)?;
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

    /// Approximate heap bytes of the spatial pooler, sequence memory and classifier (capacities).
    pub fn memory_bytes(&self) -> usize {
        self.sp.memory_bytes()
            + self.memory.memory_bytes()
            + self.classifier.as_ref().map_or(0, |(c, _)| c.memory_bytes())
    }

    /// NuPIC's `resetSequenceStates()`: the sequence memory forgets the current sequence, so the next
    /// record predicts nothing (raw score 1) and learns no transition from the records before.
    pub fn reset(&mut self) {
        self.memory.reset();
        self.prev_predicted.clear();
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
        self.run_record(&[FieldValue::Time(timestamp_s), FieldValue::Number(value)], learn, trace)
    }

    /// Runs one record of a multi-field model: `record[i]` is the field that encoders configured with
    /// field index `i` read. (A model built from timestamp/value encoders reads `[Time, Number]`.)
    pub fn run_record(
        &mut self,
        record: &[FieldValue],
        learn: bool,
        trace: Option<&mut StepTrace>,
    ) -> Result<StepOutput, Error> {
        let needed = self.field_count();
        if record.len() < needed {
            return Err(invalid(format!("the record has {} fields, the model reads {needed}", record.len())));
        }
        if let Some(x) = record.iter().find_map(|f| match f {
            FieldValue::Number(x) if x.is_infinite() => Some(*x),
            _ => None,
        }) {
            return Err(invalid(format!("value must be finite, got {x}")));
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = self.step(record, learn, &mut scratch, trace);
        self.scratch = scratch;
        result
    }

    /// How many fields a record must have.
    fn field_count(&self) -> usize {
        self.encoders
            .iter()
            .map(|e| match e {
                Encoder::Date(_) => 1,
                Encoder::Rdse(_) => 2,
                Encoder::Field(f) => f.field as usize + 1,
            })
            .max()
            .unwrap_or(0)
    }

    fn step(
        &mut self,
        record: &[FieldValue],
        learn: bool,
        s: &mut Scratch,
        trace: Option<&mut StepTrace>,
    ) -> Result<StepOutput, Error> {
        s.bits.clear();
        let mut offset = 0u32;
        let mut input: Option<ClassifierInput> = None;
        let mut checked = f64::NAN;
        for enc in &mut self.encoders {
            match enc {
                Encoder::Date(d) => {
                    let FieldValue::Time(t) = record[0] else { return Err(invalid("field 0 must be the timestamp")) };
                    d.encode(t, offset, &mut s.bits).map_err(|e| invalid(e.to_string()))?;
                    offset += d.width();
                }
                Encoder::Rdse(r) => {
                    let FieldValue::Number(value) = record[1] else { return Err(invalid("field 1 must be the value")) };
                    input = r.encode(value, offset, &mut s.bits).map(|b| (b, value));
                    checked = value;
                    offset += r.width();
                }
                Encoder::Field(f) => {
                    if f.role != Role::ClassifierOnly {
                        f.encoder.encode(&record[f.field as usize], learn, offset, &mut s.bits)?;
                        offset += f.encoder.width();
                    }
                }
            }
        }
        if let Some(feeding) = self.classifier_encoder() {
            input = sensor::classifier_input(feeding, record, learn)?;
            checked = input.map_or(f64::NAN, |(_, v)| v);
        }
        s.bits.sort_unstable();
        self.sp.compute(&s.bits, learn, &mut s.columns);
        fault::check(checked);
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

        let mut out = StepOutput { raw_score, bucket: input.map(|(b, _)| b), ..StepOutput::default() };
        if let (Some((classifier, first)), Some((bucket, value))) = (self.classifier.as_mut(), input) {
            self.memory.active_cells(&mut s.cells);
            let result = classifier
                .compute(self.record_num, &s.cells, bucket, value, learn, true)
                .map_err(Error::InvalidParams)?;
            if let Some(result) = result {
                for (steps, probs) in &result.probabilities {
                    let (best, predictions) = opf_predictions(&result.actual_values, probs);
                    if steps == first {
                        out.best_prediction = Some(best);
                        out.predictions.clone_from(&predictions);
                    }
                    out.multi_step.push(StepPrediction { steps: *steps, best, predictions });
                }
            }
        }
        self.record_num += 1;
        Ok(out)
    }

    /// The field encoder that gives the classifier its input: a `classifierOnly` one, else the
    /// predicted field's (None for a timestamp/value model, whose RDSE feeds the classifier).
    fn classifier_encoder(&mut self) -> Option<&mut SensorEncoder> {
        let mut predicted = None;
        for enc in &mut self.encoders {
            if let Encoder::Field(f) = enc {
                match f.role {
                    Role::ClassifierOnly => return Some(f),
                    Role::Predicted => predicted = Some(f),
                    Role::Input => {}
                }
            }
        }
        predicted
    }
}

impl Encoder {
    fn width(&self) -> u32 {
        match self {
            Encoder::Date(d) => d.width(),
            Encoder::Rdse(r) => r.width(),
            Encoder::Field(f) if f.role == Role::ClassifierOnly => 0,
            Encoder::Field(f) => f.encoder.width(),
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
        EncoderConfig::Field(ref f) => {
            if f.encoder.width() > MAX_INPUT_WIDTH {
                return Err(invalid(format!("an encoder is wider than {MAX_INPUT_WIDTH} bits")));
            }
            return Ok(Encoder::Field((**f).clone()));
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
    use crate::sensor::FieldEncoder;

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

    fn periodic(model: &mut HtmModel, records: std::ops::Range<i64>) -> Vec<f32> {
        records.map(|i| model.run(i * 300, (i % 7) as f64 * 10.0, true, None).unwrap().raw_score).collect()
    }

    #[test]
    fn reset_forgets_the_sequence_and_survives_save_and_load() {
        let mut model = HtmModel::new(config()).unwrap();
        let learned = periodic(&mut model, 0..600);
        assert!(learned[590..].iter().all(|&s| s < 0.5), "the period is learned: {:?}", &learned[590..]);
        model.reset();
        let mut copy: HtmModel = crate::state::decode(
            crate::state::StateKind::Model,
            &crate::state::encode(crate::state::StateKind::Model, &model),
        )
        .unwrap();
        let after = periodic(&mut model, 600..620);
        assert_eq!(after[0], 1.0, "nothing is predicted right after a reset");
        assert_eq!(periodic(&mut copy, 600..620), after, "a pending reset is part of the saved state");
    }

    #[test]
    fn field_encoders_feed_the_classifier_from_the_classifier_only_encoder() {
        use crate::encoders::{NupicScalarEncoder, ScalarParams};
        let scalar = |n| {
            let mut p = ScalarParams::new(21, 0.0, 100.0);
            p.n = n;
            p.clip_input = true;
            FieldEncoder::Scalar(NupicScalarEncoder::new(&p).unwrap())
        };
        let field = |field, role, encoder| EncoderConfig::Field(Box::new(SensorEncoder { field, role, encoder }));
        let mut c = config();
        c.encoders = vec![
            field(1, Role::ClassifierOnly, scalar(115)),
            field(0, Role::Input, FieldEncoder::Date(DateEncoder::new(DatePart::TimeOfDay { w: 21, radius: 9.49 }))),
            field(1, Role::Predicted, scalar(60)),
        ];
        c.classifier = Some(ClassifierConfig { steps: vec![1, 5], alpha: 0.035, act_value_alpha: 0.3 });
        let mut model = HtmModel::new(c).unwrap();
        let record = |i: i64| [FieldValue::Time(i * 3600), FieldValue::Number(42.0)];
        let out = model.run_record(&record(0), true, None).unwrap();
        // Bucket of 42 in the n=115 encoder (94 buckets over [0, 100]), not the n=60 one.
        assert_eq!(out.bucket, Some(39));
        assert_eq!(out.multi_step.iter().map(|p| p.steps).collect::<Vec<_>>(), vec![1, 5]);
        assert_eq!(out.best_prediction, Some(42.0));
        let missing = model.run_record(&[FieldValue::Time(3600), FieldValue::Missing], true, None).unwrap();
        assert_eq!(missing.bucket, None);
        assert!(model.run_record(&[FieldValue::Time(7200)], true, None).is_err(), "a field is missing");
        let text = [FieldValue::Time(7200), FieldValue::Text("x".into())];
        assert!(model.run_record(&text, true, None).is_err(), "a scalar field holds text");
        assert_eq!(model.record_num(), 2, "refused records change nothing");
    }
}
