"""TICKscript options of the `@htm()` node: their Kapacitor types, ranges, defaults and validation.

Every option's range is defined once, in its `OptionSpec` below; an out-of-range, ill-typed, empty or
non-finite value fails `init` with a message that names the option and its range, so nothing a
TICKscript can say reaches the engine unchecked. Defaults are the `HtmOptions` field defaults; those the
engine face also has (tm, tail, probation) are imported from it, not restated.

Kapacitor checks literal types at define time and strictly: an option declared DOUBLE rejects `0`
(an INT literal) — users write `0.0`. `init` also accepts INT values for DOUBLE options, for clients
that are less strict than Kapacitor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import fields as dc_fields
from typing import Any

from influxhtm.htm.params import (
    DEFAULT_DETECTOR,
    DEFAULT_TAIL,
    DEFAULT_TM,
    DETECTORS,
    PROBATION_LIMIT,
    TAILS,
    TM_CHOICES,
)
from influxhtm.htm.timestamps import DEFAULT_TIMEZONE, time_zone
from influxhtm.kapacitor_udf.udf_pb2 import BOOL, DOUBLE, DURATION, INT, STRING, ValueType
from influxhtm.schema import LEARNING, RECORDS_SEEN

TYPE_NAMES = {number: ValueType.Name(number) for number in (BOOL, INT, DOUBLE, STRING, DURATION)}
_VALUE_ATTR = {
    BOOL: "boolValue",
    INT: "intValue",
    DOUBLE: "doubleValue",
    STRING: "stringValue",
    DURATION: "durationValue",
}

MAX_ABS_RANGE = 1e15  # bounds beyond this are refused (same limit as the bad-data magnitude rule)
#: Warm-up points per group. The buffer holds every point (a protobuf message of a few hundred bytes)
#: until the warm-up ends, and its end replays the whole buffer in one engine call; at the engine's
#: 5,000-9,000 records/s, 100,000 points is a 10-20 s replay and a few tens of MB per group, while
#: 100,000 five-minute points already span almost a year, far more than a range needs.
MAX_WARMUP = 100_000
#: Prediction horizon: the classifier keeps the active cells of that many past records per model.
MAX_PREDICTION_STEPS = 100
#: RDSE resolution: 1e-12 is finer than any metric is precise; 1e15 puts every allowed value in one bucket.
RESOLUTION_RANGE = (1e-12, MAX_ABS_RANGE)
MAX_CHECKPOINT_EVERY = 10_000_000
SECOND_NS = 10**9
#: Checkpoint interval: at least 1 s (each checkpoint writes the whole model), at most 7 days.
CHECKPOINT_INTERVAL_RANGE_NS = (SECOND_NS, 7 * 86_400 * SECOND_NS)
#: Names (input field, measurement, output fields): non-empty, one line, at most this many characters.
MAX_NAME_LENGTH = 1024
BAD_POINT_CHOICES = ("pass", "drop")


class OptionError(ValueError):
    """An option of the `@htm()` node is unknown, ill-typed or out of range."""


@dataclass(frozen=True)
class HtmOptions:
    """Validated options of one `@htm()` node (attribute names are the TICKscript names)."""

    field: str
    min: float | None = None
    max: float | None = None
    warmup: int = 288
    resolution: float | None = None
    timeOfDay: bool = True
    weekend: bool = False
    timezone: str = DEFAULT_TIMEZONE  # IANA zone whose wall clock the date encoders see
    predictionSteps: int = 1  # the UDF emits a prediction by default (the library's detector does not)
    probation: int | None = None  # None: the engine face's DEFAULT_PROBATION
    tm: str = DEFAULT_TM
    tail: str = DEFAULT_TAIL
    detector: str = DEFAULT_DETECTOR
    measurement: str | None = None
    keepFields: bool = False
    onBadPoint: str = "pass"
    valueField: str = "value"
    rawScoreField: str = "raw_score"
    likelihoodField: str = "anomaly_likelihood"
    scoreField: str = "anomaly_score"
    predictionField: str = "prediction"
    checkpointEvery: int = 1000
    checkpointInterval: int = 600 * SECOND_NS  # ns (10 minutes)

    def model_params(self) -> dict:
        """The options that shape a model; a stored model with other values is not reused."""
        params: dict[str, Any] = {
            "field": self.field,
            "min": self.min,
            "max": self.max,
            "resolution": self.resolution,
            "timeOfDay": self.timeOfDay,
            "weekend": self.weekend,
            "predictionSteps": self.predictionSteps,
            "probation": self.probation,
            "tm": self.tm,
            "tail": self.tail,
            "warmup": self.warmup,
        }
        if self.timezone != DEFAULT_TIMEZONE:  # absent for UTC: models stored before the option still match
            params["timezone"] = self.timezone
        if self.detector != DEFAULT_DETECTOR:  # likewise absent for the default detector
            params["detector"] = self.detector
        return params

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dc_fields(self)}


def _duration_text(ns: float) -> str:
    for unit, size in (("d", 86_400 * SECOND_NS), ("h", 3600 * SECOND_NS), ("m", 60 * SECOND_NS), ("s", SECOND_NS)):
        if ns >= size and ns % size == 0:
            return f"{int(ns // size)}{unit}"
    return f"{int(ns)}ns"


@dataclass(frozen=True)
class OptionSpec:
    """One option: its Kapacitor type, meaning and range (the values it accepts).

    A numeric option accepts `lo <= value <= hi` (finite); a STRING option one of `choices`, or without
    choices a name of 1 to MAX_NAME_LENGTH characters on one line; a BOOL option either value.
    """

    name: str
    type: int
    meaning: str
    lo: float = math.nan  # numeric options only
    hi: float = math.nan
    choices: tuple[str, ...] = ()

    @property
    def range(self) -> str:
        """The accepted values, in words (also the README's range column)."""
        if self.type == BOOL:
            return "TRUE or FALSE"
        if self.type == STRING:
            if self.choices:
                return " or ".join(repr(c) for c in self.choices)
            return f"a name of 1 to {MAX_NAME_LENGTH} characters on one line"
        if self.type == DURATION:
            return f"{_duration_text(self.lo)} to {_duration_text(self.hi)}"
        if self.type == INT:
            return f"{self.lo:,.0f} to {self.hi:,.0f}"
        return f"{self.lo:g} to {self.hi:g}"

    @property
    def expects(self) -> str:
        """'a DOUBLE from -1e+15 to 1e+15', 'a STRING: 'pass' or 'drop'', ... (for error messages)."""
        article = "an" if self.type == INT else "a"
        if self.type in (INT, DOUBLE, DURATION):
            return f"{article} {TYPE_NAMES[self.type]} from {self.range}"
        return f"{article} {TYPE_NAMES[self.type]}: {self.range}"

    def in_range(self, value: Any) -> bool:
        if self.type in (INT, DOUBLE, DURATION):
            return math.isfinite(value) and self.lo <= value <= self.hi
        if self.type == STRING:
            if self.choices:
                return value in self.choices
            return 0 < len(value) <= MAX_NAME_LENGTH and value.strip() != "" and "\n" not in value
        return True


def _name_option(name: str, meaning: str) -> OptionSpec:
    return OptionSpec(name, STRING, meaning)


OPTION_SPECS: dict[str, OptionSpec] = {
    s.name: s
    for s in (
        _name_option("field", "input field to model (required)"),
        OptionSpec(
            "min", DOUBLE, "lower bound of the raw data range (else learned in warm-up)", -MAX_ABS_RANGE, MAX_ABS_RANGE
        ),
        OptionSpec(
            "max", DOUBLE, "upper bound of the raw data range (else learned in warm-up)", -MAX_ABS_RANGE, MAX_ABS_RANGE
        ),
        OptionSpec("warmup", INT, "points buffered per group to learn a missing min/max", 1, MAX_WARMUP),
        OptionSpec("resolution", DOUBLE, "RDSE resolution (default: NAB rule from the range)", *RESOLUTION_RANGE),
        OptionSpec("timeOfDay", BOOL, "encode the time of day"),
        OptionSpec("weekend", BOOL, "encode weekend/weekday"),
        _name_option("timezone", "IANA time zone of the date encodings, e.g. 'Europe/Berlin' (default 'UTC')"),
        OptionSpec(
            "predictionSteps", INT, "emit a prediction this many steps ahead (0 = off)", 0, MAX_PREDICTION_STEPS
        ),
        # The likelihood's estimation half of the probation must fit in its history window.
        OptionSpec("probation", INT, "likelihood probation period in records", 1, PROBATION_LIMIT),
        OptionSpec("tm", STRING, "temporal memory implementation", choices=TM_CHOICES),
        OptionSpec("tail", STRING, "likelihood tail convention", choices=TAILS),
        OptionSpec("detector", STRING, "what anomaly_score is: NuPIC's detector or the ensemble", choices=DETECTORS),
        _name_option("measurement", "output measurement (default: <input name>_htm)"),
        OptionSpec("keepFields", BOOL, "also copy the input point's fields to the output"),
        OptionSpec("onBadPoint", STRING, "what to do with an unusable point", choices=BAD_POINT_CHOICES),
        _name_option("valueField", "output field name for the input value"),
        _name_option("rawScoreField", "output field name for the raw anomaly score"),
        _name_option("likelihoodField", "output field name for the anomaly likelihood"),
        _name_option("scoreField", "output field name for the final anomaly score"),
        _name_option("predictionField", "output field name for the prediction"),
        OptionSpec("checkpointEvery", INT, "checkpoint a model after this many points", 1, MAX_CHECKPOINT_EVERY),
        OptionSpec(
            "checkpointInterval", DURATION, "checkpoint a model at least this often", *CHECKPOINT_INTERVAL_RANGE_NS
        ),
    )
}

_OUTPUT_NAME_OPTIONS = ("valueField", "rawScoreField", "likelihoodField", "scoreField", "predictionField")


def info_options(response) -> None:
    """Declare every option (one argument each) in an InfoResponse."""
    for spec in OPTION_SPECS.values():
        response.options[spec.name].valueTypes.append(spec.type)


def _value_of(spec: OptionSpec, option) -> Any:
    if len(option.values) != 1:
        raise OptionError(f"option .{spec.name}() takes 1 argument, {spec.expects}; got {len(option.values)}")
    ov = option.values[0]
    given = ov.type
    if given == INT and spec.type == DOUBLE:
        return float(ov.intValue)
    if given != spec.type:
        hint = " (write e.g. 0.0, not 0)" if spec.type == DOUBLE else ""
        raise OptionError(f"option .{spec.name}() expects {spec.expects}; got a {TYPE_NAMES.get(given, given)}{hint}")
    return getattr(ov, _VALUE_ATTR[spec.type])


def parse_options(options) -> HtmOptions:
    """Validate the InitRequest's options; raises OptionError naming the option and its range."""
    values: dict[str, Any] = {}
    for option in options:
        spec = OPTION_SPECS.get(option.name)
        if spec is None:
            known = ", ".join(sorted(OPTION_SPECS))
            raise OptionError(f"unknown option .{option.name}(); known options: {known}")
        if option.name in values:
            raise OptionError(f"option .{option.name}() given more than once")
        value = _value_of(spec, option)
        if not spec.in_range(value):
            raise OptionError(f"option .{spec.name}() expects {spec.expects}; got {value!r}")
        values[option.name] = value
    if "field" not in values:
        raise OptionError("option .field() is required: name the input field to model, e.g. .field('value')")
    if "timezone" in values:
        try:
            time_zone(values["timezone"])
        except ValueError:
            raise OptionError(
                f"option .timezone() expects an IANA time zone name such as 'Europe/Berlin' or 'UTC'; "
                f"unknown time zone {values['timezone']!r}"
            ) from None
    lo, hi = values.get("min"), values.get("max")
    if lo is not None and hi is not None and not lo < hi:
        raise OptionError(f"option .min() must be less than .max(), got min={lo!r} max={hi!r}")
    names = [values.get(n, HtmOptions.__dataclass_fields__[n].default) for n in _OUTPUT_NAME_OPTIONS]
    if len(set(names)) != len(names):
        raise OptionError(
            "options .valueField(), .rawScoreField(), .likelihoodField(), .scoreField(), .predictionField() "
            f"must name distinct fields, got {names}"
        )
    for option, name in zip(_OUTPUT_NAME_OPTIONS, names):
        if name in (LEARNING, RECORDS_SEEN):
            raise OptionError(
                f"option .{option}() cannot be {name!r}: every output point has the fields "
                f"{LEARNING!r} (boolean) and {RECORDS_SEEN!r} (integer)"
            )
    return HtmOptions(**values)
