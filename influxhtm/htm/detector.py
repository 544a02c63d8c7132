"""`AnomalyDetector`: one series' detector (value → raw score, likelihood, final score): NAB's `numenta`
exactly, or the opt-in ensemble (HTM + ARTime, fused; DESIGN.md §7)."""

import json
from collections.abc import Sequence
from typing import NamedTuple, Optional

from influxhtm import _engine
from influxhtm._engine import InvalidParams
from influxhtm.htm.likelihood import likelihood_params
from influxhtm.htm.params import (
    DEFAULT_DETECTOR,
    DEFAULT_PROBATION,
    DEFAULT_TAIL,
    DEFAULT_TM,
    DETECTORS,
    HISTORIC_WINDOW_SIZE,
    PROBATION_LIMIT,
    REESTIMATION_PERIOD,
    TAILS,
    anomaly_params,
    engine_config,
    length_for_probation,
)
from influxhtm.htm.timestamps import DEFAULT_TIMEZONE, engine_seconds, local_seconds, time_zone


class Scores(NamedTuple):
    """The scores of one record (DESIGN.md §4 names)."""

    raw_score: float
    anomaly_likelihood: float
    anomaly_score: float
    prediction: Optional[float]
    #: the model is within its probation (`AnomalyDetector.is_learning(records_seen)`); None if not known
    learning: Optional[bool] = None
    #: records the model has learned, this one included (1 for its first record); None if not known
    records_seen: Optional[int] = None

    @classmethod
    def of(cls, scores: _engine.DetectorScores, records_seen: int, learning: bool) -> "Scores":
        return cls(
            float(scores.raw_score),
            scores.anomaly_likelihood,
            scores.anomaly_score,
            scores.best_prediction,
            learning,
            records_seen,
        )


