//! The `influxhtm._engine` extension module, and the only part of the crate that knows Python.
//!
//! - Configuration arrives typed: `ModelConfig(encoders=[...], sp={...}, sequence_memory={...})`
//!   takes plain dicts that PyO3 extracts key by key into the core's structs (a missing or
//!   ill-typed key is named in the error); `LikelihoodParams(...)` takes keyword arguments. The
//!   engine then validates the values.
//! - Results leave as frozen classes with named, read-only attributes: `StepResult`,
//!   `DetectorScores`, `StepTrace`.
//! - Errors map onto one hierarchy: `EngineError` with `InvalidParams` and `CorruptState` (both also
//!   `ValueError`s, as every error of the old binding was) and `EnginePanic`.
//! - Every engine call runs without the GIL inside `catch_unwind`: a panic becomes `EnginePanic` and
//!   poisons the object it happened in, which then refuses further work (it may be half-updated).
//!
//! `influxhtm/_engine.pyi` describes this module for type checkers; keep the two in step.

// pyo3 0.22's #[pymethods] expansion converts every PyResult into itself, which clippy reports on
// the methods' return types.
#![allow(clippy::useless_conversion)]

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{PyBytes, PyDict, PyInt, PyString, PyTuple, PyType};

use crate::backtracking_tm::BacktrackingTmParams;
use crate::detector::{Detector as CoreDetector, Scores};
use crate::encoders::{
    AdaptiveScalarEncoder, CategoryEncoder, DateEncoder, DatePart, DeltaEncoder, LogEncoder, NupicScalarEncoder, Rdse,
    ScalarParams, SdrCategoryEncoder,
};
use crate::ensemble::{self, Ensemble};
use crate::error::Error;
use crate::fault;
use crate::likelihood::{AnomalyLikelihood, Tail};
use crate::model::{
    ClassifierConfig, EncoderConfig, HtmModel, ModelConfig as CoreModelConfig, SequenceMemoryConfig, StepOutput,
    StepTrace as CoreStepTrace,
};
use crate::sensor::{FieldEncoder, FieldValue, Role, SensorEncoder};
use crate::spatial_pooler::SpParams;
use crate::state::{self, StateKind};
use crate::temporal_memory::TemporalMemoryParams;

mod artime;
mod encoders;

const MODULE: &str = "influxhtm._engine";

// ---- exceptions ---------------------------------------------------------------------------------

/// The classes `create_exception!` makes. (pyo3 0.22's macro tests a `gil-refs` feature of the
/// calling crate, which rustc's cfg check does not know; hence the allow.)
#[allow(unexpected_cfgs)]
mod exceptions {
    use pyo3::create_exception;
    use pyo3::exceptions::PyException;

    create_exception!(influxhtm._engine, EngineError, PyException, "Base class of every error the HTM engine raises.");
    create_exception!(
        influxhtm._engine,
        EnginePanic,
        EngineError,
        "An internal engine panic, caught at the boundary. The object it happened in is poisoned: \
         every later call on it raises EnginePanic too."
    );
}

use exceptions::{EngineError, EnginePanic};

/// An exception class with two bases, `EngineError` and `ValueError`. `create_exception!` takes one
/// base; the second keeps callers written against the old binding, which caught `ValueError`, working.
struct ValueErrorClass {
    name: &'static str,
    doc: &'static str,
    class: GILOnceCell<Py<PyType>>,
}

impl ValueErrorClass {
    const fn new(name: &'static str, doc: &'static str) -> Self {
        ValueErrorClass { name, doc, class: GILOnceCell::new() }
    }

    fn type_object<'py>(&self, py: Python<'py>) -> PyResult<&Bound<'py, PyType>> {
        let class = self.class.get_or_try_init(py, || -> PyResult<_> {
            let bases =
                PyTuple::new_bound(py, [py.get_type_bound::<EngineError>(), py.get_type_bound::<PyValueError>()]);
            let namespace = PyDict::new_bound(py);
            namespace.set_item("__module__", MODULE)?;
            namespace.set_item("__doc__", self.doc)?;
            let class = py.get_type_bound::<PyType>().call1((self.name, bases, namespace))?;
            Ok(class.downcast_into::<PyType>()?.unbind())
        })?;
        Ok(class.bind(py))
    }

    fn err(&self, py: Python<'_>, message: String) -> PyErr {
        match self.type_object(py) {
            Ok(class) => PyErr::from_type_bound(class.clone(), message),
            Err(e) => e,
        }
    }
}

static INVALID_PARAMS: ValueErrorClass = ValueErrorClass::new(
    "InvalidParams",
    "A configuration value or an input the engine cannot use. Also a ValueError.",
);
static CORRUPT_STATE: ValueErrorClass = ValueErrorClass::new(
    "CorruptState",
    "A state blob that is not an engine state, is damaged, or has an unsupported (e.g. newer) \
     format version. Also a ValueError.",
);

fn invalid_params(py: Python<'_>, message: String) -> PyErr {
    INVALID_PARAMS.err(py, message)
}

fn engine_error(py: Python<'_>, error: Error) -> PyErr {
    match error {
        Error::InvalidParams(m) => INVALID_PARAMS.err(py, m),
        Error::CorruptState(m) => CORRUPT_STATE.err(py, m),
    }
}

