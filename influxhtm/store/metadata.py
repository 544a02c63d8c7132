"""`ModelMetadata`: the one typed metadata record of a stored model, whoever made it (UDF or library).

Written as ``metadata.json`` beside the model's checkpoint. The JSON carries ``"format"`` and ``"version"``;
readers convert every version ever written:

- version 1 (no ``"format"`` key): the two untyped dicts written before this record existed, the UDF's
  (``task``, ``node``, ``group``, ``template``, ``options`` = the ``@htm()`` options, ``model_params``,
  ``last_time``) and the library's (``"source": "library"``, ``options`` = the detector's keyword
  arguments, ``last_time_ns``, ``tag_key``, ``component``, ``result_measurement``).
- version 2: this record.

Fields this version does not know (written by a newer version, or left over from an old one) are kept in
``extra`` and written back unchanged, so an older reader never drops what a newer writer stored.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field
from typing import Any

__all__ = ["METADATA_FORMAT", "METADATA_VERSION", "ORIGINS", "MetadataError", "ModelMetadata", "utc_now"]

METADATA_FORMAT = "influxhtm-model-metadata"
METADATA_VERSION = 2
ORIGINS = ("udf", "library")


class MetadataError(ValueError):
    """A metadata document that is not a JSON object or has a field of the wrong type."""


def utc_now() -> str:
    """The current time as an ISO 8601 string with a UTC offset (the format of `created`/`updated`)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


@dataclass
class ModelMetadata:
    """What the store knows about a model besides its state: where its inputs come from, how it was made,
    how far it got. ``origin`` says which part made it: ``"udf"`` (a Kapacitor ``@htm()`` node's group,
    keyed by ``task``/``node``/``group``) or ``"library"`` (an ``HtmSensorModel`` of one sensor); another
    value, from a newer release, is kept as it is."""

    origin: str = "udf"
    # the modelled series
    database: str = ""
    retention_policy: str | None = None
    measurement: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    source_field: str = ""
    # UDF models: the Kapacitor task node and group the model belongs to
    task: str | None = None
    node: str | None = None
    group: str | None = None
    template: dict[str, Any] = field(default_factory=dict)  # series identity of the group's points
    udf_options: dict[str, Any] = field(default_factory=dict)  # the @htm() node's options
    model_params: dict[str, Any] | None = None  # the options that shape the model (compared on resume)
    # library models: the sensor and where its results go
    tag_key: str | None = None
    component: str | None = None
    result_measurement: str | None = None
    # the detector and its progress
    detector_options: dict[str, Any] = field(default_factory=dict)  # influxhtm.htm.AnomalyDetector kwargs
    records_seen: int = 0
    last_time_ns: int | None = None
    warming_up: bool = False
    created: str = field(default_factory=utc_now)
    updated: str = ""
    # format versions of the last checkpoint written: {"checkpoint": 1, "journal": 1, "engine": 2}
    state_format: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    # ---- JSON --------------------------------------------------------------------------------
    def to_json(self) -> dict:
        """The record as a JSON object (unknown fields kept in `extra` go back at the top level)."""
        out = dict(self.extra)
        for f in dataclasses.fields(self):
            if f.name != "extra":
                out[f.name] = _copy(getattr(self, f.name))
        out["format"] = METADATA_FORMAT
        out["version"] = METADATA_VERSION
        return out

    @classmethod
    def from_json(cls, value: Any) -> ModelMetadata:
        """The record from a JSON object of any version (see the module docstring)."""
        if not isinstance(value, dict):
            raise MetadataError(f"metadata is a JSON {type(value).__name__}, not an object")
        if value.get("format") == METADATA_FORMAT:
            fields = dict(value)
            del fields["format"]
            version = fields.pop("version", METADATA_VERSION)
            if not isinstance(version, int) or version < 2:
                raise MetadataError(f"metadata version {version!r} is not a version this format ever had")
        elif value.get("source") == "library":
            fields = _from_library_v1(value)
        else:
            fields = _from_udf_v1(value)
        return cls._typed(fields)

    @classmethod
    def _typed(cls, fields: dict) -> ModelMetadata:
        known = {f.name: f for f in dataclasses.fields(cls) if f.name != "extra"}
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for name, raw in fields.items():
            if name not in known:
                extra[name] = raw
                continue
            kwargs[name] = _check(name, raw)
        kwargs.setdefault("created", "")  # unknown, not now
        return cls(**kwargs, extra=extra)

    # ---- convenience -------------------------------------------------------------------------
    def replace(self, **changes) -> ModelMetadata:
        """A copy with some fields changed (unknown names raise TypeError)."""
        return dataclasses.replace(self, **changes)


# field -> (accepted JSON types, may be null)
_TYPES: dict[str, tuple[tuple[type, ...], bool]] = {
    "origin": ((str,), False),
    "database": ((str,), False),
    "retention_policy": ((str,), True),
    "measurement": ((str,), False),
    "tags": ((dict,), False),
    "source_field": ((str,), False),
    "task": ((str,), True),
    "node": ((str,), True),
    "group": ((str,), True),
    "template": ((dict,), False),
    "udf_options": ((dict,), False),
    "model_params": ((dict,), True),
    "tag_key": ((str,), True),
    "component": ((str,), True),
    "result_measurement": ((str,), True),
    "detector_options": ((dict,), False),
    "records_seen": ((int,), False),
    "last_time_ns": ((int,), True),
    "warming_up": ((bool,), False),
    "created": ((str,), False),
    "updated": ((str,), False),
    "state_format": ((dict,), False),
}
_NULL_DEFAULTS = {
    "database": "",
    "measurement": "",
    "source_field": "",
    "tags": {},
    "template": {},
    "udf_options": {},
    "detector_options": {},
    "records_seen": 0,
    "warming_up": False,
    "created": "",
    "updated": "",
    "state_format": {},
}


def _check(name: str, raw: Any) -> Any:
    types, nullable = _TYPES[name]
    if raw is None:
        if nullable:
            return None
        if name in _NULL_DEFAULTS:  # an old writer's null where the record has a default
            return _copy(_NULL_DEFAULTS[name])
    if int in types and isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, bool) and bool not in types:
        raise MetadataError(f"metadata field {name!r} is a boolean, expected {types[0].__name__}")
    if not isinstance(raw, types):
        raise MetadataError(f"metadata field {name!r} is {type(raw).__name__} {raw!r}, expected {types[0].__name__}")
    return _copy(raw)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _from_udf_v1(old: dict) -> dict:
    """The UDF's metadata dict of version 1 in the record's field names."""
    fields = dict(old)
    fields["origin"] = "udf"
    if "field" in fields:
        fields["source_field"] = fields.pop("field")
    if "options" in fields:
        fields["udf_options"] = fields.pop("options")
    if "last_time" in fields:
        fields["last_time_ns"] = fields.pop("last_time")
    return fields


def _from_library_v1(old: dict) -> dict:
    """The library's metadata dict of version 1 in the record's field names."""
    fields = dict(old)
    del fields["source"]
    fields["origin"] = "library"
    if "field" in fields:
        fields["source_field"] = fields.pop("field")
    if "options" in fields:
        fields["detector_options"] = fields.pop("options")
    for name in ("task", "node", "group"):  # written as null by the library
        if fields.get(name) is None:
            fields.pop(name, None)
    return fields
