//! NuPIC 1.0.5 encoders for Python: `influxhtm.nupic.encoders` wraps these classes.

use super::*;
use crate::encoders::{
    naive_seconds, weekday_from_name, CustomDays, Holiday, NupicDateEncoder, NupicDateParams, CHRISTMAS,
};
use pyo3::exceptions::PyAssertionError;

/// NuPIC 1.0.5's `ScalarEncoder`; `influxhtm.nupic.encoders.scalar.ScalarEncoder` gives it NuPIC's face.
#[pyclass(module = "influxhtm._engine", name = "NupicScalarEncoder", frozen)]
#[derive(Clone)]
struct PyNupicScalarEncoder {
    inner: NupicScalarEncoder,
}

#[pymethods]
impl PyNupicScalarEncoder {
    #[new]
    #[pyo3(signature = (
        *, w, minval, maxval, periodic = false, n = 0, radius = 0.0, resolution = 0.0, name = None,
        clip_input = false, forced = false, minval_is_int = false, maxval_is_int = false
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        w: i64,
        minval: f64,
        maxval: f64,
        periodic: bool,
        n: i64,
        radius: f64,
        resolution: f64,
        name: Option<String>,
        clip_input: bool,
        forced: bool,
        minval_is_int: bool,
        maxval_is_int: bool,
    ) -> PyResult<Self> {
        let params = ScalarParams {
            w,
            minval,
            maxval,
            periodic,
            n,
            radius,
            resolution,
            name,
            clip_input,
            forced,
            minval_is_int,
            maxval_is_int,
        };
        NupicScalarEncoder::new(&params).map(|inner| PyNupicScalarEncoder { inner }).map_err(|e| engine_error(py, e))
    }

    /// On-bit indices, ascending; empty for None/NaN.
    #[pyo3(signature = (value))]
    fn encode_bits(&self, py: Python<'_>, value: Option<f64>) -> PyResult<Vec<usize>> {
        self.inner.encode_bits(value.unwrap_or(f64::NAN)).map_err(|e| engine_error(py, e))
    }

    /// NuPIC's `getBucketIndices(value)[0]`; None for None/NaN.
    #[pyo3(signature = (value))]
    fn bucket_index(&self, py: Python<'_>, value: Option<f64>) -> PyResult<Option<i64>> {
        self.inner.bucket_index(value.unwrap_or(f64::NAN)).map_err(|e| engine_error(py, e))
    }

    #[getter]
    fn n(&self) -> usize {
        self.inner.width()
    }
    #[getter]
    fn w(&self) -> usize {
        self.inner.w()
    }
    #[getter]
    fn n_internal(&self) -> usize {
        self.inner.n_internal()
    }
    #[getter]
    fn padding(&self) -> usize {
        self.inner.padding()
    }
    #[getter]
    fn halfwidth(&self) -> usize {
        self.inner.halfwidth()
    }
    #[getter]
    fn resolution(&self) -> f64 {
        self.inner.resolution()
    }
    #[getter]
    fn radius(&self) -> f64 {
        self.inner.radius()
    }
    #[getter]
    fn range(&self) -> f64 {
        self.inner.range()
    }
    #[getter]
    fn range_internal(&self) -> f64 {
        self.inner.range_internal()
    }
    #[getter]
    fn minval(&self) -> f64 {
        self.inner.minval()
    }
    #[getter]
    fn maxval(&self) -> f64 {
        self.inner.maxval()
    }
    #[getter]
    fn periodic(&self) -> bool {
        self.inner.periodic()
    }
    #[getter]
    fn clip_input(&self) -> bool {
        self.inner.clip_input()
    }
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }
}

fn scalar_py(inner: &NupicScalarEncoder) -> PyNupicScalarEncoder {
    PyNupicScalarEncoder { inner: inner.clone() }
}

/// NuPIC 1.0.5's `CategoryEncoder`.
#[pyclass(module = "influxhtm._engine", name = "NupicCategoryEncoder", frozen)]
struct PyNupicCategoryEncoder {
    inner: CategoryEncoder,
}

