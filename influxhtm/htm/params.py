"""OPF model parameters: NAB's `numenta` preset, the engine face's defaults and limits (defined here once;
the detector, the UDF options and the CLI import them), and the translation of OPF param dicts into the
engine's typed `ModelConfig`.

`anomaly_params()` returns the dict NuPIC's `getScalarMetricWithTimeOfDayAnomalyParams` gives NAB (with
NAB's encoder keys), so `ModelFactory.create(anomaly_params(...))` is NAB's numenta model.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Optional

from influxhtm._engine import InvalidParams, ModelConfig

if TYPE_CHECKING:  # the engine's typed dicts exist in its stub only
    from influxhtm._engine import (
        BacktrackingParams,
        ClassifierParams,
        EncoderParams,
        SpatialPoolerParams,
        TemporalMemoryParams,
    )

#: NAB pads the observed range by this fraction on both sides.
RANGE_PADDING = 0.2
#: The RDSE resolution is the padded range divided by this (NuPIC's `numBuckets`).
NUM_BUCKETS = 130.0
MIN_RESOLUTION = 0.001
#: NAB's probation: 15 % of the file, at most 750 records.
PROBATION_FRACTION = 0.15
NAB_MAX_PROBATION = 750
#: The probation when none is given: NAB's cap (what its longer files get).
DEFAULT_PROBATION = NAB_MAX_PROBATION

#: The sequence memories: NuPIC's backtracking TM (NAB's `numenta`) and the TemporalMemory (`numentaTM`).
TM_CHOICES = ("backtracking", "tm")
DEFAULT_TM = "backtracking"
#: Likelihood tail conventions; the default is the one of NAB's published results (NuPIC <= 0.5.7).
TAILS = ("one-sided", "two-sided")
DEFAULT_TAIL = "one-sided"

#: The detectors: NuPIC's exactly (NAB's `numenta`, the default) and the opt-in ensemble (HTM + ARTime,
#: fused; DESIGN.md §7).
DETECTORS = ("numenta", "ensemble")
DEFAULT_DETECTOR = "numenta"

#: NuPIC's AnomalyLikelihood history window and re-estimation period (records), as NAB runs them.
HISTORIC_WINDOW_SIZE = 8640
REESTIMATION_PERIOD = 100
#: The longest probation the detector takes: NAB splits it into a learning half and an estimation half,
#: and the estimation samples must fit in the likelihood's history window (NuPIC refuses otherwise).
PROBATION_LIMIT = 2 * HISTORIC_WINDOW_SIZE

_SP_PARAMS = {
    "spVerbosity": 0,
    "spatialImp": "cpp",
    "globalInhibition": 1,
    "columnCount": 2048,
    "inputWidth": 0,
    "numActiveColumnsPerInhArea": 40,
    "seed": 1956,
    "potentialPct": 0.8,
    "synPermConnected": 0.2,
    "synPermActiveInc": 0.003,
    "synPermInactiveDec": 0.0005,
    "boostStrength": 0.0,
}
_BACKTRACKING_TM_PARAMS = {
    "verbosity": 0,
    "columnCount": 2048,
    "cellsPerColumn": 32,
    "inputWidth": 2048,
    "seed": 1960,
    "temporalImp": "cpp",
    "newSynapseCount": 20,
    "maxSynapsesPerSegment": 32,
    "maxSegmentsPerCell": 128,
    "initialPerm": 0.21,
    "permanenceInc": 0.1,
    "permanenceDec": 0.1,
    "globalDecay": 0.0,
    "maxAge": 0,
    "minThreshold": 10,
    "activationThreshold": 13,
    "outputType": "normal",
    "pamLength": 3,
}
_TEMPORAL_MEMORY_PARAMS = {
    "verbosity": 0,
    "columnCount": 2048,
    "cellsPerColumn": 32,
    "inputWidth": 2048,
    "seed": 1960,
    "temporalImp": "tm_cpp",
    "newSynapseCount": 31,
    "maxSynapsesPerSegment": 128,
    "maxSegmentsPerCell": 128,
    "initialPerm": 0.24,
    "permanenceInc": 0.04,
    "permanenceDec": 0.008,
    "predictedSegmentDecrement": 0.001,
    "globalDecay": 0.0,
    "maxAge": 0,
    "minThreshold": 13,
    "activationThreshold": 20,
    "outputType": "normal",
    "pamLength": 3,
}
CLASSIFIER_ALPHA = 0.035828933612158


def nab_encoder_range(min_value: float, max_value: float):
    """NAB's padded encoder range (minVal, maxVal) for data spanning [min_value, max_value]."""
    padding = abs(max_value - min_value) * RANGE_PADDING
    lo, hi = min_value - padding, max_value + padding
    if lo == hi:
        hi = lo + 1
    return lo, hi


