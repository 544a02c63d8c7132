"""Type stub of `influxhtm._engine`, the Rust engine (engine/src/python.rs; keep the two in step).

Configuration goes in as typed objects (`ModelConfig` from plain dicts, `LikelihoodParams` from
keywords), results come out as frozen objects with named attributes, and every error is an
`EngineError`. Every call releases the GIL. A panic inside the engine raises `EnginePanic` and poisons
the object it happened in: every later call on it raises `EnginePanic` too.
"""

from collections.abc import Sequence
from typing import Literal, Optional, TypedDict, Union, final

__all__ = [
    "ENSEMBLE_SETTINGS",
    "PROFILE_GUIDED",
    "STATE_FORMAT_VERSION",
    "Artime",
    "CorruptState",
    "Detector",
    "DetectorScores",
    "EngineError",
    "EnginePanic",
    "InvalidParams",
    "Likelihood",
    "LikelihoodParams",
    "Model",
    "ModelConfig",
    "NupicAdaptiveScalarEncoder",
    "NupicCategoryEncoder",
    "NupicDateEncoder",
    "NupicDeltaEncoder",
    "NupicLogEncoder",
    "NupicRdse",
    "NupicScalarEncoder",
    "NupicSdrCategoryEncoder",
    "StepResult",
    "StepTrace",
]

STATE_FORMAT_VERSION: int
#: Whether this engine was built with profile-guided optimisation (scripts/install-engine).
PROFILE_GUIDED: bool
#: The ensemble detector's fusion constants (engine/src/ensemble.rs): alert levels of HTM's and ARTime's
#: scores, quiet shares of the probation after their alerts, the highest score that does not alert.
ENSEMBLE_SETTINGS: dict[str, float]

# ---- exceptions ----------------------------------------------------------------------------------

class EngineError(Exception):
    """Base class of every error the HTM engine raises."""

class InvalidParams(EngineError, ValueError):
    """A configuration value or an input the engine cannot use. Also a ValueError."""

class CorruptState(EngineError, ValueError):
    """A state blob that is not an engine state, is damaged, or has an unsupported (e.g. newer)
    format version. Also a ValueError."""

class EnginePanic(EngineError):
    """An internal engine panic, caught at the boundary; the object it happened in is poisoned."""

# ---- configuration -------------------------------------------------------------------------------

class TimeOfDayEncoder(TypedDict):
    type: Literal["time_of_day"]
    w: int
    radius: float

class DayOfWeekEncoder(TypedDict):
    type: Literal["day_of_week"]
    w: int
    radius: float

class WeekendEncoder(TypedDict):
    type: Literal["weekend"]
    w: int

class RdseEncoder(TypedDict):
    type: Literal["rdse"]
    resolution: float
    w: int
    n: int
    seed: int

class FieldEncoder(TypedDict):
    """A multi-field model's encoder: which record field it reads and what it feeds (`input`: the spatial
    pooler; `predicted`: also the classifier; `classifier_only`: only the classifier)."""

    type: Literal["field"]
    field: int
    role: Literal["input", "predicted", "classifier_only"]
    encoder: Union[
        TimeOfDayEncoder,
        DayOfWeekEncoder,
        WeekendEncoder,
        RdseEncoder,
        NupicScalarEncoder,
        NupicCategoryEncoder,
        NupicLogEncoder,
        NupicAdaptiveScalarEncoder,
        NupicDeltaEncoder,
        NupicSdrCategoryEncoder,
    ]

EncoderParams = Union[TimeOfDayEncoder, DayOfWeekEncoder, WeekendEncoder, RdseEncoder, FieldEncoder]

class SpatialPoolerParams(TypedDict):
    """The spatial pooler; its input width is the encoders' total width."""

    column_count: int
    potential_pct: float
    global_inhibition: bool
    num_active_columns_per_inh_area: int
    stimulus_threshold: int
    syn_perm_active_inc: float
    syn_perm_inactive_dec: float
    syn_perm_connected: float
    min_pct_overlap_duty_cycle: float
    duty_cycle_period: int
    boost_strength: float
    seed: int
    wrap_around: bool