#[pymethods]
impl PyNupicCategoryEncoder {
    #[new]
    #[pyo3(signature = (*, w, categories, forced = false))]
    fn new(py: Python<'_>, w: i64, categories: Vec<String>, forced: bool) -> PyResult<Self> {
        CategoryEncoder::new(w, categories, forced).map(|inner| Self { inner }).map_err(|e| engine_error(py, e))
    }
    /// On-bit indices; empty for None.
    #[pyo3(signature = (category))]
    fn encode_bits(&self, py: Python<'_>, category: Option<&str>) -> PyResult<Vec<usize>> {
        self.inner.encode_bits(category).map_err(|e| engine_error(py, e))
    }
    #[pyo3(signature = (category))]
    fn bucket_index(&self, py: Python<'_>, category: Option<&str>) -> PyResult<Option<i64>> {
        self.inner.bucket_index(category).map_err(|e| engine_error(py, e))
    }
    /// The category's index (0 for an unknown one).
    fn category_index(&self, category: &str) -> usize {
        self.inner.category_index(category)
    }
    #[getter]
    fn n(&self) -> usize {
        self.inner.width()
    }
}

/// NuPIC 1.0.5's `LogEncoder`.
#[pyclass(module = "influxhtm._engine", name = "NupicLogEncoder", frozen)]
struct PyNupicLogEncoder {
    inner: LogEncoder,
}

#[pymethods]
impl PyNupicLogEncoder {
    #[new]
    #[pyo3(signature = (*, w, minval, maxval, n = 0, radius = 0.0, resolution = 0.0, clip_input = true, forced = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        w: i64,
        minval: f64,
        maxval: f64,
        n: i64,
        radius: f64,
        resolution: f64,
        clip_input: bool,
        forced: bool,
    ) -> PyResult<Self> {
        LogEncoder::new(w, minval, maxval, n, radius, resolution, clip_input, forced)
            .map(|inner| Self { inner })
            .map_err(|e| engine_error(py, e))
    }
    #[pyo3(signature = (value))]
    fn encode_bits(&self, py: Python<'_>, value: Option<f64>) -> PyResult<Vec<usize>> {
        self.inner.encode_bits(value.unwrap_or(f64::NAN)).map_err(|e| engine_error(py, e))
    }
    #[pyo3(signature = (value))]
    fn bucket_index(&self, py: Python<'_>, value: Option<f64>) -> PyResult<Option<i64>> {
        self.inner.bucket_index(value.unwrap_or(f64::NAN)).map_err(|e| engine_error(py, e))
    }
    #[getter]
    fn n(&self) -> usize {
        self.inner.width()
    }
    #[getter]
    fn minval(&self) -> f64 {
        self.inner.minval()
    }
    #[getter]
    fn maxval(&self) -> f64 {
        self.inner.maxval()
    }
    #[getter]
    fn min_scaled_value(&self) -> f64 {
        self.inner.min_scaled_value()
    }
    #[getter]
    fn max_scaled_value(&self) -> f64 {
        self.inner.max_scaled_value()
    }
    /// The log10-space scalar encoder (a copy).
    #[getter]
    fn scalar(&self) -> PyNupicScalarEncoder {
        scalar_py(self.inner.inner())
    }
}

/// NuPIC 1.0.5's `AdaptiveScalarEncoder` (stateful).
#[pyclass(module = "influxhtm._engine", name = "NupicAdaptiveScalarEncoder")]
struct PyNupicAdaptiveScalarEncoder {
    inner: AdaptiveScalarEncoder,
}

#[pymethods]
impl PyNupicAdaptiveScalarEncoder {
    #[new]
    #[pyo3(signature = (*, w, n, minval = None, maxval = None, periodic = false, name = None, forced = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        w: i64,
        n: i64,
        minval: Option<f64>,
        maxval: Option<f64>,
        periodic: bool,
        name: Option<String>,
        forced: bool,
    ) -> PyResult<Self> {
        let range = adaptive_range(py, minval, maxval)?;
        AdaptiveScalarEncoder::new(w, n, range, periodic, name, forced)
            .map(|inner| Self { inner })
            .map_err(|e| engine_error(py, e))
    }
    #[pyo3(signature = (value, learn = None))]
    fn encode_bits(&mut self, py: Python<'_>, value: Option<f64>, learn: Option<bool>) -> PyResult<Vec<usize>> {
        self.inner.encode_bits(value, learn).map_err(|e| engine_error(py, e))
    }
    #[pyo3(signature = (value, learn = None))]
    fn bucket_index(&mut self, py: Python<'_>, value: Option<f64>, learn: Option<bool>) -> PyResult<Option<i64>> {
        self.inner.bucket_index(value, learn).map_err(|e| engine_error(py, e))
    }
    fn set_learning(&mut self, learn: bool) {
        self.inner.set_learning(learn);
    }
    #[getter]
    fn n(&self) -> usize {
        self.inner.width()
    }
    #[getter]
    fn record_num(&self) -> u64 {
        self.inner.record_num()
    }
    /// The scalar encoder for the current range (a copy); None before the range is known.
    #[getter]
    fn scalar(&self) -> Option<PyNupicScalarEncoder> {
        self.inner.inner().map(scalar_py)
    }
}