/// The text of a panic payload (`panic!` with a literal or with format arguments).
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_owned()
    }
}

/// Runs `work` without the GIL; a panic becomes `EnginePanic` (for work that changes nothing Python
/// can see afterwards: construction, loading, reading).
fn unguarded<R: Send>(py: Python<'_>, work: impl FnOnce() -> R + Send) -> PyResult<R> {
    py.allow_threads(|| panic::catch_unwind(AssertUnwindSafe(work)))
        .map_err(|payload| EnginePanic::new_err(format!("engine panic: {}", panic_message(&*payload))))
}

/// An engine object and, once a call into it panicked, that panic's message. A poisoned object
/// refuses every further call: the panic may have left it half-updated.
struct Guarded<T> {
    value: T,
    poisoned: Option<String>,
}

impl<T: Send + Sync> Guarded<T> {
    fn new(value: T) -> Self {
        Guarded { value, poisoned: None }
    }

    fn check(&self) -> PyResult<()> {
        match &self.poisoned {
            None => Ok(()),
            Some(message) => Err(EnginePanic::new_err(format!(
                "model is poisoned by an earlier engine panic ({message}); load it again from a \
                 checkpoint or create a new one"
            ))),
        }
    }

    /// Runs `work` on the object without the GIL; a panic poisons the object and becomes
    /// `EnginePanic`. `describe` turns the panic message into the exception's message.
    fn update<R: Send>(
        &mut self,
        py: Python<'_>,
        work: impl FnOnce(&mut T) -> R + Send,
        describe: impl FnOnce(&str) -> String,
    ) -> PyResult<R> {
        self.check()?;
        let value = &mut self.value;
        py.allow_threads(|| panic::catch_unwind(AssertUnwindSafe(|| work(value)))).map_err(|payload| {
            let message = panic_message(&*payload);
            let err = EnginePanic::new_err(describe(&message));
            self.poisoned = Some(message);
            err
        })
    }

    /// Runs `step` on each item in turn (without the GIL for the whole batch), stopping at the first
    /// error, which then names the item's index; the items before it stay applied. A panic poisons
    /// the object and names the item it happened at.
    fn update_each<I: Send, R: Send>(
        &mut self,
        py: Python<'_>,
        items: Vec<I>,
        step: impl Fn(&mut T, I) -> Result<R, Error> + Send + Sync,
    ) -> PyResult<Vec<R>> {
        let total = items.len();
        let done = AtomicUsize::new(0);
        let result = self.update(
            py,
            |value| {
                let mut out = Vec::with_capacity(total);
                for item in items {
                    out.push(step(value, item)?);
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(out)
            },
            |message| format!("engine panic at record {} of {total}: {message}", done.load(Ordering::Relaxed)),
        )?;
        result.map_err(|e| engine_error(py, prefix_record(e, done.into_inner())))
    }

    /// Runs a read-only `work` without the GIL; a panic becomes `EnginePanic` (the object is
    /// unchanged, so it is not poisoned).
    fn read<R: Send>(&self, py: Python<'_>, work: impl FnOnce(&T) -> R + Send) -> PyResult<R> {
        self.check()?;
        let value = &self.value;
        unguarded(py, || work(value))
    }
}

fn engine_panic(message: &str) -> String {
    format!("engine panic: {message}")
}

// ---- configuration ------------------------------------------------------------------------------

/// The `sp` dict of `ModelConfig` (the input width is the encoders' total width).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct SpatialPoolerParams {
    column_count: u32,
    potential_pct: f64,
    global_inhibition: bool,
    num_active_columns_per_inh_area: u32,
    stimulus_threshold: u32,
    syn_perm_active_inc: f64,
    syn_perm_inactive_dec: f64,
    syn_perm_connected: f64,
    min_pct_overlap_duty_cycle: f64,
    duty_cycle_period: u32,
    boost_strength: f64,
    seed: u64,
    wrap_around: bool,
}

impl From<SpatialPoolerParams> for SpParams {
    fn from(p: SpatialPoolerParams) -> Self {
        SpParams {
            input_width: 0,
            column_count: p.column_count,
            potential_radius: 0,
            potential_pct: p.potential_pct,
            global_inhibition: p.global_inhibition,
            num_active_columns_per_inh_area: p.num_active_columns_per_inh_area,
            stimulus_threshold: p.stimulus_threshold,
            syn_perm_active_inc: p.syn_perm_active_inc,
            syn_perm_inactive_dec: p.syn_perm_inactive_dec,
            syn_perm_connected: p.syn_perm_connected,
            min_pct_overlap_duty_cycle: p.min_pct_overlap_duty_cycle,
            duty_cycle_period: p.duty_cycle_period,
            boost_strength: p.boost_strength,
            seed: p.seed,
            wrap_around: p.wrap_around,
        }
    }
}

