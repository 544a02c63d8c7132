"""`AnomalyDetector`: NAB's `numenta` detector for one series (value → raw score, likelihood, final score)."""

import json
from typing import NamedTuple, Optional, Sequence

from influxhtm import _engine
from influxhtm.htm.likelihood import TAILS
from influxhtm.htm.params import MAX_PROBATION, anomaly_params, engine_config
from influxhtm.htm.timestamps import wall_clock_seconds

HISTORIC_WINDOW_SIZE = 8640
REESTIMATION_PERIOD = 100


class Scores(NamedTuple):
    """The scores of one record (DESIGN.md §4 names)."""
    raw_score: float
    anomaly_likelihood: float
    anomaly_score: float
    prediction: Optional[float]


class AnomalyDetector:
    """Scores one series exactly like NAB's `numenta` detector (spatial-anomaly rule included).

    `min_value`/`max_value` are the raw data range; NAB's 20 % padding and resolution rule are applied
    here. `probation` is the likelihood's learning + estimation period (NAB: 15 % of the file, at most
    750; default 750). `tm="tm"` selects the TemporalMemory (NAB's `numentaTM`). `prediction_steps > 0`
    enables the SDR classifier and fills `Scores.prediction`.
    """

    def __init__(self, min_value: float, max_value: float, *, probation: Optional[int] = None,
                 tail: str = "one-sided", tm: str = "backtracking", prediction_steps: int = 0,
                 time_of_day: bool = True, weekend: bool = False, resolution: Optional[float] = None):
        if tail not in TAILS:
            raise ValueError(f"tail must be one of {TAILS}, got {tail!r}")
        if probation is None:
            probation = MAX_PROBATION
        if int(probation) != probation or probation < 0:
            raise ValueError(f"probation must be a non-negative integer, got {probation!r}")
        probation = int(probation)
        params = anomaly_params(min_value, max_value, tm=tm, resolution=resolution, time_of_day=time_of_day,
                                weekend=weekend, prediction_steps=prediction_steps)
        config, _, _ = engine_config(params)
        learning_period = probation // 2
        settings = {"min_value": min_value, "max_value": max_value, "probation": probation, "tail": tail, "tm": tm,
                    "prediction_steps": prediction_steps, "time_of_day": time_of_day, "weekend": weekend,
                    "resolution": params["modelParams"]["sensorParams"]["encoders"]["value"]["resolution"]}
        self._engine = _engine.Detector(json.dumps(config), learning_period, probation - learning_period,
                                        HISTORIC_WINDOW_SIZE, REESTIMATION_PERIOD, tail, json.dumps(settings))
        self.settings = settings

    @property
    def records_seen(self) -> int:
        """Records handled so far."""
        return self._engine.records_seen

    def handle(self, timestamp, value: float) -> Scores:
        """Scores one record. Raises ValueError (and changes nothing) for a non-finite or non-numeric value."""
        return self.handle_epoch(wall_clock_seconds(timestamp), value)

    def handle_epoch(self, seconds: int, value: float) -> Scores:
        """Like `handle`, with the time as whole seconds since 1970-01-01 00:00:00 UTC (its wall clock is
        what the date encoders see)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"value must be a number, got {value!r}")
        raw, likelihood, final, _spatial, prediction = self._engine.handle(seconds, float(value))
        return Scores(float(raw), likelihood, final, prediction)

    def handle_epochs(self, seconds: Sequence[int], values: Sequence[float]) -> list[Scores]:
        """`handle_epoch` for many records in one engine call (a backlog). Values must be finite numbers;
        a bad one raises ValueError naming its index, with the records before it applied."""
        floats = []
        for value in values:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"value must be a number, got {value!r}")
            floats.append(float(value))
        return [Scores(float(raw), likelihood, final, prediction)
                for raw, likelihood, final, _spatial, prediction in self._engine.handle_many(list(seconds), floats)]

    def handle_traced(self, timestamp, value: float):
        """Like `handle`, plus a dict of the model's internals (bucket, encoding, SP columns, predicted
        columns, active cells, segment/synapse counts, spatial flag) for parity debugging."""
        (raw, likelihood, final, spatial, prediction), trace = self._engine.handle_traced(
            wall_clock_seconds(timestamp), float(value))
        trace["sp_anom"] = spatial
        return Scores(float(raw), likelihood, final, prediction), trace

    def save(self) -> bytes:
        """The detector's complete state (versioned, checksummed, no pickle)."""
        return self._engine.save()

    def copy(self) -> "AnomalyDetector":
        """An independent copy (same state, same future), e.g. to save while the original goes on."""
        obj = type(self).__new__(type(self))
        obj._engine = self._engine.copy()
        obj.settings = self.settings
        return obj

    @classmethod
    def load(cls, blob: bytes) -> "AnomalyDetector":
        """Restores a detector saved with `save()`; it continues exactly as the original would."""
        obj = cls.__new__(cls)
        obj._engine = _engine.Detector.load(bytes(blob))
        obj.settings = json.loads(obj._engine.settings)
        return obj