fn adaptive_range(py: Python<'_>, minval: Option<f64>, maxval: Option<f64>) -> PyResult<Option<(f64, f64)>> {
    match (minval, maxval) {
        (Some(lo), Some(hi)) => Ok(Some((lo, hi))),
        (None, None) => Ok(None),
        _ => Err(invalid_params(py, "minval and maxval must both be given or both be None".into())),
    }
}

/// NuPIC 1.0.5's `DeltaEncoder` (stateful).
#[pyclass(module = "influxhtm._engine", name = "NupicDeltaEncoder")]
struct PyNupicDeltaEncoder {
    inner: DeltaEncoder,
}

#[pymethods]
impl PyNupicDeltaEncoder {
    #[new]
    #[pyo3(signature = (*, w, n, minval = None, maxval = None, periodic = false, name = None, forced = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        w: i64,
        n: i64,
        minval: Option<f64>,
        maxval: Option<f64>,
        periodic: bool,
        name: Option<String>,
        forced: bool,
    ) -> PyResult<Self> {
        let range = adaptive_range(py, minval, maxval)?;
        DeltaEncoder::new(w, n, range, periodic, name, forced)
            .map(|inner| Self { inner })
            .map_err(|e| engine_error(py, e))
    }
    #[pyo3(signature = (value, learn = None))]
    fn encode_bits(&mut self, py: Python<'_>, value: Option<f64>, learn: Option<bool>) -> PyResult<Vec<usize>> {
        self.inner.encode_bits(value, learn).map_err(|e| engine_error(py, e))
    }
    fn set_learning(&mut self, learn: bool) {
        self.inner.set_learning(learn);
    }
    fn set_state_lock(&mut self, lock: bool) {
        self.inner.set_state_lock(lock);
    }
    #[getter]
    fn n(&self) -> usize {
        self.inner.width()
    }
    #[getter]
    fn prev_absolute(&self) -> Option<f64> {
        self.inner.prev_absolute()
    }
    #[getter]
    fn prev_delta(&self) -> Option<f64> {
        self.inner.prev_delta()
    }
    /// The inner adaptive encoder's current scalar encoder (a copy); None before the first input
    /// when no range was given.
    #[getter]
    fn scalar(&self) -> Option<PyNupicScalarEncoder> {
        self.inner.adaptive().inner().map(scalar_py)
    }
}

/// NuPIC 1.0.5's `RandomDistributedScalarEncoder` (stateful: the offset and the lazily created buckets).
#[pyclass(module = "influxhtm._engine", name = "NupicRdse")]
struct PyNupicRdse {
    inner: Rdse,
}

#[pymethods]
impl PyNupicRdse {
    #[new]
    #[pyo3(signature = (*, resolution, w = 21, n = 400, seed = 42, offset = None))]
    fn new(py: Python<'_>, resolution: f64, w: u32, n: u32, seed: u64, offset: Option<f64>) -> PyResult<Self> {
        let mut inner = Rdse::try_new(resolution, w, n, seed).map_err(|e| invalid_params(py, e.to_string()))?;
        if let Some(offset) = offset {
            inner.set_offset(offset).map_err(|e| invalid_params(py, e.to_string()))?;
        }
        Ok(Self { inner })
    }
    /// The value's bucket (None for a missing value); the first value becomes the offset.
    #[pyo3(signature = (value))]
    fn bucket_index(&mut self, value: Option<f64>) -> Option<u32> {
        self.inner.bucket_index(value.unwrap_or(f64::NAN))
    }
    /// The value's on-bits, ascending (creating buckets as needed); empty for a missing value.
    #[pyo3(signature = (value))]
    fn encode_bits(&mut self, value: Option<f64>) -> Vec<u32> {
        let mut out = Vec::new();
        self.inner.encode(value.unwrap_or(f64::NAN), 0, &mut out);
        out
    }
    /// Bucket `bucket`'s bits in creation order (the bucket is created if needed).
    fn bucket_bits(&mut self, bucket: u32) -> Vec<u32> {
        self.inner.bits_of(bucket).to_vec()
    }
    #[getter]
    fn n(&self) -> u32 {
        self.inner.width()
    }
    #[getter]
    fn offset(&self) -> Option<f64> {
        self.inner.offset()
    }
    /// `(minIndex, maxIndex)`: the created buckets.
    #[getter]
    fn bucket_range(&self) -> (u32, u32) {
        self.inner.bucket_range()
    }
}