class BacktrackingParams(TypedDict):
    """NuPIC's backtracking TM (Cells4)."""

    type: Literal["backtracking"]
    number_of_cols: int
    cells_per_column: int
    activation_threshold: int
    min_threshold: int
    new_synapse_count: int
    initial_perm: float
    connected_perm: float
    permanence_inc: float
    permanence_dec: float
    permanence_max: float
    global_decay: float
    max_age: int
    max_segments_per_cell: int
    max_synapses_per_segment: int
    pam_length: int
    max_inf_backtrack: int
    max_lrn_backtrack: int
    max_seq_length: int
    seed: int

class TemporalMemoryParams(TypedDict):
    """NuPIC's TemporalMemory."""

    type: Literal["temporal_memory"]
    column_count: int
    cells_per_column: int
    activation_threshold: int
    min_threshold: int
    max_new_synapse_count: int
    initial_permanence: float
    connected_permanence: float
    permanence_increment: float
    permanence_decrement: float
    predicted_segment_decrement: float
    max_segments_per_cell: int
    max_synapses_per_segment: int
    seed: int

class ClassifierParams(TypedDict):
    """The SDR classifier; `steps[0]` is the reported horizon (each step at most 10,000)."""

    steps: list[int]
    alpha: float
    act_value_alpha: float

@final
class ModelConfig:
    """Everything needed to build a model. A missing or ill-typed key raises InvalidParams naming
    it; the values are validated when a Model or Detector is built from the config."""

    def __new__(
        cls,
        *,
        encoders: Sequence[EncoderParams],
        sp: SpatialPoolerParams,
        sequence_memory: Union[BacktrackingParams, TemporalMemoryParams],
        classifier: Optional[ClassifierParams] = None,
    ) -> ModelConfig: ...

@final
class LikelihoodParams:
    """NuPIC's AnomalyLikelihood parameters; InvalidParams unless `estimation_samples <=
    historic_window_size`, `reestimation_period >= 1` and the probation fits in 32 bits."""

    def __new__(
        cls,
        *,
        learning_period: int,
        estimation_samples: int,
        historic_window_size: int,
        reestimation_period: int,
        tail: str,
    ) -> LikelihoodParams:
        """`tail` is "one-sided" or "two-sided"."""
    @property
    def learning_period(self) -> int: ...
    @property
    def estimation_samples(self) -> int: ...
    @property
    def historic_window_size(self) -> int: ...
    @property
    def reestimation_period(self) -> int: ...
    @property
    def tail(self) -> str: ...
    @property
    def probation(self) -> int:
        """Records answered with 0.5: learning period + estimation samples."""

# ---- results -------------------------------------------------------------------------------------

@final
class StepResult:
    """What `Model.run` returns for one record."""

    @property
    def raw_score(self) -> float:
        """Fraction of active columns that were not predicted (a float32 value)."""
    @property
    def bucket(self) -> Optional[int]:
        """RDSE bucket of the value; None for a missing value."""
    @property
    def best_prediction(self) -> Optional[float]:
        """Best prediction for the first classifier step; None without a classifier."""
    @property
    def predictions(self) -> list[tuple[float, float]]:
        """Up to 8 (value, probability) pairs, most likely first."""
    @property
    def multi_step(self) -> list[tuple[int, float, list[tuple[float, float]]]]:
        """Every classifier step as (steps, best prediction, up to 8 (value, probability) pairs)."""

@final
class DetectorScores:
    """What `Detector.handle` returns for one record."""

    @property
    def raw_score(self) -> float: ...
    @property
    def anomaly_likelihood(self) -> float: ...
    @property
    def anomaly_score(self) -> float:
        """NAB's final score (the log-scaled likelihood, 1.0 on a spatial anomaly), or the ensemble's."""
    @property
    def spatial_anomaly(self) -> bool: ...
    @property
    def best_prediction(self) -> Optional[float]: ...
    @property
    def bucket(self) -> Optional[int]: ...

@final
class StepTrace:
    """The internals of one record, for parity debugging."""

    @property
    def encoding(self) -> list[int]: ...
    @property
    def active_columns(self) -> list[int]: ...
    @property
    def predicted_columns(self) -> list[int]: ...
    @property
    def active_cells(self) -> list[int]: ...
    @property
    def segments(self) -> int: ...
    @property
    def synapses(self) -> int: ...

# ---- engine objects ------------------------------------------------------------------------------

