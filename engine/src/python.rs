//! The `influxhtm._engine` extension module. Thin wrappers: configuration arrives as JSON, results
//! leave as tuples/dicts; every compute call releases the GIL.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::detector::Detector as CoreDetector;
use crate::likelihood::{AnomalyLikelihood, Tail};
use crate::model::{HtmModel, ModelConfig, StepOutput, StepTrace};
use crate::state::{self, StateKind};

fn value_error(message: String) -> PyErr {
    PyValueError::new_err(message)
}

fn parse_config(config_json: &str) -> PyResult<ModelConfig> {
    serde_json::from_str(config_json).map_err(|e| value_error(format!("invalid engine configuration: {e}")))
}

fn parse_tail(tail: &str) -> PyResult<Tail> {
    match tail {
        "one-sided" => Ok(Tail::OneSided),
        "two-sided" => Ok(Tail::TwoSided),
        other => Err(value_error(format!("tail must be 'one-sided' or 'two-sided', got {other:?}"))),
    }
}

/// A state blob of `kind` holding the Python face's settings JSON and the engine object.
fn save_state<'py, T: serde::Serialize + Sync>(py: Python<'py>, kind: StateKind, settings: &str, inner: &T) -> Bound<'py, PyBytes> {
    let blob = py.allow_threads(|| state::encode(kind, &(settings, inner)));
    PyBytes::new_bound(py, &blob)
}

/// (settings, engine object) from a blob written by [`save_state`] with the same `kind`.
fn load_state<T: serde::de::DeserializeOwned + Send>(py: Python<'_>, kind: StateKind, blob: &[u8]) -> PyResult<(String, T)> {
    py.allow_threads(|| state::decode(kind, blob)).map_err(value_error)
}

fn step_tuple(step: StepOutput) -> (f32, Option<u32>, Option<f64>, Vec<(f64, f64)>) {
    (step.raw_score, step.bucket, step.best_prediction, step.predictions)
}

fn trace_dict<'py>(py: Python<'py>, t: &StepTrace) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new_bound(py);
    d.set_item("enc", &t.encoding)?;
    d.set_item("sp", &t.active_columns)?;
    d.set_item("pc", &t.predicted_columns)?;
    d.set_item("ac", &t.active_cells)?;
    d.set_item("segs", t.segments)?;
    d.set_item("syns", t.synapses)?;
    Ok(d)
}

/// An HTM model (encoders, SP, sequence memory, optional classifier) built from a JSON config.
#[pyclass(module = "influxhtm._engine")]
struct Model {
    inner: HtmModel,
    /// Opaque JSON of the Python face (OPF params, inference args), saved with the state.
    settings: String,
}

#[pymethods]
impl Model {
    #[new]
    #[pyo3(signature = (config_json, settings = String::new()))]
    fn new(config_json: &str, settings: String) -> PyResult<Self> {
        Ok(Model { inner: HtmModel::new(parse_config(config_json)?).map_err(value_error)?, settings })
    }

    #[getter]
    fn settings(&self) -> &str {
        &self.settings
    }

    #[setter]
    fn set_settings(&mut self, settings: String) {
        self.settings = settings;
    }

    /// Runs one record: returns (raw_score, bucket, best_prediction, predictions).
    #[pyo3(signature = (timestamp_s, value, learn = true))]
    fn run(&mut self, py: Python<'_>, timestamp_s: i64, value: f64, learn: bool) -> PyResult<(f32, Option<u32>, Option<f64>, Vec<(f64, f64)>)> {
        let inner = &mut self.inner;
        let step = py.allow_threads(|| inner.run(timestamp_s, value, learn, None)).map_err(value_error)?;
        Ok(step_tuple(step))
    }

    #[getter]
    fn record_num(&self) -> u64 {
        self.inner.record_num()
    }

    fn save<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        save_state(py, StateKind::Model, &self.settings, &self.inner)
    }

    #[staticmethod]
    fn load(py: Python<'_>, blob: &[u8]) -> PyResult<Self> {
        let (settings, inner) = load_state(py, StateKind::Model, blob)?;
        Ok(Model { inner, settings })
    }
}

/// NAB's `numenta` detector: model + likelihood + spatial rule.
#[pyclass(module = "influxhtm._engine")]
struct Detector {
    inner: CoreDetector,
    /// Opaque JSON of the Python face (constructor arguments), saved with the state.
    settings: String,
}

#[pymethods]
impl Detector {
    #[new]
    #[pyo3(signature = (config_json, learning_period, estimation_samples, historic_window_size, reestimation_period, tail, settings = String::new()))]
    fn new(config_json: &str, learning_period: u32, estimation_samples: u32, historic_window_size: u32, reestimation_period: u32, tail: &str, settings: String) -> PyResult<Self> {
        let model = HtmModel::new(parse_config(config_json)?).map_err(value_error)?;
        let likelihood = AnomalyLikelihood::new(learning_period, estimation_samples, historic_window_size, reestimation_period, parse_tail(tail)?);
        Ok(Detector { inner: CoreDetector::new(model, likelihood), settings })
    }