/// NuPIC 1.0.5's `SDRCategoryEncoder` (stateful when learning).
#[pyclass(module = "influxhtm._engine", name = "NupicSdrCategoryEncoder")]
struct PyNupicSdrCategoryEncoder {
    inner: SdrCategoryEncoder,
}

#[pymethods]
impl PyNupicSdrCategoryEncoder {
    #[new]
    #[pyo3(signature = (*, n, w, categories = None, seed = 1, forced = false))]
    fn new(
        py: Python<'_>,
        n: usize,
        w: usize,
        categories: Option<Vec<String>>,
        seed: u64,
        forced: bool,
    ) -> PyResult<Self> {
        SdrCategoryEncoder::new(n, w, categories, seed, forced)
            .map(|inner| Self { inner })
            .map_err(|e| engine_error(py, e))
    }
    #[pyo3(signature = (category))]
    fn encode_bits(&mut self, py: Python<'_>, category: Option<&str>) -> PyResult<Vec<usize>> {
        self.inner.encode_bits(category).map_err(|e| engine_error(py, e))
    }
    #[pyo3(signature = (category, learn = None))]
    fn bucket_index(&mut self, py: Python<'_>, category: Option<&str>, learn: Option<bool>) -> PyResult<Option<usize>> {
        self.inner.bucket_index(category, learn).map_err(|e| engine_error(py, e))
    }
    fn set_learning(&mut self, learn: bool) {
        self.inner.set_learning(learn);
    }
    #[getter]
    fn learning_enabled(&self) -> bool {
        self.inner.learning_enabled()
    }
    #[getter]
    fn n(&self) -> usize {
        self.inner.width()
    }
    #[getter]
    fn w(&self) -> usize {
        self.inner.w()
    }
    /// Categories by index; index 0 is `<UNKNOWN>`.
    #[getter]
    fn categories(&self) -> Vec<String> {
        self.inner.categories().to_vec()
    }
    /// On-bits of category `index`.
    fn category_bits(&self, py: Python<'_>, index: usize) -> PyResult<Vec<usize>> {
        self.inner
            .category_bits(index)
            .map(<[usize]>::to_vec)
            .ok_or_else(|| invalid_params(py, format!("no category {index}")))
    }
}

/// A copy of the Rust encoder inside a NuPIC encoder object (its state as of now), or None if `obj`
/// is not one.
pub(super) fn field_encoder(obj: &Bound<'_, PyAny>) -> PyResult<Option<FieldEncoder>> {
    Ok(Some(if let Ok(e) = obj.downcast::<PyNupicScalarEncoder>() {
        FieldEncoder::Scalar(e.get().inner.clone())
    } else if let Ok(e) = obj.downcast::<PyNupicCategoryEncoder>() {
        FieldEncoder::Category(e.get().inner.clone())
    } else if let Ok(e) = obj.downcast::<PyNupicLogEncoder>() {
        FieldEncoder::Log(e.get().inner.clone())
    } else if let Ok(e) = obj.downcast::<PyNupicAdaptiveScalarEncoder>() {
        FieldEncoder::Adaptive(e.borrow().inner.clone())
    } else if let Ok(e) = obj.downcast::<PyNupicDeltaEncoder>() {
        FieldEncoder::Delta(e.borrow().inner.clone())
    } else if let Ok(e) = obj.downcast::<PyNupicSdrCategoryEncoder>() {
        FieldEncoder::SdrCategory(e.borrow().inner.clone())
    } else if let Ok(e) = obj.downcast::<PyNupicDateEncoder>() {
        FieldEncoder::NupicDate(e.get().inner.clone())
    } else if let Ok(e) = obj.downcast::<PyNupicRdse>() {
        FieldEncoder::Rdse(e.borrow().inner.clone())
    } else {
        return Ok(None);
    }))
}

/// A naive wall-clock time as `(year, month, day, hour, minute, second, microsecond)`.
type WallClockFields = (i64, u32, u32, u32, u32, u32, u32);

/// NuPIC's `customDays` day list: one day name or a list of them.
#[derive(FromPyObject)]
enum DayNames {
    One(String),
    Many(Vec<String>),
}