@final
class Model:
    """An HTM model: encoders, spatial pooler, sequence memory, optional classifier."""

    def __new__(cls, config: ModelConfig, settings: str = ...) -> Model: ...
    settings: str  # opaque text of the Python face, saved with the state
    def run(self, timestamp_s: int, value: float, learn: bool = True) -> StepResult:
        """One record; `timestamp_s` is naive wall-clock seconds, a NaN value is "missing"."""
    def run_record(
        self, record: Sequence[Union[float, int, str, None]], learn: bool = True, trace: bool = False
    ) -> tuple[StepResult, Optional[StepTrace]]:
        """One record of a multi-field model: per field a float (number), an int (naive wall-clock
        seconds), a str (category) or None (missing). With `trace`, also the record's internals."""
    def reset(self) -> None:
        """NuPIC's resetSequenceStates: the sequence memory forgets the current sequence."""
    @property
    def record_num(self) -> int: ...
    @property
    def poisoned(self) -> Optional[str]:
        """The message of the panic that poisoned this model, or None."""
    def save(self) -> bytes: ...
    @staticmethod
    def load(blob: bytes) -> Model:
        """Raises CorruptState for a blob that is not a model state."""

@final
class Detector:
    """A series' detector: NAB's `numenta` (model + likelihood + spatial-anomaly rule), or with
    `ensemble` = (min, max, length) the ensemble around it (its anomaly_score fuses HTM's and ARTime's)."""

    def __new__(
        cls,
        config: ModelConfig,
        likelihood: LikelihoodParams,
        settings: str = ...,
        ensemble: Optional[tuple[float, float, int]] = ...,
    ) -> Detector: ...
    settings: str  # opaque text of the Python face, saved with the state
    def handle(self, timestamp_s: int, value: float) -> DetectorScores:
        """One record; InvalidParams (and no change) for a non-finite value."""
    def handle_traced(self, timestamp_s: int, value: float) -> tuple[DetectorScores, StepTrace]: ...
    def handle_many(self, timestamps_s: Sequence[int], values: Sequence[float]) -> list[DetectorScores]:
        """Many records in one call; stops at the first bad one (InvalidParams naming its index),
        keeping the records before it."""
    @property
    def records_seen(self) -> int: ...
    @property
    def memory_bytes(self) -> int:
        """Approximate heap bytes the detector holds (engine structures' capacities)."""
    @property
    def poisoned(self) -> Optional[str]:
        """The message of the panic that poisoned this detector, or None."""
    def copy(self) -> Detector: ...
    def save(self) -> bytes: ...
    @staticmethod
    def load(blob: bytes) -> Detector:
        """Raises CorruptState for a blob that is not a detector state."""

@final
class Likelihood:
    """NuPIC's AnomalyLikelihood on its own."""

    def __new__(cls, params: LikelihoodParams) -> Likelihood: ...
    def anomaly_probability(self, value: float, raw_score: float, timestamp_s: int) -> float: ...
    @staticmethod
    def compute_log_likelihood(likelihood: float) -> float: ...
    @property
    def poisoned(self) -> Optional[str]: ...
    def save(self) -> bytes: ...
    @staticmethod
    def load(blob: bytes) -> Likelihood: ...

@final
class Artime:
    """The ARTime anomaly detector (NAB's best published detector) for one series. `dmin`/`dmax` are the
    value range (NAB: the file's extremes; values outside it take the nearest end level) and
    `n_records` the expected length (NAB: the file's), which fixes the downsampling and the warm-up.
    InvalidParams for a non-finite or reversed range and for `n_records` below 94."""

    def __new__(cls, dmin: float, dmax: float, n_records: int) -> Artime: ...
    def handle(self, value: float) -> float:
        """The score of one record, in [0, 1]; InvalidParams (and no change) for a non-finite value."""
    def handle_many(self, values: Sequence[float]) -> list[float]:
        """Many records in one call; stops at the first bad one (InvalidParams naming its index),
        keeping the records before it."""
    @property
    def records_seen(self) -> int: ...
    @property
    def dmin(self) -> float: ...
    @property
    def dmax(self) -> float: ...
    @property
    def n_records(self) -> int: ...
    @property
    def sstep(self) -> int:
        """Records per downsampled sample."""
    @property
    def trend_window(self) -> int:
        """Warm-up length in downsampled samples."""
    @property
    def categories(self) -> int:
        """Current number of fuzzy ART categories (at most 2048)."""
    @property
    def poisoned(self) -> Optional[str]:
        """The message of the panic that poisoned this detector, or None."""
    def copy(self) -> Artime: ...
    def save(self) -> bytes: ...
    @staticmethod
    def load(blob: bytes) -> Artime:
        """Raises CorruptState for a blob that is not an ARTime state."""

