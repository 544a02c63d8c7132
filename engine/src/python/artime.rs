//! ARTime for Python: `Artime(dmin, dmax, n_records)` scores one series record by record.

use super::*;
use crate::artime::Artime as CoreArtime;

/// The ARTime anomaly detector (NAB's best published detector) for one series.
#[pyclass(module = "influxhtm._engine", name = "Artime")]
struct PyArtime {
    inner: Guarded<CoreArtime>,
}

#[pymethods]
impl PyArtime {
    #[new]
    fn new(py: Python<'_>, dmin: f64, dmax: f64, n_records: i64) -> PyResult<Self> {
        let n_records = u64::try_from(n_records)
            .map_err(|_| invalid_params(py, format!("n_records must not be negative, got {n_records}")))?;
        let inner = unguarded(py, || CoreArtime::new(dmin, dmax, n_records))?.map_err(|e| engine_error(py, e))?;
        Ok(PyArtime { inner: Guarded::new(inner) })
    }

    /// Scores one record.
    fn handle(&mut self, py: Python<'_>, value: f64) -> PyResult<f64> {
        let score = self.inner.update(py, |artime| artime.handle(value), engine_panic)?;
        score.map_err(|e| engine_error(py, e))
    }

    /// Scores many records in one call (no GIL for the whole batch). Stops at the first bad record
    /// with InvalidParams naming its index; records before it stay applied.
    fn handle_many(&mut self, py: Python<'_>, values: Vec<f64>) -> PyResult<Vec<f64>> {
        self.inner.update_each(py, values, |artime, v| artime.handle(v))
    }

    #[getter]
    fn records_seen(&self) -> u64 {
        self.inner.value.records_seen()
    }

    #[getter]
    fn dmin(&self) -> f64 {
        self.inner.value.dmin()
    }

    #[getter]
    fn dmax(&self) -> f64 {
        self.inner.value.dmax()
    }

    #[getter]
    fn n_records(&self) -> u64 {
        self.inner.value.n_records()
    }

    /// Records per downsampled sample.
    #[getter]
    fn sstep(&self) -> u64 {
        self.inner.value.sstep()
    }

    /// Warm-up length in downsampled samples.
    #[getter]
    fn trend_window(&self) -> u64 {
        self.inner.value.trend_window()
    }

    /// Current number of fuzzy ART categories.
    #[getter]
    fn categories(&self) -> usize {
        self.inner.value.categories()
    }

    /// The panic message that poisoned this detector, or None.
    #[getter]
    fn poisoned(&self) -> Option<&str> {
        self.inner.poisoned.as_deref()
    }

    /// An independent copy.
    fn copy(&self, py: Python<'_>) -> PyResult<Self> {
        let inner = self.inner.read(py, |artime| artime.clone())?;
        Ok(PyArtime { inner: Guarded::new(inner) })
    }

    fn save<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let blob = self.inner.read(py, |artime| state::encode(StateKind::Artime, artime))?;
        Ok(PyBytes::new_bound(py, &blob))
    }

    #[staticmethod]
    fn load(py: Python<'_>, blob: &[u8]) -> PyResult<Self> {
        let inner = unguarded(py, || state::decode(StateKind::Artime, blob))?.map_err(|e| engine_error(py, e))?;
        Ok(PyArtime { inner: Guarded::new(inner) })
    }

    fn __repr__(&self) -> String {
        let a = &self.inner.value;
        format!(
            "Artime(dmin={:?}, dmax={:?}, n_records={}, records_seen={})",
            a.dmin(),
            a.dmax(),
            a.n_records(),
            a.records_seen()
        )
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyArtime>()
}