/// The `sequence_memory` dict of `ModelConfig` with `type = "backtracking"`.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct BacktrackingParams {
    number_of_cols: u32,
    cells_per_column: u32,
    activation_threshold: u32,
    min_threshold: u32,
    new_synapse_count: u32,
    initial_perm: f32,
    connected_perm: f32,
    permanence_inc: f32,
    permanence_dec: f32,
    permanence_max: f32,
    global_decay: f32,
    max_age: u32,
    max_segments_per_cell: u32,
    max_synapses_per_segment: u32,
    pam_length: u32,
    max_inf_backtrack: u32,
    max_lrn_backtrack: u32,
    max_seq_length: u32,
    seed: u64,
}

impl From<BacktrackingParams> for BacktrackingTmParams {
    fn from(p: BacktrackingParams) -> Self {
        BacktrackingTmParams {
            number_of_cols: p.number_of_cols,
            cells_per_column: p.cells_per_column,
            activation_threshold: p.activation_threshold,
            min_threshold: p.min_threshold,
            new_synapse_count: p.new_synapse_count,
            initial_perm: p.initial_perm,
            connected_perm: p.connected_perm,
            permanence_inc: p.permanence_inc,
            permanence_dec: p.permanence_dec,
            permanence_max: p.permanence_max,
            global_decay: p.global_decay,
            max_age: p.max_age,
            max_segments_per_cell: p.max_segments_per_cell,
            max_synapses_per_segment: p.max_synapses_per_segment,
            pam_length: p.pam_length,
            max_inf_backtrack: p.max_inf_backtrack,
            max_lrn_backtrack: p.max_lrn_backtrack,
            max_seq_length: p.max_seq_length,
            seed: p.seed,
        }
    }
}

/// The `sequence_memory` dict of `ModelConfig` with `type = "temporal_memory"`.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct TemporalMemoryArgs {
    column_count: u32,
    cells_per_column: u32,
    activation_threshold: u32,
    min_threshold: u32,
    max_new_synapse_count: u32,
    initial_permanence: f32,
    connected_permanence: f32,
    permanence_increment: f32,
    permanence_decrement: f32,
    predicted_segment_decrement: f32,
    max_segments_per_cell: u32,
    max_synapses_per_segment: u32,
    seed: u64,
}

impl From<TemporalMemoryArgs> for TemporalMemoryParams {
    fn from(p: TemporalMemoryArgs) -> Self {
        TemporalMemoryParams {
            column_count: p.column_count,
            cells_per_column: p.cells_per_column,
            activation_threshold: p.activation_threshold,
            min_threshold: p.min_threshold,
            max_new_synapse_count: p.max_new_synapse_count,
            initial_permanence: p.initial_permanence,
            connected_permanence: p.connected_permanence,
            permanence_increment: p.permanence_increment,
            permanence_decrement: p.permanence_decrement,
            predicted_segment_decrement: p.predicted_segment_decrement,
            max_segments_per_cell: p.max_segments_per_cell,
            max_synapses_per_segment: p.max_synapses_per_segment,
            seed: p.seed,
        }
    }
}

/// The `classifier` dict of `ModelConfig`.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct ClassifierParams {
    steps: Vec<u32>,
    alpha: f64,
    act_value_alpha: f64,
}

#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct DateParams {
    w: u32,
    radius: f64,
}

#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct WeekendParams {
    w: u32,
}

#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct RdseParams {
    resolution: f64,
    w: u32,
    n: u32,
    seed: u64,
}

/// The full text of an extraction error, with its causes (PyO3 names the struct field outside and
/// puts the Python error, e.g. "can't convert negative int to unsigned", in the cause).
fn describe(py: Python<'_>, err: &PyErr) -> String {
    let mut text = err.to_string();
    let mut cause = err.cause(py);
    while let Some(c) = cause {
        text.push_str(&format!(" ({c})"));
        cause = c.cause(py);
    }
    text
}

/// Extracts `T` from `value`; a failure is `InvalidParams` naming `what`.
fn extract<'py, T: FromPyObject<'py>>(what: &str, value: &Bound<'py, PyAny>) -> PyResult<T> {
    value.extract().map_err(|e| invalid_params(value.py(), format!("{what}: {}", describe(value.py(), &e))))
}

/// The `type` key of a tagged dict.
fn tag(what: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    let missing = || invalid_params(value.py(), format!("{what} must be a dict with a 'type' key"));
    let item = value.get_item("type").map_err(|_| missing())?;
    extract(&format!("{what} 'type'"), &item)
}

/// One field of `Model.run_record`'s record.
fn field_value(index: usize, value: &Bound<'_, PyAny>) -> PyResult<FieldValue> {
    if value.is_none() {
        Ok(FieldValue::Missing)
    } else if let Ok(s) = value.downcast::<PyString>() {
        Ok(FieldValue::Text(s.to_cow()?.into_owned()))
    } else if value.is_instance_of::<PyInt>() {
        Ok(FieldValue::Time(extract(&format!("record[{index}]"), value)?))
    } else {
        Ok(FieldValue::Number(extract(&format!("record[{index}]"), value)?))
    }
}