@final
class NupicScalarEncoder:
    """NuPIC 1.0.5's ScalarEncoder (`influxhtm.nupic.encoders.scalar.ScalarEncoder` is its NuPIC face).
    InvalidParams, with NuPIC's message, for parameters NuPIC rejects and for out-of-range inputs."""

    def __new__(
        cls,
        *,
        w: int,
        minval: float,
        maxval: float,
        periodic: bool = False,
        n: int = 0,
        radius: float = 0.0,
        resolution: float = 0.0,
        name: Optional[str] = None,
        clip_input: bool = False,
        forced: bool = False,
        minval_is_int: bool = False,
        maxval_is_int: bool = False,
    ) -> NupicScalarEncoder: ...
    def encode_bits(self, value: Optional[float]) -> list[int]:
        """On-bit indices, ascending; empty for None/NaN."""
    def bucket_index(self, value: Optional[float]) -> Optional[int]:
        """NuPIC's `getBucketIndices(value)[0]`; None for None/NaN."""
    @property
    def n(self) -> int: ...
    @property
    def w(self) -> int: ...
    @property
    def n_internal(self) -> int: ...
    @property
    def padding(self) -> int: ...
    @property
    def halfwidth(self) -> int: ...
    @property
    def resolution(self) -> float: ...
    @property
    def radius(self) -> float: ...
    @property
    def range(self) -> float: ...
    @property
    def range_internal(self) -> float: ...
    @property
    def minval(self) -> float: ...
    @property
    def maxval(self) -> float: ...
    @property
    def periodic(self) -> bool: ...
    @property
    def clip_input(self) -> bool: ...
    @property
    def name(self) -> str: ...

@final
class NupicCategoryEncoder:
    """NuPIC 1.0.5's CategoryEncoder (`influxhtm.nupic.encoders.category.CategoryEncoder` is its face)."""

    def __new__(cls, *, w: int, categories: list[str], forced: bool = False) -> NupicCategoryEncoder: ...
    def encode_bits(self, category: Optional[str]) -> list[int]:
        """On-bit indices; empty for None."""
    def bucket_index(self, category: Optional[str]) -> Optional[int]: ...
    def category_index(self, category: str) -> int:
        """The category's index (0 for an unknown one)."""
    @property
    def n(self) -> int: ...

@final
class NupicLogEncoder:
    """NuPIC 1.0.5's LogEncoder (`influxhtm.nupic.encoders.log.LogEncoder` is its face)."""

    def __new__(
        cls,
        *,
        w: int,
        minval: float,
        maxval: float,
        n: int = 0,
        radius: float = 0.0,
        resolution: float = 0.0,
        clip_input: bool = True,
        forced: bool = False,
    ) -> NupicLogEncoder: ...
    def encode_bits(self, value: Optional[float]) -> list[int]: ...
    def bucket_index(self, value: Optional[float]) -> Optional[int]: ...
    @property
    def n(self) -> int: ...
    @property
    def minval(self) -> float: ...
    @property
    def maxval(self) -> float: ...
    @property
    def min_scaled_value(self) -> float: ...
    @property
    def max_scaled_value(self) -> float: ...
    @property
    def scalar(self) -> NupicScalarEncoder:
        """The log10-space scalar encoder (a copy)."""

@final
class NupicAdaptiveScalarEncoder:
    """NuPIC 1.0.5's AdaptiveScalarEncoder (stateful)."""

    def __new__(
        cls,
        *,
        w: int,
        n: int,
        minval: Optional[float] = None,
        maxval: Optional[float] = None,
        periodic: bool = False,
        name: Optional[str] = None,
        forced: bool = False,
    ) -> NupicAdaptiveScalarEncoder: ...
    def encode_bits(self, value: Optional[float], learn: Optional[bool] = None) -> list[int]: ...
    def bucket_index(self, value: Optional[float], learn: Optional[bool] = None) -> Optional[int]: ...
    def set_learning(self, learn: bool) -> None: ...
    @property
    def n(self) -> int: ...
    @property
    def record_num(self) -> int: ...
    @property
    def scalar(self) -> Optional[NupicScalarEncoder]:
        """The scalar encoder for the current range (a copy); None before the range is known."""

