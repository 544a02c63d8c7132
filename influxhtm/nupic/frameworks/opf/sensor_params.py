"""The sensor of an OPF model from its params (influxhtm's, not a NuPIC module): which fields a record has,
which encoder reads which field in NuPIC's MultiEncoder order (sorted encoder keys), and which encoder gives
the classifier its input. Anything NuPIC accepts that influxhtm cannot reproduce is refused by name."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Optional

from influxhtm._engine import InvalidParams
from influxhtm.htm.timestamps import wall_clock_seconds
from influxhtm.nupic import encoders as nupic_encoders

if TYPE_CHECKING:  # the engine's typed dicts exist in its stub only
    from influxhtm._engine import FieldEncoder

#: NuPIC encoder types whose objects the engine runs directly (the class takes the spec as kwargs).
_ENCODER_CLASSES = {
    "ScalarEncoder": nupic_encoders.ScalarEncoder,
    "AdaptiveScalarEncoder": nupic_encoders.AdaptiveScalarEncoder,
    "LogEncoder": nupic_encoders.LogEncoder,
    "DeltaEncoder": nupic_encoders.DeltaEncoder,
    "CategoryEncoder": nupic_encoders.CategoryEncoder,
    "SDRCategoryEncoder": nupic_encoders.SDRCategoryEncoder,
    "RandomDistributedScalarEncoder": nupic_encoders.RandomDistributedScalarEncoder,
    "DateEncoder": nupic_encoders.DateEncoder,
}
#: NuPIC encoders this engine does not have; a params dict that uses one is refused with its name.
UNSUPPORTED_ENCODERS = (
    "GeospatialCoordinateEncoder",
    "CoordinateEncoder",
    "PassThroughEncoder",
    "SparsePassThroughEncoder",
    "ScalarSpaceEncoder",
    "MultiEncoder",
    "VectorEncoder",
)

#: Field kinds: what a record's value must be for the engine.
NUMBER, TIME, TEXT = "float", "datetime", "string"


@dataclass
class SensorField:
    """One input field: its name, what kind of value it holds, and NuPIC's field-info type."""

    name: str
    kind: str


@dataclass
class SensorSpec:
    """What the sensor needs: the record's fields, and one engine encoder entry per encoder."""

    fields: list[SensorField] = field(default_factory=list)
    #: (params key, field index, NuPIC encoder object, classifierOnly)
    encoders: list[tuple[str, int, Any, bool]] = field(default_factory=list)
    #: the encoder objects by params key (NuPIC's `model._getEncoder()` children)
    objects: dict[str, Any] = field(default_factory=dict)

    def field_index(self, name: str, kind: str) -> int:
        """The index of field `name`, added on first sight."""
        for i, f in enumerate(self.fields):
            if f.name == name:
                return i
        self.fields.append(SensorField(name, kind))
        return len(self.fields) - 1

    def engine_encoders(self, predicted_field: Optional[str]) -> list[FieldEncoder]:
        """The engine's encoder list for a model predicting `predicted_field` (None: no classifier input)."""
        predicted = None if predicted_field is None else self.field_position(predicted_field)
        has_classifier_only = any(only and idx == predicted for _, idx, _, only in self.encoders)
        predicted_taken = False
        out: list[FieldEncoder] = []
        for _key, idx, encoder, only in self.encoders:
            role: Literal["input", "predicted", "classifier_only"]
            if only:
                if idx != predicted:
                    continue  # only the predicted field's classifierOnly encoder feeds the classifier
                role = "classifier_only"
            elif idx == predicted and not (has_classifier_only or predicted_taken):
                role, predicted_taken = "predicted", True
            else:
                role = "input"
            engine: Any = encoder._engine
            out.append({"type": "field", "field": idx, "role": role, "encoder": engine})
        return out

    def field_position(self, name: str) -> int:
        for i, f in enumerate(self.fields):
            if f.name == name:
                return i
        raise InvalidParams(f"predictedField {name!r} is not a field of the model's encoders")


def sensor_spec(encoders_spec: Any) -> SensorSpec:
    """Builds NuPIC's encoders from `sensorParams.encoders` (keys sorted, None entries skipped)."""
    if not isinstance(encoders_spec, dict) or not encoders_spec:
        raise InvalidParams("modelParams.sensorParams.encoders is missing or empty")
    spec = SensorSpec()
    for key in sorted(encoders_spec):
        entry = encoders_spec[key]
        if entry is None:
            continue
        if not isinstance(entry, dict):
            raise InvalidParams(f"encoder {key!r} must be a dict, got {entry!r}")
        kwargs = dict(entry)
        kind = kwargs.pop("type", None)
        field_name = kwargs.pop("fieldname", None)
        only = bool(kwargs.pop("classifierOnly", False))
        if field_name is None:
            raise InvalidParams(f"encoder {key!r} has no 'fieldname'")
        if kind in _ENCODER_CLASSES:
            kwargs.setdefault("name", field_name)
            try:
                obj = _ENCODER_CLASSES[kind](**kwargs)
            except TypeError as e:
                raise InvalidParams(f"encoder {key!r} ({kind}): {e}") from None
            field_kind = {"CategoryEncoder": TEXT, "SDRCategoryEncoder": TEXT, "DateEncoder": TIME}.get(kind, NUMBER)
            idx = spec.field_index(field_name, field_kind)
            spec.encoders.append((key, idx, obj, only))
            spec.objects[key] = obj
        elif kind in UNSUPPORTED_ENCODERS:
            raise InvalidParams(f"encoder {key!r}: {kind} is not supported by influxhtm")
        else:
            raise InvalidParams(f"encoder {key!r}: unknown encoder type {kind!r}")
    if not any(not only for *_, only in spec.encoders):
        raise InvalidParams("the model needs at least one encoder that is not classifierOnly")
    return spec


def _engine_value(field: SensorField, value: Any) -> Any:
    """One field's value as the engine takes it (see `record_values`)."""
    if value is None:
        return None
    if field.kind == NUMBER:
        if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)):
            return float(value)
        raise InvalidParams(f"field {field.name!r} must be a number, got {value!r}")
    if field.kind == TEXT:
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date, str)):
        return wall_clock_seconds(value)
    raise InvalidParams(f"field {field.name!r} must be a datetime, got {value!r}")


def record_values(spec: SensorSpec, record: dict) -> list:
    """A record dict as the engine's field list: floats for numbers, naive wall-clock seconds (int) for
    datetimes, str for categories, None for a missing value (NuPIC's sentinel)."""
    try:
        return [_engine_value(f, record[f.name]) for f in spec.fields]
    except KeyError as e:
        raise InvalidParams(f"the record has no {e.args[0]!r} field") from None