/// A multi-field model's encoder: `{"type": "field", "field": i, "role": "input" | "predicted" |
/// "classifier_only", "encoder": e}` where `e` is a NuPIC encoder object or a date/RDSE dict.
fn field_encoder_config(what: &str, value: &Bound<'_, PyAny>) -> PyResult<EncoderConfig> {
    let py = value.py();
    let item = |key: &str| {
        value.get_item(key).map_err(|_| invalid_params(py, format!("{what}: a field encoder needs '{key}'")))
    };
    let field: u32 = extract(&format!("{what} 'field'"), &item("field")?)?;
    let role = match extract::<String>(&format!("{what} 'role'"), &item("role")?)?.as_str() {
        "input" => Role::Input,
        "predicted" => Role::Predicted,
        "classifier_only" => Role::ClassifierOnly,
        other => {
            return Err(invalid_params(
                py,
                format!("{what}: unknown role '{other}' (input, predicted, classifier_only)"),
            ))
        }
    };
    let encoder = item("encoder")?;
    let encoder = match encoders::field_encoder(&encoder)? {
        Some(e) => e,
        None => match encoder_config(0, &encoder)
            .map_err(|_| invalid_params(py, format!("{what}: 'encoder' is not a NuPIC encoder or an encoder dict")))?
        {
            EncoderConfig::TimeOfDay { w, radius } => date_part(py, DatePart::TimeOfDay { w, radius })?,
            EncoderConfig::DayOfWeek { w, radius } => date_part(py, DatePart::DayOfWeek { w, radius })?,
            EncoderConfig::Weekend { w } => date_part(py, DatePart::Weekend { w })?,
            EncoderConfig::Rdse { resolution, w, n, seed } => FieldEncoder::Rdse(
                Rdse::try_new(resolution, w, n, seed).map_err(|e| invalid_params(py, e.to_string()))?,
            ),
            EncoderConfig::Field(_) => return Err(invalid_params(py, format!("{what}: nested field encoder"))),
        },
    };
    Ok(EncoderConfig::Field(Box::new(SensorEncoder { field, role, encoder })))
}

fn date_part(py: Python<'_>, part: DatePart) -> PyResult<FieldEncoder> {
    DateEncoder::try_new(part).map(FieldEncoder::Date).map_err(|e| invalid_params(py, e.to_string()))
}

fn encoder_config(index: usize, value: &Bound<'_, PyAny>) -> PyResult<EncoderConfig> {
    let what = format!("encoders[{index}]");
    Ok(match tag(&what, value)?.as_str() {
        "field" => field_encoder_config(&what, value)?,
        "time_of_day" => {
            let p: DateParams = extract(&what, value)?;
            EncoderConfig::TimeOfDay { w: p.w, radius: p.radius }
        }
        "day_of_week" => {
            let p: DateParams = extract(&what, value)?;
            EncoderConfig::DayOfWeek { w: p.w, radius: p.radius }
        }
        "weekend" => EncoderConfig::Weekend { w: extract::<WeekendParams>(&what, value)?.w },
        "rdse" => {
            let p: RdseParams = extract(&what, value)?;
            EncoderConfig::Rdse { resolution: p.resolution, w: p.w, n: p.n, seed: p.seed }
        }
        other => {
            return Err(invalid_params(
                value.py(),
                format!(
                    "{what}: unknown encoder type '{other}' (time_of_day, day_of_week, weekend, \
                     rdse, field)"
                ),
            ))
        }
    })
}

fn sequence_memory_config(value: &Bound<'_, PyAny>) -> PyResult<SequenceMemoryConfig> {
    let what = "sequence_memory";
    Ok(match tag(what, value)?.as_str() {
        "backtracking" => SequenceMemoryConfig::Backtracking(extract::<BacktrackingParams>(what, value)?.into()),
        "temporal_memory" => SequenceMemoryConfig::TemporalMemory(extract::<TemporalMemoryArgs>(what, value)?.into()),
        other => {
            return Err(invalid_params(
                value.py(),
                format!("{what}: unknown type '{other}' (backtracking, temporal_memory)"),
            ))
        }
    })
}

/// Everything needed to build a model: encoders, spatial pooler, sequence memory, classifier.
#[pyclass(module = "influxhtm._engine", name = "ModelConfig", frozen)]
struct PyModelConfig {
    inner: CoreModelConfig,
}

#[pymethods]
impl PyModelConfig {
    #[new]
    #[pyo3(signature = (*, encoders, sp, sequence_memory, classifier = None))]
    fn new(
        encoders: Vec<Bound<'_, PyAny>>,
        sp: &Bound<'_, PyAny>,
        sequence_memory: &Bound<'_, PyAny>,
        classifier: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let encoders = encoders.iter().enumerate().map(|(i, e)| encoder_config(i, e)).collect::<PyResult<_>>()?;
        let classifier = classifier
            .map(|c| extract::<ClassifierParams>("classifier", c))
            .transpose()?
            .map(|c| ClassifierConfig { steps: c.steps, alpha: c.alpha, act_value_alpha: c.act_value_alpha });
        Ok(PyModelConfig {
            inner: CoreModelConfig {
                encoders,
                sp: extract::<SpatialPoolerParams>("sp", sp)?.into(),
                sequence_memory: sequence_memory_config(sequence_memory)?,
                classifier,
            },
        })
    }

    fn __repr__(&self) -> String {
        format!("ModelConfig({:?})", self.inner)
    }
}