def nab_resolution(encoder_min: float, encoder_max: float) -> float:
    """NuPIC's RDSE resolution rule: max(0.001, (maxVal - minVal) / 130)."""
    return max(MIN_RESOLUTION, (encoder_max - encoder_min) / NUM_BUCKETS)


def nab_probation(rows: int) -> int:
    """NAB's probationary period for a file of `rows` records."""
    return int(min(math.floor(PROBATION_FRACTION * rows), PROBATION_FRACTION * 5000))


def length_for_probation(probation: int) -> int:
    """The shortest NAB file length whose probation is at least `probation` (NAB caps it at 750): what the
    ensemble's ARTime part is told when the series' length is not known, as in a stream, so that its
    warm-up matches the probation."""
    if probation >= NAB_MAX_PROBATION:
        return 5000
    return max(1, math.ceil(probation / PROBATION_FRACTION))


def anomaly_params(
    min_value: float,
    max_value: float,
    *,
    tm: str = DEFAULT_TM,
    resolution: Optional[float] = None,
    time_of_day: bool = True,
    weekend: bool = False,
    prediction_steps: int = 0,
) -> dict:
    """The OPF model params NAB's `numenta` detector (or `numentaTM` with tm="tm") uses for data in
    [min_value, max_value]: NAB's 20 % padding and resolution rule, time-of-day + RDSE encoders.
    `prediction_steps > 0` turns the SDR classifier on for that many steps ahead. Raises InvalidParams
    (a ValueError) for values the engine cannot use."""
    for name, v in (("min_value", min_value), ("max_value", max_value)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise InvalidParams(f"{name} must be a finite number, got {v!r}")
    if min_value > max_value:
        raise InvalidParams(f"min_value ({min_value}) must not exceed max_value ({max_value})")
    if tm not in TM_CHOICES:
        raise InvalidParams(f"tm must be one of {TM_CHOICES}, got {tm!r}")
    if resolution is None:
        resolution = nab_resolution(*nab_encoder_range(min_value, max_value))
        if not math.isfinite(resolution):
            raise InvalidParams(f"the range [{min_value}, {max_value}] is too wide for the value encoder")
    elif (
        isinstance(resolution, bool)
        or not isinstance(resolution, (int, float))
        or not (math.isfinite(resolution) and resolution > 0)
    ):
        raise InvalidParams(f"resolution must be a positive finite number, got {resolution!r}")
    if isinstance(prediction_steps, bool) or not isinstance(prediction_steps, int) or prediction_steps < 0:
        raise InvalidParams(f"prediction_steps must be a non-negative integer, got {prediction_steps!r}")
    encoders = {
        "timestamp_dayOfWeek": None,
        "timestamp_timeOfDay": (
            {"fieldname": "timestamp", "name": "timestamp", "timeOfDay": [21, 9.49], "type": "DateEncoder"}
            if time_of_day
            else None
        ),
        "timestamp_weekend": (
            {"fieldname": "timestamp", "name": "timestamp", "weekend": 21, "type": "DateEncoder"} if weekend else None
        ),
        "value": {
            "fieldname": "value",
            "name": "value",
            "resolution": resolution,
            "seed": 42,
            "type": "RandomDistributedScalarEncoder",
        },
    }
    return {
        "aggregationInfo": {
            "days": 0,
            "fields": [],
            "hours": 0,
            "microseconds": 0,
            "milliseconds": 0,
            "minutes": 0,
            "months": 0,
            "seconds": 0,
            "weeks": 0,
            "years": 0,
        },
        "model": "HTMPrediction",
        "predictAheadTime": None,
        "version": 1,
        "modelParams": {
            "inferenceType": "TemporalAnomaly",
            "sensorParams": {"verbosity": 0, "encoders": encoders, "sensorAutoReset": None},
            "spEnable": True,
            "spParams": copy.deepcopy(_SP_PARAMS),
            "tmEnable": True,
            "tmParams": copy.deepcopy(_BACKTRACKING_TM_PARAMS if tm == DEFAULT_TM else _TEMPORAL_MEMORY_PARAMS),
            "clEnable": prediction_steps > 0,
            "clParams": {
                "alpha": CLASSIFIER_ALPHA,
                "regionName": "SDRClassifierRegion",
                "steps": str(prediction_steps or 1),
                "verbosity": 0,
            },
            "anomalyParams": {"anomalyCacheRecords": None, "autoDetectThreshold": None, "autoDetectWaitRecords": 5030},
            "trainSPNetOnlyIfRequested": False,
        },
    }


def _pair(value, what: str) -> tuple[int, float]:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return int(value[0]), float(value[1])
    raise InvalidParams(f"{what} must be [width, radius], got {value!r}")


def _date_encoders(spec: dict, key: str) -> list[EncoderParams]:
    """The sub-encoders of one DateEncoder, in NuPIC's fixed order."""
    for unsupported in ("season", "customDays", "holiday"):
        if spec.get(unsupported):
            raise InvalidParams(f"encoder {key!r}: the DateEncoder aspect {unsupported!r} is not supported")
    out: list[EncoderParams] = []
    if spec.get("dayOfWeek"):
        w, radius = _pair(spec["dayOfWeek"], f"encoder {key!r} dayOfWeek")
        out.append({"type": "day_of_week", "w": w, "radius": radius})
    if spec.get("weekend"):
        weekend = spec["weekend"]
        w = int(weekend[0]) if isinstance(weekend, (list, tuple)) else int(weekend)
        out.append({"type": "weekend", "w": w})
    if spec.get("timeOfDay"):
        w, radius = _pair(spec["timeOfDay"], f"encoder {key!r} timeOfDay")
        out.append({"type": "time_of_day", "w": w, "radius": radius})
    return out


def _encoders(model_params: dict) -> tuple[list[EncoderParams], str, Optional[str]]:
    """The engine's encoders (in NuPIC's sorted key order), the value field and the date field."""
    encoders_spec = model_params.get("sensorParams", {}).get("encoders")
    if not encoders_spec:
        raise InvalidParams("modelParams.sensorParams.encoders is missing or empty")
    encoders: list[EncoderParams] = []
    value_field: Optional[str] = None
    date_field: Optional[str] = None
    for key in sorted(encoders_spec):
        spec = encoders_spec[key]
        if spec is None:
            continue
        kind = spec.get("type")
        if kind == "DateEncoder":
            date_field = spec.get("fieldname", "timestamp")
            encoders.extend(_date_encoders(spec, key))
        elif kind == "RandomDistributedScalarEncoder":
            if value_field is not None:
                raise InvalidParams("only one scalar field per model is supported")
            if "resolution" not in spec:
                raise InvalidParams(f"encoder {key!r} needs a 'resolution' (use anomaly_params() to derive one)")
            value_field = spec.get("fieldname", key)
            encoders.append(
                {
                    "type": "rdse",
                    "resolution": float(spec["resolution"]),
                    "w": int(spec.get("w", 21)),
                    "n": int(spec.get("n", 400)),
                    "seed": int(spec.get("seed", 42)),
                }
            )
        else:
            raise InvalidParams(
                f"encoder {key!r}: type {kind!r} is not supported "
                "(supported: DateEncoder, RandomDistributedScalarEncoder)"
            )
    if value_field is None:
        raise InvalidParams("the model needs a RandomDistributedScalarEncoder for its value field")
    return encoders, value_field, date_field


def spatial_pooler_params(model_params: dict) -> SpatialPoolerParams:
    """The engine's spatial pooler params from `modelParams.spParams` (NAB's values as defaults)."""
    sp = {**_SP_PARAMS, **model_params.get("spParams", {})}
    if not sp.get("globalInhibition"):
        raise InvalidParams("spParams.globalInhibition must be on (local inhibition is not supported)")
    return {
        "column_count": int(sp["columnCount"]),
        "potential_pct": float(sp["potentialPct"]),
        "global_inhibition": True,
        "num_active_columns_per_inh_area": int(sp["numActiveColumnsPerInhArea"]),
        "stimulus_threshold": int(sp.get("stimulusThreshold", 0)),
        "syn_perm_active_inc": float(sp["synPermActiveInc"]),
        "syn_perm_inactive_dec": float(sp["synPermInactiveDec"]),
        "syn_perm_connected": float(sp["synPermConnected"]),
        "min_pct_overlap_duty_cycle": float(sp.get("minPctOverlapDutyCycle", 0.001)),
        "duty_cycle_period": int(sp.get("dutyCyclePeriod", 1000)),
        "boost_strength": float(sp["boostStrength"]),
        "seed": int(sp["seed"]),
        "wrap_around": bool(sp.get("wrapAround", True)),
    }


def _backtracking(tm: dict) -> BacktrackingParams:
    t = {**_BACKTRACKING_TM_PARAMS, **tm}
    if t.get("globalDecay", 0.0) != 0.0 or t.get("maxAge", 0) != 0:
        raise InvalidParams("tmParams: only globalDecay=0 and maxAge=0 are supported")
    return {
        "type": "backtracking",
        "number_of_cols": int(t["columnCount"]),
        "cells_per_column": int(t["cellsPerColumn"]),
        "activation_threshold": int(t["activationThreshold"]),
        "min_threshold": int(t["minThreshold"]),
        "new_synapse_count": int(t["newSynapseCount"]),
        "initial_perm": float(t["initialPerm"]),
        "connected_perm": float(t.get("connectedPerm", 0.5)),
        "permanence_inc": float(t["permanenceInc"]),
        "permanence_dec": float(t["permanenceDec"]),
        "permanence_max": float(t.get("permanenceMax", 1.0)),
        "global_decay": 0.0,
        "max_age": 0,
        "max_segments_per_cell": int(t["maxSegmentsPerCell"]),
        "max_synapses_per_segment": int(t["maxSynapsesPerSegment"]),
        "pam_length": int(t["pamLength"]),
        "max_inf_backtrack": int(t.get("maxInfBacktrack", 10)),
        "max_lrn_backtrack": int(t.get("maxLrnBacktrack", 5)),
        "max_seq_length": int(t.get("maxSeqLength", 32)),
        "seed": int(t["seed"]),
    }


def _temporal_memory(tm: dict) -> TemporalMemoryParams:
    t = {**_TEMPORAL_MEMORY_PARAMS, **tm}
    return {
        "type": "temporal_memory",
        "column_count": int(t["columnCount"]),
        "cells_per_column": int(t["cellsPerColumn"]),
        "activation_threshold": int(t["activationThreshold"]),
        "min_threshold": int(t["minThreshold"]),
        "max_new_synapse_count": int(t["newSynapseCount"]),
        "initial_permanence": float(t["initialPerm"]),
        "connected_permanence": float(t.get("connectedPerm", 0.5)),
        "permanence_increment": float(t["permanenceInc"]),
        "permanence_decrement": float(t["permanenceDec"]),
        "predicted_segment_decrement": float(t.get("predictedSegmentDecrement", 0.0)),
        "max_segments_per_cell": int(t["maxSegmentsPerCell"]),
        "max_synapses_per_segment": int(t["maxSynapsesPerSegment"]),
        "seed": int(t["seed"]),
    }


def sequence_memory_params(model_params: dict, columns: int) -> BacktrackingParams | TemporalMemoryParams:
    """The engine's sequence memory from `modelParams.tmParams` (backtracking TM or TemporalMemory)."""
    tm = model_params.get("tmParams", {})
    if int(tm.get("columnCount", columns)) != columns:
        raise InvalidParams("tmParams.columnCount must equal spParams.columnCount")
    imp = tm.get("temporalImp", "cpp")
    if imp in ("cpp", "py"):
        return _backtracking(tm)
    if imp in ("tm_cpp", "tm_py"):
        return _temporal_memory(tm)
    raise InvalidParams(f"tmParams.temporalImp {imp!r} is not supported (cpp, py, tm_cpp, tm_py)")


def classifier_params(model_params: dict, enabled_by_default: bool = False) -> Optional[ClassifierParams]:
    """The SDR classifier's params, or None when `clEnable` is off (NuPIC's default is on; NAB's params
    always say)."""
    if not model_params.get("clEnable", enabled_by_default):
        return None
    cl = model_params.get("clParams", {})
    steps = [int(s) for s in str(cl.get("steps", "1")).split(",") if s.strip()]
    if not steps or min(steps) < 0:
        raise InvalidParams(f"clParams.steps must list non-negative integers, got {cl.get('steps')!r}")
    return {
        "steps": steps,
        "alpha": float(cl.get("alpha", 0.001)),
        "act_value_alpha": float(cl.get("actValueAlpha", 0.3)),
    }


def engine_config(params: dict) -> tuple[ModelConfig, str, Optional[str]]:
    """Translates an OPF model-params dict (the `modelConfig` handed to ModelFactory.create, or just
    its `modelParams`) into the engine's typed config. Returns (config, predicted_field, date_field).
    Anything the engine cannot reproduce faithfully is rejected with a clear InvalidParams (a ValueError)."""
    model_params = params.get("modelParams", params)
    if not isinstance(model_params, dict):
        raise InvalidParams("params must be an OPF model-params dict with a 'modelParams' entry")
    inference = model_params.get("inferenceType", "TemporalAnomaly")
    if inference != "TemporalAnomaly":
        raise InvalidParams(f"inferenceType {inference!r} is not supported (only 'TemporalAnomaly')")
    if not model_params.get("spEnable", True) or not model_params.get("tmEnable", True):
        raise InvalidParams("spEnable and tmEnable must be true for an anomaly model")
    encoders, value_field, date_field = _encoders(model_params)
    sp = spatial_pooler_params(model_params)
    config = ModelConfig(
        encoders=encoders,
        sp=sp,
        sequence_memory=sequence_memory_params(model_params, sp["column_count"]),
        classifier=classifier_params(model_params),
    )
    return config, value_field, date_field