class AnomalyDetector:
    """Scores one series exactly like NAB's `numenta` detector (spatial-anomaly rule included).

    `min_value`/`max_value` are the raw data range; NAB's 20 % padding and resolution rule are applied
    here. `probation` is the likelihood's learning + estimation period (NAB: 15 % of the file, at most
    750; default 750; at most PROBATION_LIMIT). `tm="tm"` selects the TemporalMemory (NAB's `numentaTM`).
    `prediction_steps > 0` enables the SDR classifier and fills `Scores.prediction`. `timezone` (an IANA
    name, default "UTC") is the zone whose wall clock the time-of-day and weekend encoders see: epoch
    seconds (`handle_epoch(s)`) and aware datetimes are instants shown in that zone, naive datetimes are
    wall clocks already (in a UTC model an aware datetime keeps NuPIC's rule: its own wall clock). The zone
    is saved with the state (states saved before it existed load as UTC).

    `detector="ensemble"` makes `anomaly_score` the ensemble's (HTM's final score and ARTime's, calibrated
    to alert at 0.5 and fused with a refractory period; `raw_score` and `anomaly_likelihood` stay HTM's).
    Its ARTime part reads the range from `min_value`/`max_value` and the warm-up from `length` (the
    series' length, as NAB tells every detector; default: the length whose NAB probation is `probation`).

    Every `Scores` says whether the model is still learning: `records_seen` is k for the model's k-th
    record (1-based) and `learning` is `is_learning(k)`, i.e. k <= probation.

    Parameters the engine cannot use raise InvalidParams (a ValueError). If the engine panics while
    scoring, the call raises EnginePanic and the detector is poisoned (`poisoned` says why): every
    later call raises EnginePanic too; load the last checkpoint or create a new detector.
    """

    def __init__(
        self,
        min_value: float,
        max_value: float,
        *,
        probation: Optional[int] = None,
        tail: str = DEFAULT_TAIL,
        tm: str = DEFAULT_TM,
        prediction_steps: int = 0,
        time_of_day: bool = True,
        weekend: bool = False,
        resolution: Optional[float] = None,
        timezone: str = DEFAULT_TIMEZONE,
        detector: str = DEFAULT_DETECTOR,
        length: Optional[int] = None,
    ):
        if detector not in DETECTORS:
            raise InvalidParams(f"detector must be one of {DETECTORS}, got {detector!r}")
        try:
            zone = time_zone(timezone)
        except ValueError as exc:
            raise InvalidParams(str(exc)) from None
        if tail not in TAILS:
            raise InvalidParams(f"tail must be one of {TAILS}, got {tail!r}")
        if probation is None:
            probation = DEFAULT_PROBATION
        whole = isinstance(probation, int) or (isinstance(probation, float) and probation.is_integer())
        if isinstance(probation, bool) or not whole or not 0 <= probation <= PROBATION_LIMIT:
            raise InvalidParams(
                f"probation must be an integer from 0 to {PROBATION_LIMIT} (its estimation half must fit in the "
                f"likelihood's {HISTORIC_WINDOW_SIZE}-record history), got {probation!r}"
            )
        probation = int(probation)
        params = anomaly_params(
            min_value,
            max_value,
            tm=tm,
            resolution=resolution,
            time_of_day=time_of_day,
            weekend=weekend,
            prediction_steps=prediction_steps,
        )
        config, _, _ = engine_config(params)
        learning_period = probation // 2
        likelihood = likelihood_params(
            learning_period, probation - learning_period, HISTORIC_WINDOW_SIZE, REESTIMATION_PERIOD, tail
        )
        settings = {
            "min_value": min_value,
            "max_value": max_value,
            "probation": probation,
            "tail": tail,
            "tm": tm,
            "prediction_steps": prediction_steps,
            "time_of_day": time_of_day,
            "weekend": weekend,
            "resolution": params["modelParams"]["sensorParams"]["encoders"]["value"]["resolution"],
            "timezone": timezone,
            "detector": detector,
        }
        ensemble = None
        if detector == "ensemble":
            if length is None:
                length = length_for_probation(probation)
            if isinstance(length, bool) or not isinstance(length, int) or length < 1:
                raise InvalidParams(f"length must be a positive integer (the series' records), got {length!r}")
            settings["length"] = length
            ensemble = (float(min_value), float(max_value), length)
        self._engine = _engine.Detector(config, likelihood, json.dumps(settings), ensemble)
        self.settings = settings
        self._zone = zone

    @property
    def timezone(self) -> str:
        """The IANA name of the zone the date encoders see ("UTC" for states saved before zones existed)."""
        return self.settings.get("timezone", DEFAULT_TIMEZONE)

    @property
    def detector(self) -> str:
        """Which detector scores: "numenta" (NuPIC's, states saved before the choice existed) or "ensemble"."""
        return self.settings.get("detector", DEFAULT_DETECTOR)

    @property
    def probation(self) -> int:
        """The likelihood's probation in records."""
        return int(self.settings["probation"])

    def is_learning(self, records_seen: int) -> bool:
        """The one definition of "still learning": the model's `records_seen`-th record (1-based, that
        record included) is within its probation."""
        return records_seen <= self.probation

    @property
    def learning(self) -> bool:
        """The last record handled was within the probation (True before the first record)."""
        return self.is_learning(max(self.records_seen, 1))

    def _scores(self, scores: _engine.DetectorScores, records_seen: int) -> Scores:
        return Scores.of(scores, records_seen, self.is_learning(records_seen))

    @property
    def records_seen(self) -> int:
        """Records handled so far."""
        return self._engine.records_seen

    @property
    def memory_bytes(self) -> int:
        """Approximate heap bytes of the engine's structures (the basis of the UDF's memory budget)."""
        return self._engine.memory_bytes

    @property
    def poisoned(self) -> Optional[str]:
        """Why the detector refuses to work (the message of the engine panic that poisoned it), or None."""
        return self._engine.poisoned

    def handle(self, timestamp, value: float) -> Scores:
        """Scores one record. Raises InvalidParams (and changes nothing) for a non-finite or non-numeric value."""
        return self._handle_local(engine_seconds(timestamp, self._zone), value)

    def _handle_local(self, local: int, value: float) -> Scores:
        scores = self._engine.handle(local, _number(value))
        return self._scores(scores, self._engine.records_seen)

    def handle_epoch(self, seconds: int, value: float) -> Scores:
        """Like `handle`, with the time as whole seconds since 1970-01-01 00:00:00 UTC (an instant: its wall
        clock in the detector's time zone is what the date encoders see)."""
        return self._handle_local(local_seconds(seconds, self._zone), value)

    def handle_epochs(self, seconds: Sequence[int], values: Sequence[float]) -> list[Scores]:
        """`handle_epoch` for many records in one engine call (a backlog). Values must be finite numbers;
        a bad one raises InvalidParams naming its index, with the records before it applied."""
        floats = [_number(value) for value in values]
        local = [local_seconds(s, self._zone) for s in seconds]
        results = self._engine.handle_many(local, floats)
        first = self._engine.records_seen - len(results) + 1
        return [self._scores(s, first + i) for i, s in enumerate(results)]

    def handle_traced(self, timestamp, value: float) -> tuple[Scores, dict]:
        """Like `handle`, plus a dict of the model's internals (bucket, encoding, SP columns, predicted
        columns, active cells, segment/synapse counts, spatial flag) for parity debugging."""
        scores, trace = self._engine.handle_traced(engine_seconds(timestamp, self._zone), _number(value))
        internals = {
            "b": scores.bucket,
            "enc": trace.encoding,
            "sp": trace.active_columns,
            "pc": trace.predicted_columns,
            "ac": trace.active_cells,
            "segs": trace.segments,
            "syns": trace.synapses,
            "sp_anom": scores.spatial_anomaly,
        }
        return self._scores(scores, self._engine.records_seen), internals

    def save(self) -> bytes:
        """The detector's complete state (versioned, checksummed, no pickle)."""
        return self._engine.save()

    def copy(self) -> "AnomalyDetector":
        """An independent copy (same state, same future), e.g. to save while the original goes on."""
        obj = type(self).__new__(type(self))
        obj._engine = self._engine.copy()
        obj.settings = self.settings
        obj._zone = self._zone
        return obj

    @classmethod
    def load(cls, blob: bytes) -> "AnomalyDetector":
        """Restores a detector saved with `save()`; it continues exactly as the original would. A blob that
        is not a detector state raises CorruptState (a ValueError)."""
        obj = cls.__new__(cls)
        obj._engine = _engine.Detector.load(bytes(blob))
        obj.settings = json.loads(obj._engine.settings)
        obj.settings.setdefault("timezone", DEFAULT_TIMEZONE)  # saved before zones existed: UTC
        try:
            obj._zone = time_zone(obj.settings["timezone"])
        except ValueError as exc:  # e.g. a zone this machine's tz database does not know
            raise InvalidParams(f"the saved detector's {exc}") from None
        return obj


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParams(f"value must be a number, got {value!r}")
    try:
        return float(value)
    except OverflowError:
        raise InvalidParams(f"value must be a finite number, got {value!r}") from None