fn parse_tail(py: Python<'_>, tail: &str) -> PyResult<Tail> {
    match tail {
        "one-sided" => Ok(Tail::OneSided),
        "two-sided" => Ok(Tail::TwoSided),
        other => Err(invalid_params(py, format!("tail must be 'one-sided' or 'two-sided', got '{other}'"))),
    }
}

fn tail_name(tail: Tail) -> &'static str {
    match tail {
        Tail::OneSided => "one-sided",
        Tail::TwoSided => "two-sided",
    }
}

/// NuPIC's AnomalyLikelihood parameters, validated when built.
#[pyclass(module = "influxhtm._engine", frozen)]
#[derive(Clone)]
struct LikelihoodParams {
    #[pyo3(get)]
    learning_period: u32,
    #[pyo3(get)]
    estimation_samples: u32,
    #[pyo3(get)]
    historic_window_size: u32,
    #[pyo3(get)]
    reestimation_period: u32,
    tail: Tail,
}

impl LikelihoodParams {
    fn build(&self) -> Result<AnomalyLikelihood, Error> {
        AnomalyLikelihood::try_new(
            self.learning_period,
            self.estimation_samples,
            self.historic_window_size,
            self.reestimation_period,
            self.tail,
        )
    }
}

#[pymethods]
impl LikelihoodParams {
    #[new]
    #[pyo3(signature = (*, learning_period, estimation_samples, historic_window_size, reestimation_period, tail))]
    fn new(
        py: Python<'_>,
        learning_period: u32,
        estimation_samples: u32,
        historic_window_size: u32,
        reestimation_period: u32,
        tail: &str,
    ) -> PyResult<Self> {
        let params = LikelihoodParams {
            learning_period,
            estimation_samples,
            historic_window_size,
            reestimation_period,
            tail: parse_tail(py, tail)?,
        };
        unguarded(py, || params.build())?.map_err(|e| engine_error(py, e))?;
        Ok(params)
    }

    #[getter]
    fn tail(&self) -> &'static str {
        tail_name(self.tail)
    }

    /// Records answered with 0.5: learning period + estimation samples.
    #[getter]
    fn probation(&self) -> u32 {
        self.learning_period + self.estimation_samples
    }

    fn __repr__(&self) -> String {
        format!(
            "LikelihoodParams(learning_period={}, estimation_samples={}, historic_window_size={}, \
             reestimation_period={}, tail={:?})",
            self.learning_period,
            self.estimation_samples,
            self.historic_window_size,
            self.reestimation_period,
            tail_name(self.tail)
        )
    }
}

// ---- results ------------------------------------------------------------------------------------

/// (steps, best prediction, up to 8 (value, probability) pairs) for one classifier step.
type HorizonPrediction = (u32, f64, Vec<(f64, f64)>);

/// What `Model.run` returns for one record.
#[pyclass(module = "influxhtm._engine", frozen, get_all)]
struct StepResult {
    /// Fraction of active columns that were not predicted (a float32 value).
    raw_score: f32,
    /// RDSE bucket of the value; None for a missing value.
    bucket: Option<u32>,
    /// Best prediction for the first classifier step; None without a classifier.
    best_prediction: Option<f64>,
    /// Up to 8 (value, probability) pairs, most likely first.
    predictions: Vec<(f64, f64)>,
    /// Every classifier step as (steps, best prediction, up to 8 (value, probability) pairs).
    multi_step: Vec<HorizonPrediction>,
}

impl From<StepOutput> for StepResult {
    fn from(step: StepOutput) -> Self {
        StepResult {
            raw_score: step.raw_score,
            bucket: step.bucket,
            best_prediction: step.best_prediction,
            predictions: step.predictions,
            multi_step: step.multi_step.into_iter().map(|p| (p.steps, p.best, p.predictions)).collect(),
        }
    }
}

#[pymethods]
impl StepResult {
    fn __repr__(&self) -> String {
        format!(
            "StepResult(raw_score={}, bucket={:?}, best_prediction={:?}, predictions={:?})",
            self.raw_score, self.bucket, self.best_prediction, self.predictions
        )
    }
}

/// What `Detector.handle` returns for one record (DESIGN.md §4 names).
#[pyclass(module = "influxhtm._engine", frozen, get_all)]
struct DetectorScores {
    raw_score: f32,
    anomaly_likelihood: f64,
    /// NAB's final score (the log-scaled likelihood, 1.0 on a spatial anomaly), or the ensemble's.
    anomaly_score: f64,
    spatial_anomaly: bool,
    best_prediction: Option<f64>,
    bucket: Option<u32>,
}

impl From<Scores> for DetectorScores {
    fn from(s: Scores) -> Self {
        DetectorScores {
            raw_score: s.raw_score,
            anomaly_likelihood: s.likelihood,
            anomaly_score: s.anomaly_score,
            spatial_anomaly: s.spatial_anomaly,
            best_prediction: s.step.best_prediction,
            bucket: s.step.bucket,
        }
    }
}

#[pymethods]
impl DetectorScores {
    fn __repr__(&self) -> String {
        format!(
            "DetectorScores(raw_score={}, anomaly_likelihood={}, anomaly_score={}, \
             spatial_anomaly={}, best_prediction={:?}, bucket={:?})",
            self.raw_score,
            self.anomaly_likelihood,
            self.anomaly_score,
            self.spatial_anomaly,
            self.best_prediction,
            self.bucket
        )
    }
}

