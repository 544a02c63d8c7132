//! The OPF `TemporalAnomaly` model: encoders → spatial pooler → sequence memory → raw anomaly score,
//! plus the optional SDR classifier for predictions (spec/htm.md 2.3-2.8, 2.12).

use serde::{Deserialize, Serialize};

use crate::anomaly::raw_anomaly_score;
use crate::backtracking_tm::{BacktrackingTm, BacktrackingTmParams};
use crate::classifier::{opf_predictions, opf_region_alpha, SdrClassifier};
use crate::encoders::{DateEncoder, DatePart, Rdse};
use crate::spatial_pooler::{SpParams, SpatialPooler};
use crate::temporal_memory::{TemporalMemory, TemporalMemoryParams};

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
    pub fn new(config: ModelConfig) -> Result<Self, String> {
        if config.encoders.is_empty() {
            return Err("the model needs at least one encoder".into());
        }
        let mut width = 0u32;
        let mut encoders = Vec::with_capacity(config.encoders.len());
        for enc in &config.encoders {
            let e = match *enc {
                EncoderConfig::TimeOfDay { w, radius } => Encoder::Date(DateEncoder::new(DatePart::TimeOfDay { w, radius })),
                EncoderConfig::DayOfWeek { w, radius } => Encoder::Date(DateEncoder::new(DatePart::DayOfWeek { w, radius })),
                EncoderConfig::Weekend { w } => Encoder::Date(DateEncoder::new(DatePart::Weekend { w })),
                EncoderConfig::Rdse { resolution, w, n, seed } => {
                    if !(resolution > 0.0) || !resolution.is_finite() {
                        return Err(format!("RDSE resolution must be a positive number, got {resolution}"));
                    }
                    if w == 0 || n <= w {
                        return Err(format!("RDSE needs 0 < w < n, got w={w} n={n}"));
                    }
                    Encoder::Rdse(Rdse::new(resolution, w, n, seed))
                }
            };
            width += match &e {
                Encoder::Date(d) => d.width(),
                Encoder::Rdse(r) => r.width(),
            };
            encoders.push(e);
        }
        if encoders.iter().filter(|e| matches!(e, Encoder::Rdse(_))).count() != 1 {
            return Err("the model needs exactly one value (RDSE) encoder".into());
        }
        let mut sp_params = config.sp;
        sp_params.input_width = width;
        sp_params.potential_radius = width;
        let sp = SpatialPooler::new(sp_params)?;
        let memory = match config.sequence_memory {
            SequenceMemoryConfig::Backtracking(p) => SequenceMemory::Backtracking(BacktrackingTm::new(p)?),
            SequenceMemoryConfig::TemporalMemory(p) => SequenceMemory::TemporalMemory(TemporalMemory::new(p)?),
        };
        let classifier = match config.classifier {
            None => None,
            Some(c) => {
                let first = *c.steps.first().ok_or("classifier steps must not be empty")?;
                // The OPF hands region parameters over as text, so the classifier learns with alpha
                // rounded to 6 significant digits; reproduce that for NuPIC's predictions.
                Some((SdrClassifier::new(c.steps, opf_region_alpha(c.alpha), c.act_value_alpha)?, first))
            }
        };
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
    pub fn run(&mut self, timestamp_s: i64, value: f64, learn: bool, trace: Option<&mut StepTrace>) -> Result<StepOutput, String> {
        if value.is_infinite() {
            return Err(format!("value must be finite, got {value}"));
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = self.step(timestamp_s, value, learn, &mut scratch, trace);
        self.scratch = scratch;
        result
    }

    fn step(&mut self, timestamp_s: i64, value: f64, learn: bool, s: &mut Scratch, trace: Option<&mut StepTrace>) -> Result<StepOutput, String> {
        s.bits.clear();
        let mut offset = 0u32;
        let mut bucket = None;
        for enc in &mut self.encoders {
            match enc {
                Encoder::Date(d) => {
                    d.encode(timestamp_s, offset, &mut s.bits).map_err(|e| e.to_string())?;
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
            if let Some(result) = classifier.compute(self.record_num, &s.cells, b, value, learn, true)? {
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
