"""NuPIC's canned anomaly-model params (``nupic.frameworks.opf.common_models.cluster_params``).

``getScalarMetricWithTimeOfDayAnomalyParams`` returns the params of NuPIC's best single-metric anomaly
model (the ones NAB's ``numenta`` and ``numentaTM`` detectors use), with the timestamp as input ``c0``
(time of day encoded) and the metric as input ``c1`` (a random distributed scalar encoder whose resolution
follows the metric's range). The model values come from ``influxhtm.htm.params``.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy

from influxhtm.htm.params import MIN_RESOLUTION, NUM_BUCKETS, anomaly_params

#: NuPIC's tmImplementation names and the sequence memory each selects in influxhtm.htm.params
_TM_BY_IMPLEMENTATION = {"cpp": "backtracking", "tm_cpp": "tm"}
#: the input (field) names NuPIC's canned params use
TIMESTAMP_FIELD = "c0"
METRIC_FIELD = "c1"


def getScalarMetricWithTimeOfDayAnomalyParams(
    metricData: Any,
    minVal: Optional[float] = None,
    maxVal: Optional[float] = None,
    minResolution: Optional[float] = None,
    tmImplementation: str = "cpp",
) -> dict[str, Any]:
    """A dict with ``modelConfig`` (for ``ModelFactory.create``) and ``inferenceArgs`` (for the model's
    ``enableInference``) of a TemporalAnomaly model for one scalar metric ``c1`` timestamped by ``c0``.

    `minVal` / `maxVal` default to the data's min - stdev / max + stdev (a stdev of 0 counts as 1); equal
    bounds become [minVal, minVal + 1]. The metric encoder's resolution is
    max(minResolution, (maxVal - minVal) / 130), `minResolution` defaulting to 0.001. `tmImplementation`
    "cpp" selects the backtracking TM, "tm_cpp" the TemporalMemory; anything else is a ValueError.
    """
    if minResolution is None:
        minResolution = MIN_RESOLUTION
    if minVal is None or maxVal is None:
        dataMin, dataMax = _rangeGen(metricData)
        minVal = dataMin if minVal is None else minVal
        maxVal = dataMax if maxVal is None else maxVal
    if minVal == maxVal:
        maxVal = minVal + 1
    if tmImplementation not in _TM_BY_IMPLEMENTATION:
        raise ValueError("Invalid string for tmImplementation. Try cpp or tm_cpp")

    resolution = max(minResolution, (maxVal - minVal) / NUM_BUCKETS)
    # With the resolution given, anomaly_params only checks the bounds; NuPIC accepts them in either order.
    low, high = sorted((float(minVal), float(maxVal)))
    modelConfig = anomaly_params(low, high, tm=_TM_BY_IMPLEMENTATION[tmImplementation], resolution=float(resolution))
    encoders = modelConfig["modelParams"]["sensorParams"]["encoders"]
    modelConfig["modelParams"]["sensorParams"]["encoders"] = {
        f"{TIMESTAMP_FIELD}_timeOfDay": {
            **encoders["timestamp_timeOfDay"],
            "fieldname": TIMESTAMP_FIELD,
            "name": TIMESTAMP_FIELD,
        },
        f"{TIMESTAMP_FIELD}_dayOfWeek": None,
        f"{TIMESTAMP_FIELD}_weekend": None,
        METRIC_FIELD: {**encoders["value"], "fieldname": METRIC_FIELD, "name": METRIC_FIELD},
    }
    return {
        "inferenceArgs": {"predictionSteps": [1], "predictedField": METRIC_FIELD, "inputPredictedField": "auto"},
        "modelConfig": modelConfig,
    }


def _rangeGen(data: Any, std: float = 1) -> tuple[float, float]:
    """The data's min and max widened by `std` standard deviations (a zero deviation counts as 1)."""
    dataStd = numpy.std(data)
    if dataStd == 0:
        dataStd = 1
    return numpy.min(data) - std * dataStd, numpy.max(data) + std * dataStd
