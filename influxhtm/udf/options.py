"""TICKscript options of the `@htm()` node: their Kapacitor types, defaults and validation.

Kapacitor checks literal types at define time and strictly: an option declared DOUBLE rejects `0`
(an INT literal) — users write `0.0`. `init` also accepts INT values for DOUBLE options, for clients
that are less strict than Kapacitor.
"""
from __future__ import annotations

from dataclasses import dataclass, fields as dc_fields
from typing import Any, Callable

# Kapacitor's ValueType wire numbers (udf.proto)
BOOL, INT, DOUBLE, STRING, DURATION = 0, 1, 2, 3, 4
TYPE_NAMES = {BOOL: "BOOL", INT: "INT", DOUBLE: "DOUBLE", STRING: "STRING", DURATION: "DURATION"}
_VALUE_ATTR = {
    BOOL: "boolValue",
    INT: "intValue",
    DOUBLE: "doubleValue",
    STRING: "stringValue",
    DURATION: "durationValue",
}

MAX_ABS_RANGE = 1e15  # bounds beyond this are refused (same limit as the bad-data magnitude rule)
TM_CHOICES = ("backtracking", "tm")
TAIL_CHOICES = ("one-sided", "two-sided")
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
    predictionSteps: int = 1
    probation: int | None = None
    tm: str = "backtracking"
    tail: str = "one-sided"
    measurement: str | None = None
    keepFields: bool = False
    onBadPoint: str = "pass"
    valueField: str = "value"
    rawScoreField: str = "raw_score"
    likelihoodField: str = "anomaly_likelihood"
    scoreField: str = "anomaly_score"
    predictionField: str = "prediction"
    checkpointEvery: int = 1000
    checkpointInterval: int = 600 * 10**9  # ns (10 minutes)

    def model_params(self) -> dict:
        """The options that shape a model; a stored model with other values is not reused."""
        return {
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

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dc_fields(self)}


@dataclass(frozen=True)
class OptionSpec:
    name: str
    type: int
    meaning: str
    check: Callable[[Any], str | None] = lambda v: None  # returns a problem text or None


def _positive(v):
    return None if v > 0 else "a value > 0"


def _non_negative(v):
    return None if v >= 0 else "a value >= 0"


def _finite_bound(v):
    return None if abs(v) <= MAX_ABS_RANGE else f"a finite value with |value| <= {MAX_ABS_RANGE:g}"


def _choice(choices):
    def check(v):
        return None if v in choices else "one of " + ", ".join(repr(c) for c in choices)

    return check


def _name(v):
    return None if v.strip() and "\n" not in v else "a non-empty name"


OPTION_SPECS: dict[str, OptionSpec] = {
    s.name: s
    for s in (
        OptionSpec("field", STRING, "input field to model (required)", _name),
        OptionSpec("min", DOUBLE, "lower bound of the raw data range (else learned in warm-up)", _finite_bound),
        OptionSpec("max", DOUBLE, "upper bound of the raw data range (else learned in warm-up)", _finite_bound),
        OptionSpec("warmup", INT, "points buffered per group to learn a missing min/max", _positive),
        OptionSpec("resolution", DOUBLE, "RDSE resolution (default: NAB rule from the range)", _positive),
        OptionSpec("timeOfDay", BOOL, "encode the time of day"),
        OptionSpec("weekend", BOOL, "encode weekend/weekday"),
        OptionSpec("predictionSteps", INT, "emit a prediction this many steps ahead (0 = off)",
                   lambda v: None if 0 <= v <= 100 else "a value from 0 to 100"),
        OptionSpec("probation", INT, "likelihood probation period in records (default 750)", _positive),
        OptionSpec("tm", STRING, "temporal memory implementation", _choice(TM_CHOICES)),
        OptionSpec("tail", STRING, "likelihood tail convention", _choice(TAIL_CHOICES)),
        OptionSpec("measurement", STRING, "output measurement (default: <input name>_htm)", _name),
        OptionSpec("keepFields", BOOL, "also copy the input point's fields to the output"),
        OptionSpec("onBadPoint", STRING, "what to do with an unusable point", _choice(BAD_POINT_CHOICES)),
        OptionSpec("valueField", STRING, "output field name for the input value", _name),
        OptionSpec("rawScoreField", STRING, "output field name for the raw anomaly score", _name),
        OptionSpec("likelihoodField", STRING, "output field name for the anomaly likelihood", _name),
        OptionSpec("scoreField", STRING, "output field name for the final anomaly score", _name),
        OptionSpec("predictionField", STRING, "output field name for the prediction", _name),
        OptionSpec("checkpointEvery", INT, "checkpoint a model after this many points", _positive),
        OptionSpec("checkpointInterval", DURATION, "checkpoint a model at least this often", _positive),
    )
}

_OUTPUT_NAME_OPTIONS = ("valueField", "rawScoreField", "likelihoodField", "scoreField", "predictionField")


def info_options(response) -> None:
    """Declare every option (one argument each) in an InfoResponse."""
    for spec in OPTION_SPECS.values():
        response.options[spec.name].valueTypes.append(spec.type)


def _value_of(spec: OptionSpec, option) -> Any:
    if len(option.values) != 1:
        raise OptionError(
            f"option .{spec.name}() takes 1 argument of type {TYPE_NAMES[spec.type]}, got {len(option.values)}"
        )
    ov = option.values[0]
    given = ov.type
    if given == INT and spec.type == DOUBLE:
        return float(ov.intValue)
    if given != spec.type:
        hint = " (write e.g. 0.0, not 0)" if spec.type == DOUBLE else ""
        raise OptionError(
            f"option .{spec.name}() expects {TYPE_NAMES[spec.type]}, got {TYPE_NAMES.get(given, given)}{hint}"
        )
    value = getattr(ov, _VALUE_ATTR[spec.type])
    if spec.type == DOUBLE and value != value:
        raise OptionError(f"option .{spec.name}() expects a number, got NaN")
    return value


def parse_options(options) -> HtmOptions:
    """Validate the InitRequest's options; raises OptionError naming the option and what was expected."""
    values: dict[str, Any] = {}
    for option in options:
        spec = OPTION_SPECS.get(option.name)
        if spec is None:
            known = ", ".join(sorted(OPTION_SPECS))
            raise OptionError(f"unknown option .{option.name}(); known options: {known}")
        if option.name in values:
            raise OptionError(f"option .{option.name}() given more than once")
        value = _value_of(spec, option)
        problem = spec.check(value)
        if problem:
            raise OptionError(f"option .{spec.name}() expects {problem}, got {value!r}")
        values[option.name] = value
    if "field" not in values:
        raise OptionError("option .field() is required: name the input field to model, e.g. .field('value')")
    lo, hi = values.get("min"), values.get("max")
    if lo is not None and hi is not None and not lo < hi:
        raise OptionError(f"option .min() must be less than .max(), got min={lo!r} max={hi!r}")
    names = [values.get(n, HtmOptions.__dataclass_fields__[n].default) for n in _OUTPUT_NAME_OPTIONS]
    if len(set(names)) != len(names):
        raise OptionError(
            "options .valueField(), .rawScoreField(), .likelihoodField(), .scoreField(), .predictionField() "
            f"must name distinct fields, got {names}"
        )
    return HtmOptions(**values)