    #[getter]
    fn settings(&self) -> &str {
        &self.settings
    }

    #[setter]
    fn set_settings(&mut self, settings: String) {
        self.settings = settings;
    }

    /// Scores one record: (raw_score, likelihood, anomaly_score, spatial_anomaly, best_prediction).
    fn handle(&mut self, py: Python<'_>, timestamp_s: i64, value: f64) -> PyResult<(f32, f64, f64, bool, Option<f64>)> {
        let inner = &mut self.inner;
        let s = py.allow_threads(|| inner.handle(timestamp_s, value, None)).map_err(value_error)?;
        Ok((s.raw_score, s.likelihood, s.anomaly_score, s.spatial_anomaly, s.step.best_prediction))
    }

    /// Like `handle`, plus a dict of internals (`b`, `enc`, `sp`, `pc`, `ac`, `segs`, `syns`) for tracing.
    fn handle_traced<'py>(&mut self, py: Python<'py>, timestamp_s: i64, value: f64) -> PyResult<((f32, f64, f64, bool, Option<f64>), Bound<'py, PyDict>)> {
        let mut trace = StepTrace::default();
        let inner = &mut self.inner;
        let s = py.allow_threads(|| inner.handle(timestamp_s, value, Some(&mut trace))).map_err(value_error)?;
        let d = trace_dict(py, &trace)?;
        d.set_item("b", s.step.bucket)?;
        Ok(((s.raw_score, s.likelihood, s.anomaly_score, s.spatial_anomaly, s.step.best_prediction), d))
    }

    /// Scores many records in one call (no GIL for the whole batch). Stops at the first bad record
    /// with a ValueError naming its index; records before it stay applied.
    fn handle_many(&mut self, py: Python<'_>, timestamps_s: Vec<i64>, values: Vec<f64>) -> PyResult<Vec<(f32, f64, f64, bool, Option<f64>)>> {
        if timestamps_s.len() != values.len() {
            return Err(value_error("timestamps and values differ in length".into()));
        }
        let inner = &mut self.inner;
        py.allow_threads(|| {
            let mut out = Vec::with_capacity(values.len());
            for (i, (&t, &v)) in timestamps_s.iter().zip(&values).enumerate() {
                let s = inner.handle(t, v, None).map_err(|e| format!("record {i}: {e}"))?;
                out.push((s.raw_score, s.likelihood, s.anomaly_score, s.spatial_anomaly, s.step.best_prediction));
            }
            Ok(out)
        })
        .map_err(value_error)
    }

    #[getter]
    fn records_seen(&self) -> u64 {
        self.inner.records_seen()
    }

    /// An independent copy, e.g. to save it on another thread while this one goes on learning.
    fn copy(&self, py: Python<'_>) -> Self {
        let inner = py.allow_threads(|| self.inner.clone());
        Detector { inner, settings: self.settings.clone() }
    }

    fn save<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        save_state(py, StateKind::Detector, &self.settings, &self.inner)
    }

    #[staticmethod]
    fn load(py: Python<'_>, blob: &[u8]) -> PyResult<Self> {
        let (settings, inner) = load_state(py, StateKind::Detector, blob)?;
        Ok(Detector { inner, settings })
    }
}

/// NuPIC's AnomalyLikelihood on its own.
#[pyclass(module = "influxhtm._engine")]
struct Likelihood {
    inner: AnomalyLikelihood,
}

#[pymethods]
impl Likelihood {
    #[new]
    fn new(learning_period: u32, estimation_samples: u32, historic_window_size: u32, reestimation_period: u32, tail: &str) -> PyResult<Self> {
        Ok(Likelihood { inner: AnomalyLikelihood::new(learning_period, estimation_samples, historic_window_size, reestimation_period, parse_tail(tail)?) })
    }

    fn anomaly_probability(&mut self, value: f64, raw_score: f64, timestamp_s: i64) -> f64 {
        self.inner.anomaly_probability(value, raw_score, timestamp_s)
    }

    #[staticmethod]
    fn compute_log_likelihood(likelihood: f64) -> f64 {
        AnomalyLikelihood::compute_log_likelihood(likelihood)
    }

    fn save<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new_bound(py, &state::encode(StateKind::Likelihood, &self.inner))
    }

    #[staticmethod]
    fn load(blob: &[u8]) -> PyResult<Self> {
        Ok(Likelihood { inner: state::decode(StateKind::Likelihood, blob).map_err(value_error)? })
    }
}

#[pymodule]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_class::<Detector>()?;
    m.add_class::<Likelihood>()?;
    m.add("STATE_FORMAT_VERSION", state::FORMAT_VERSION)?;
    Ok(())
}