/// The internals of one record, for parity debugging (`influxhtm detect --trace`).
#[pyclass(module = "influxhtm._engine", frozen, get_all)]
struct StepTrace {
    encoding: Vec<u32>,
    active_columns: Vec<u32>,
    predicted_columns: Vec<u32>,
    active_cells: Vec<u32>,
    segments: usize,
    synapses: usize,
}

impl From<CoreStepTrace> for StepTrace {
    fn from(t: CoreStepTrace) -> Self {
        StepTrace {
            encoding: t.encoding,
            active_columns: t.active_columns,
            predicted_columns: t.predicted_columns,
            active_cells: t.active_cells,
            segments: t.segments,
            synapses: t.synapses,
        }
    }
}

// ---- engine objects -----------------------------------------------------------------------------

/// A state blob of `kind` holding the Python face's settings and the engine object.
fn save_state<'py, T: serde::Serialize + Send + Sync>(
    py: Python<'py>,
    kind: StateKind,
    settings: &str,
    inner: &Guarded<T>,
) -> PyResult<Bound<'py, PyBytes>> {
    let blob = inner.read(py, |value| state::encode(kind, &(settings, value)))?;
    Ok(PyBytes::new_bound(py, &blob))
}

/// (settings, engine object) from a blob written by [`save_state`] with the same `kind`.
fn load_state<T: serde::de::DeserializeOwned + Send>(
    py: Python<'_>,
    kind: StateKind,
    blob: &[u8],
) -> PyResult<(String, T)> {
    unguarded(py, || state::decode(kind, blob))?.map_err(|e| engine_error(py, e))
}

/// An HTM model (encoders, SP, sequence memory, optional classifier).
#[pyclass(module = "influxhtm._engine")]
struct Model {
    inner: Guarded<HtmModel>,
    /// Opaque text of the Python face (OPF params, inference args), saved with the state.
    settings: String,
}

#[pymethods]
impl Model {
    #[new]
    #[pyo3(signature = (config, settings = String::new()))]
    fn new(py: Python<'_>, config: &PyModelConfig, settings: String) -> PyResult<Self> {
        let config = config.inner.clone();
        let inner = unguarded(py, || HtmModel::new(config))?.map_err(|e| engine_error(py, e))?;
        Ok(Model { inner: Guarded::new(inner), settings })
    }

    #[getter]
    fn settings(&self) -> &str {
        &self.settings
    }

    #[setter]
    fn set_settings(&mut self, settings: String) {
        self.settings = settings;
    }

    /// Runs one record.
    #[pyo3(signature = (timestamp_s, value, learn = true))]
    fn run(&mut self, py: Python<'_>, timestamp_s: i64, value: f64, learn: bool) -> PyResult<StepResult> {
        let step = self.inner.update(py, |model| model.run(timestamp_s, value, learn, None), engine_panic)?;
        step.map(StepResult::from).map_err(|e| engine_error(py, e))
    }

    /// Runs one record of a multi-field model: a list with one entry per field, each a float (a
    /// number), an int (naive wall-clock seconds, for date encoders), a str (a category) or None
    /// (missing). With `trace`, also returns the record's internals.
    #[pyo3(signature = (record, learn = true, trace = false))]
    fn run_record(
        &mut self,
        py: Python<'_>,
        record: Vec<Bound<'_, PyAny>>,
        learn: bool,
        trace: bool,
    ) -> PyResult<(StepResult, Option<StepTrace>)> {
        let record = record.iter().enumerate().map(|(i, v)| field_value(i, v)).collect::<PyResult<Vec<_>>>()?;
        let (step, traced) = self.inner.update(
            py,
            |model| {
                let mut t = CoreStepTrace::default();
                let step = model.run_record(&record, learn, trace.then_some(&mut t));
                (step, trace.then_some(t))
            },
            engine_panic,
        )?;
        let step = step.map_err(|e| engine_error(py, e))?;
        Ok((step.into(), traced.map(StepTrace::from)))
    }

    /// NuPIC's `resetSequenceStates()`: the sequence memory forgets the current sequence.
    fn reset(&mut self, py: Python<'_>) -> PyResult<()> {
        self.inner.update(py, HtmModel::reset, engine_panic)
    }

    #[getter]
    fn record_num(&self) -> u64 {
        self.inner.value.record_num()
    }

    /// The panic message that poisoned this model, or None.
    #[getter]
    fn poisoned(&self) -> Option<&str> {
        self.inner.poisoned.as_deref()
    }

    fn save<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        save_state(py, StateKind::Model, &self.settings, &self.inner)
    }

    #[staticmethod]
    fn load(py: Python<'_>, blob: &[u8]) -> PyResult<Self> {
        let (settings, inner) = load_state(py, StateKind::Model, blob)?;
        Ok(Model { inner: Guarded::new(inner), settings })
    }
}

/// What a `Detector` object runs: NAB's `numenta` detector exactly, or the ensemble around it.
#[derive(Clone)]
enum Scorer {
    Numenta(Box<CoreDetector>),
    Ensemble(Box<Ensemble>),
}