/// NuPIC 1.0.5's `DateEncoder`; `influxhtm.nupic.encoders.date.DateEncoder` gives it NuPIC's face.
#[pyclass(module = "influxhtm._engine", name = "NupicDateEncoder", frozen)]
struct PyNupicDateEncoder {
    inner: NupicDateEncoder,
}

#[pymethods]
impl PyNupicDateEncoder {
    #[new]
    #[pyo3(signature = (
        *, season = None, day_of_week = None, weekend = None, custom_days = None, holiday = None,
        time_of_day = None, forced = true, holidays = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        season: Option<(i64, f64)>,
        day_of_week: Option<(i64, f64)>,
        weekend: Option<(i64, f64)>,
        custom_days: Option<(i64, DayNames)>,
        holiday: Option<i64>,
        time_of_day: Option<(i64, f64)>,
        forced: bool,
        holidays: Option<Vec<Vec<i64>>>,
    ) -> PyResult<Self> {
        let holidays = match holidays {
            None => vec![CHRISTMAS],
            Some(list) => list.iter().map(|h| holiday_from(py, h)).collect::<PyResult<_>>()?,
        };
        let custom_days = custom_days.map(|(w, names)| custom_days_from(w, names)).transpose()?;
        let params =
            NupicDateParams { season, day_of_week, weekend, custom_days, holiday, time_of_day, forced, holidays };
        NupicDateEncoder::new(&params).map(|inner| Self { inner }).map_err(|e| engine_error(py, e))
    }

    /// On-bit indices, ascending.
    fn encode_bits(&self, py: Python<'_>, when: WallClockFields) -> PyResult<Vec<usize>> {
        let (seconds, micro) = wall_clock(when);
        self.inner.encode_bits(seconds, micro).map_err(|e| engine_error(py, e))
    }

    /// NuPIC's `getScalars`: one value per enabled part.
    fn scalars(&self, py: Python<'_>, when: WallClockFields) -> PyResult<Vec<f64>> {
        let (seconds, micro) = wall_clock(when);
        self.inner.scalars(seconds, micro).map_err(|e| engine_error(py, e))
    }

    /// NuPIC's `getBucketIndices`: one per enabled part.
    fn bucket_indices(&self, py: Python<'_>, when: WallClockFields) -> PyResult<Vec<i64>> {
        let (seconds, micro) = wall_clock(when);
        self.inner.bucket_indices(seconds, micro).map_err(|e| engine_error(py, e))
    }

    #[getter]
    fn n(&self) -> usize {
        self.inner.width()
    }

    /// `(description name, sub-encoder (a copy), offset)` of each enabled part, in order.
    #[getter]
    fn fields(&self) -> Vec<(&'static str, PyNupicScalarEncoder, usize)> {
        self.inner.fields().map(|(name, scalar, offset)| (name, scalar_py(scalar), offset)).collect()
    }
}

fn wall_clock((year, month, day, hour, minute, second, micro): WallClockFields) -> (i64, u32) {
    (naive_seconds(year, month, day, hour, minute, second), micro)
}

fn holiday_from(py: Python<'_>, h: &[i64]) -> PyResult<Holiday> {
    match *h {
        [year, month, day] => Ok(Holiday { year: Some(year), month, day }),
        [month, day] => Ok(Holiday { year: None, month, day }),
        _ => Err(invalid_params(py, "Holidays must be an iterable of length 2 or 3".into())),
    }
}

/// Reads NuPIC's day names, failing as NuPIC's assertion does.
fn custom_days_from(w: i64, names: DayNames) -> PyResult<CustomDays> {
    let (names, name) = match names {
        DayNames::One(day) => (vec![day.clone()], day),
        DayNames::Many(days) => {
            let name = days.iter().map(|d| format!("{d} ")).collect();
            (days, name)
        }
    };
    let days = names
        .iter()
        .map(|d| {
            weekday_from_name(d)
                .ok_or_else(|| PyAssertionError::new_err(format!("Unable to understand {d} as a day of week")))
        })
        .collect::<PyResult<_>>()?;
    Ok(CustomDays { w, days, name })
}

/// Adds the encoder classes to the extension module.
pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyNupicScalarEncoder>()?;
    m.add_class::<PyNupicCategoryEncoder>()?;
    m.add_class::<PyNupicLogEncoder>()?;
    m.add_class::<PyNupicAdaptiveScalarEncoder>()?;
    m.add_class::<PyNupicDeltaEncoder>()?;
    m.add_class::<PyNupicSdrCategoryEncoder>()?;
    m.add_class::<PyNupicDateEncoder>()?;
    m.add_class::<PyNupicRdse>()?;
    Ok(())
}