@final
class NupicRdse:
    """NuPIC 1.0.5's RandomDistributedScalarEncoder (stateful: offset, lazily created buckets)."""

    def __new__(
        cls, *, resolution: float, w: int = 21, n: int = 400, seed: int = 42, offset: Optional[float] = None
    ) -> NupicRdse: ...
    def bucket_index(self, value: Optional[float]) -> Optional[int]: ...
    def encode_bits(self, value: Optional[float]) -> list[int]: ...
    def bucket_bits(self, bucket: int) -> list[int]: ...
    @property
    def n(self) -> int: ...
    @property
    def offset(self) -> Optional[float]: ...
    @property
    def bucket_range(self) -> tuple[int, int]: ...

@final
class NupicDeltaEncoder:
    """NuPIC 1.0.5's DeltaEncoder (stateful)."""

    def __new__(
        cls,
        *,
        w: int,
        n: int,
        minval: Optional[float] = None,
        maxval: Optional[float] = None,
        periodic: bool = False,
        name: Optional[str] = None,
        forced: bool = False,
    ) -> NupicDeltaEncoder: ...
    def encode_bits(self, value: Optional[float], learn: Optional[bool] = None) -> list[int]: ...
    def set_learning(self, learn: bool) -> None: ...
    def set_state_lock(self, lock: bool) -> None: ...
    @property
    def n(self) -> int: ...
    @property
    def prev_absolute(self) -> Optional[float]: ...
    @property
    def prev_delta(self) -> Optional[float]: ...
    @property
    def scalar(self) -> Optional[NupicScalarEncoder]:
        """The inner adaptive encoder's current scalar encoder (a copy)."""

@final
class NupicSdrCategoryEncoder:
    """NuPIC 1.0.5's SDRCategoryEncoder with its own NuPIC RNG (stateful when learning)."""

    def __new__(
        cls, *, n: int, w: int, categories: Optional[list[str]] = None, seed: int = 1, forced: bool = False
    ) -> NupicSdrCategoryEncoder: ...
    def encode_bits(self, category: Optional[str]) -> list[int]: ...
    def bucket_index(self, category: Optional[str], learn: Optional[bool] = None) -> Optional[int]: ...
    def set_learning(self, learn: bool) -> None: ...
    @property
    def learning_enabled(self) -> bool: ...
    @property
    def n(self) -> int: ...
    @property
    def w(self) -> int: ...
    @property
    def categories(self) -> list[str]:
        """Categories by index; index 0 is `<UNKNOWN>`."""
    def category_bits(self, index: int) -> list[int]:
        """On-bits of category `index`."""

@final
class NupicDateEncoder:
    """NuPIC 1.0.5's DateEncoder (`influxhtm.nupic.encoders.date.DateEncoder` is its face). A part is
    encoded when given, as `(w, radius)`; `custom_days` is `(w, day name or list of names)` (AssertionError,
    NuPIC's message, for an unknown name); `holidays` entries are `[month, day]` or `[year, month, day]`
    (None: `[[12, 25]]`). Times are `(year, month, day, hour, minute, second, microsecond)` wall-clock
    fields."""

    def __new__(
        cls,
        *,
        season: Optional[tuple[int, float]] = None,
        day_of_week: Optional[tuple[int, float]] = None,
        weekend: Optional[tuple[int, float]] = None,
        custom_days: Optional[tuple[int, Union[str, list[str]]]] = None,
        holiday: Optional[int] = None,
        time_of_day: Optional[tuple[int, float]] = None,
        forced: bool = True,
        holidays: Optional[list[list[int]]] = None,
    ) -> NupicDateEncoder: ...
    def encode_bits(self, when: tuple[int, int, int, int, int, int, int]) -> list[int]:
        """On-bit indices, ascending."""
    def scalars(self, when: tuple[int, int, int, int, int, int, int]) -> list[float]:
        """NuPIC's `getScalars`: one value per enabled part."""
    def bucket_indices(self, when: tuple[int, int, int, int, int, int, int]) -> list[int]:
        """NuPIC's `getBucketIndices`: one per enabled part."""
    @property
    def n(self) -> int: ...
    @property
    def fields(self) -> list[tuple[str, NupicScalarEncoder, int]]:
        """`(description name, sub-encoder (a copy), offset)` of each enabled part, in order."""

def _inject_panic_on_value(value: Optional[float]) -> None:
    """TEST ONLY: every model step that sees exactly `value` panics half-way (None disarms)."""