impl Scorer {
    fn handle(&mut self, timestamp_s: i64, value: f64, trace: Option<&mut CoreStepTrace>) -> Result<Scores, Error> {
        match self {
            Scorer::Numenta(d) => d.handle(timestamp_s, value, trace),
            Scorer::Ensemble(e) => e.handle(timestamp_s, value, trace),
        }
    }

    fn records_seen(&self) -> u64 {
        match self {
            Scorer::Numenta(d) => d.records_seen(),
            Scorer::Ensemble(e) => e.records_seen(),
        }
    }

    fn memory_bytes(&self) -> usize {
        match self {
            Scorer::Numenta(d) => d.memory_bytes(),
            Scorer::Ensemble(e) => e.memory_bytes(),
        }
    }

    /// The state blob (a `numenta` detector's format is the one it always had).
    fn save(&self, settings: &str) -> Vec<u8> {
        match self {
            Scorer::Numenta(d) => state::encode(StateKind::Detector, &(settings, &**d)),
            Scorer::Ensemble(e) => state::encode(StateKind::Ensemble, &(settings, &**e)),
        }
    }

    fn load(blob: &[u8]) -> Result<(String, Scorer), Error> {
        if state::stored_kind(blob) == Some(StateKind::Ensemble as u8) {
            let (settings, e) = state::decode(StateKind::Ensemble, blob)?;
            return Ok((settings, Scorer::Ensemble(e)));
        }
        let (settings, d) = state::decode(StateKind::Detector, blob)?;
        Ok((settings, Scorer::Numenta(Box::new(d))))
    }
}

/// A series' detector: NAB's `numenta` (model + likelihood + spatial rule), or with `ensemble`
/// = (min, max, length) the ensemble around it.
#[pyclass(module = "influxhtm._engine")]
struct Detector {
    inner: Guarded<Scorer>,
    /// Opaque text of the Python face (constructor arguments), saved with the state.
    settings: String,
}

#[pymethods]
impl Detector {
    #[new]
    #[pyo3(signature = (config, likelihood, settings = String::new(), ensemble = None))]
    fn new(
        py: Python<'_>,
        config: &PyModelConfig,
        likelihood: &LikelihoodParams,
        settings: String,
        ensemble: Option<(f64, f64, u64)>,
    ) -> PyResult<Self> {
        let config = config.inner.clone();
        let likelihood = likelihood.clone();
        let built = unguarded(py, || -> Result<Scorer, Error> {
            let numenta = CoreDetector::new(HtmModel::new(config)?, likelihood.build()?);
            Ok(match ensemble {
                None => Scorer::Numenta(Box::new(numenta)),
                Some((min, max, length)) => Scorer::Ensemble(Box::new(Ensemble::new(numenta, min, max, length)?)),
            })
        })?;
        Ok(Detector { inner: Guarded::new(built.map_err(|e| engine_error(py, e))?), settings })
    }

    #[getter]
    fn settings(&self) -> &str {
        &self.settings
    }

    #[setter]
    fn set_settings(&mut self, settings: String) {
        self.settings = settings;
    }

    /// Scores one record.
    fn handle(&mut self, py: Python<'_>, timestamp_s: i64, value: f64) -> PyResult<DetectorScores> {
        let scores = self.inner.update(py, |detector| detector.handle(timestamp_s, value, None), engine_panic)?;
        scores.map(DetectorScores::from).map_err(|e| engine_error(py, e))
    }

    /// Like `handle`, plus the model's internals for this record.
    fn handle_traced(&mut self, py: Python<'_>, timestamp_s: i64, value: f64) -> PyResult<(DetectorScores, StepTrace)> {
        let (scores, trace) = self.inner.update(
            py,
            |detector| {
                let mut trace = CoreStepTrace::default();
                let scores = detector.handle(timestamp_s, value, Some(&mut trace));
                (scores, trace)
            },
            engine_panic,
        )?;
        let scores = scores.map_err(|e| engine_error(py, e))?;
        Ok((scores.into(), trace.into()))
    }

    /// Scores many records in one call (no GIL for the whole batch). Stops at the first bad record
    /// with InvalidParams naming its index; records before it stay applied.
    fn handle_many(
        &mut self,
        py: Python<'_>,
        timestamps_s: Vec<i64>,
        values: Vec<f64>,
    ) -> PyResult<Vec<DetectorScores>> {
        if timestamps_s.len() != values.len() {
            return Err(invalid_params(
                py,
                format!("timestamps and values differ in length ({} and {})", timestamps_s.len(), values.len()),
            ));
        }
        let records = timestamps_s.into_iter().zip(values).collect();
        let scores = self.inner.update_each(py, records, |detector, (t, v)| detector.handle(t, v, None))?;
        Ok(scores.into_iter().map(DetectorScores::from).collect())
    }

    #[getter]
    fn records_seen(&self) -> u64 {
        self.inner.value.records_seen()
    }

    /// Approximate heap bytes the detector holds (engine structures' capacities, no allocator overhead).
    #[getter]
    fn memory_bytes(&self) -> usize {
        self.inner.value.memory_bytes()
    }

    /// The panic message that poisoned this detector, or None.
    #[getter]
    fn poisoned(&self) -> Option<&str> {
        self.inner.poisoned.as_deref()
    }

    /// An independent copy, e.g. to save it on another thread while this one goes on learning.
    fn copy(&self, py: Python<'_>) -> PyResult<Self> {
        let inner = self.inner.read(py, |detector| detector.clone())?;
        Ok(Detector { inner: Guarded::new(inner), settings: self.settings.clone() })
    }

    fn save<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let blob = self.inner.read(py, |detector| detector.save(&self.settings))?;
        Ok(PyBytes::new_bound(py, &blob))
    }

    /// Loads a state saved by `save` (either detector).
    #[staticmethod]
    fn load(py: Python<'_>, blob: &[u8]) -> PyResult<Self> {
        let (settings, inner) = unguarded(py, || Scorer::load(blob))?.map_err(|e| engine_error(py, e))?;
        Ok(Detector { inner: Guarded::new(inner), settings })
    }
}

/// `error` with "record {index}: " in front of its message.
fn prefix_record(error: Error, index: usize) -> Error {
    match error {
        Error::InvalidParams(m) => Error::InvalidParams(format!("record {index}: {m}")),
        Error::CorruptState(m) => Error::CorruptState(format!("record {index}: {m}")),
    }
}

/// NuPIC's AnomalyLikelihood on its own.
#[pyclass(module = "influxhtm._engine")]
struct Likelihood {
    inner: Guarded<AnomalyLikelihood>,
}

#[pymethods]
impl Likelihood {
    #[new]
    fn new(py: Python<'_>, params: &LikelihoodParams) -> PyResult<Self> {
        let inner = unguarded(py, || params.build())?.map_err(|e| engine_error(py, e))?;
        Ok(Likelihood { inner: Guarded::new(inner) })
    }

    fn anomaly_probability(&mut self, py: Python<'_>, value: f64, raw_score: f64, timestamp_s: i64) -> PyResult<f64> {
        self.inner.update(py, |likelihood| likelihood.anomaly_probability(value, raw_score, timestamp_s), engine_panic)
    }

    #[staticmethod]
    fn compute_log_likelihood(likelihood: f64) -> f64 {
        AnomalyLikelihood::compute_log_likelihood(likelihood)
    }

    /// The panic message that poisoned this likelihood, or None.
    #[getter]
    fn poisoned(&self) -> Option<&str> {
        self.inner.poisoned.as_deref()
    }

    fn save<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let blob = self.inner.read(py, |likelihood| state::encode(StateKind::Likelihood, likelihood))?;
        Ok(PyBytes::new_bound(py, &blob))
    }

    #[staticmethod]
    fn load(py: Python<'_>, blob: &[u8]) -> PyResult<Self> {
        let inner = unguarded(py, || state::decode(StateKind::Likelihood, blob))?.map_err(|e| engine_error(py, e))?;
        Ok(Likelihood { inner: Guarded::new(inner) })
    }
}

/// TEST ONLY: makes every model step that sees exactly `value` panic half-way (None disarms). It
/// exists to prove that an engine panic stays inside its model; nothing calls it outside tests.
#[pyfunction(name = "_inject_panic_on_value")]
#[pyo3(signature = (value))]
fn inject_panic_on_value(value: Option<f64>) {
    fault::panic_on_value(value);
}

#[pymodule]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<PyModelConfig>()?;
    m.add_class::<LikelihoodParams>()?;
    m.add_class::<Model>()?;
    m.add_class::<Detector>()?;
    m.add_class::<Likelihood>()?;
    m.add_class::<StepResult>()?;
    m.add_class::<DetectorScores>()?;
    m.add_class::<StepTrace>()?;
    encoders::register(m)?;
    artime::register(m)?;
    m.add("EngineError", py.get_type_bound::<EngineError>())?;
    m.add("InvalidParams", INVALID_PARAMS.type_object(py)?)?;
    m.add("CorruptState", CORRUPT_STATE.type_object(py)?)?;
    m.add("EnginePanic", py.get_type_bound::<EnginePanic>())?;
    // setattr, not add_function: the test hook stays out of `__all__`.
    m.setattr("_inject_panic_on_value", wrap_pyfunction!(inject_panic_on_value, m)?)?;
    m.add("STATE_FORMAT_VERSION", state::FORMAT_VERSION)?;
    // scripts/install-engine names the profile it builds with (cargo rebuilds when that changes).
    m.add("PROFILE_GUIDED", option_env!("INFLUXHTM_PGO_PROFILE").is_some())?;
    let settings = PyDict::new_bound(py);
    settings.set_item("numenta_alert", ensemble::NUMENTA_ALERT)?;
    settings.set_item("artime_alert", ensemble::ARTIME_ALERT)?;
    settings.set_item("quiet_after_numenta", ensemble::QUIET_AFTER_NUMENTA)?;
    settings.set_item("quiet_after_artime", ensemble::QUIET_AFTER_ARTIME)?;
    settings.set_item("below_alert", ensemble::BELOW_ALERT)?;
    m.add("ENSEMBLE_SETTINGS", settings)?;
    Ok(())
}
