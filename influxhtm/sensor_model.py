"""``HtmSensorModel``: the HTM model of one sensor, its metadata in the model store, its results in InfluxDB."""

from __future__ import annotations

import datetime as _dt
import logging
import sys
from typing import TYPE_CHECKING

from .influxql import Nanos, from_ns, line, qualified_measurement, quote_ident, quote_literal, to_ns
from .results import HtmModelResults, prefer_current_tag
from .schema import (
    ANOMALY_LIKELIHOOD,
    ANOMALY_SCORE,
    LEARNING,
    PREDICTION,
    RAW_SCORE,
    RECORDS_SEEN,
    RESULT_FIELDS,
    SOURCE_FIELD_TAG,
    VALUE,
    log_scaled_likelihood,
    result_fields,
    result_measurement,
    result_series_filters,
    result_tags,
)
from .sensor import time_range

if TYPE_CHECKING:
    from .htm import AnomalyLikelihood

__all__ = ["DETECTOR_OPTIONS", "HtmSensorModel"]

log = logging.getLogger("influxhtm.library")

#: keyword arguments of influxhtm.htm.AnomalyDetector that a model may be created with
DETECTOR_OPTIONS = (
    "min_value",
    "max_value",
    "probation",
    "tail",
    "tm",
    "prediction_steps",
    "time_of_day",
    "weekend",
    "resolution",
    "timezone",
    "detector",
    "length",
)
#: aggregations that also apply to the boolean ``learning`` field (the others leave it out: None)
_BOOLEAN_AGGREGATES = ("first", "last", "mode")

BACKFILL_CHUNK = 5000


class HtmSensorModel:
    """The HTM model attached to a :class:`Sensor`.

    Its metadata (source database, retention policy, measurement, tags, field, detector options,
    created, records seen, last time processed) and its checkpoint live in the model store shared with
    the UDF (``client.model_store``), under :attr:`model_id`. Its results go to the result schema:
    measurement ``<measurement>_htm``, the sensor's tags plus ``source_field``, float fields, boolean
    ``learning`` and integer ``records_seen`` (results written under the old tag ``field`` are read too).

    ``timezone`` (an IANA name, default ``"UTC"``) is the zone whose wall clock the time-of-day and weekend
    encoders see; it is stored with the model.

    ``options`` are ``influxhtm.htm.AnomalyDetector``'s keyword arguments; ``min_value``/``max_value``
    default to the range of the sensor's stored data when the detector is first needed.
    """

    def __init__(self, sensor, model_id: str | None = None, **options):
        unknown = set(options) - set(DETECTOR_OPTIONS)
        if unknown:
            raise ValueError(f"unknown model options {sorted(unknown)}; known: {', '.join(DETECTOR_OPTIONS)}")
        if "timezone" in options:
            from .htm.timestamps import time_zone

            time_zone(options["timezone"])  # an unknown zone fails here, not at the first backfill
        from .store import model_id_for

        self.sensor = sensor
        self.client = sensor.client
        self.model_id = model_id or model_id_for(
            "library",
            sensor.database,
            sensor.retention_policy or "",
            sensor.measurement,
            sensor.tag_key,
            sensor.component or "",
            sensor.field,
        )
        self.result_measurement = result_measurement(sensor.measurement, self.client.result_suffix)
        self.result_tags = result_tags(sensor.tags, sensor.field)
        self._detector = None
        self._unwritten: tuple[list, int] | None = None  # (result lines, last time) scored, not yet written
        self._likelihood: AnomalyLikelihood | None = None
        self._options = dict(options)
        store = self.client.model_store
        if not store.exists(self.model_id):
            store.write_metadata(self.model_id, self._new_metadata(options))

    def _new_metadata(self, options: dict):
        from .store import ModelMetadata

        s = self.sensor
        return ModelMetadata(
            origin="library",
            database=s.database,
            retention_policy=s.retention_policy,
            measurement=s.measurement,
            source_field=s.field,
            tags=dict(s.tags),
            tag_key=s.tag_key,
            component=s.component,
            result_measurement=self.result_measurement,
            detector_options=dict(options),
        )

    def _quarantine(self, problem: Exception) -> None:
        """Move the unloadable stored model aside (never deleted) and start a new one with the same
        detector options (the stored ones if they are readable, else this object's)."""
        from .store import StoreError

        store = self.client.model_store
        try:
            options = store.metadata(self.model_id).detector_options
        except StoreError:
            options = self._options
        entry = store.quarantine(self.model_id, f"cannot be loaded: {problem}")
        log.warning(
            "model %s (%r): cannot be loaded (%s); moved to %s; starting a new model",
            self.model_id,
            self.sensor,
            problem,
            entry.path,
        )
        store.write_metadata(self.model_id, self._new_metadata(options))
        self._detector = None

    def __repr__(self) -> str:
        return f"HtmSensorModel({self.model_id!r}, sensor={self.sensor!r})"

    # -- metadata ----------------------------------------------------------------------------------

    @property
    def metadata(self):
        """The model's :class:`influxhtm.store.ModelMetadata` record as kept in the model store (an
        unreadable one is quarantined and a new model started)."""
        from .store import ModelNotFoundError, StoreError

        store = self.client.model_store
        try:
            return store.metadata(self.model_id)
        except ModelNotFoundError:
            raise
        except StoreError as exc:
            self._quarantine(exc)
            return store.metadata(self.model_id)

    @property
    def records_seen(self) -> int:
        """Records the detector has learned from (by backfill)."""
        if self._detector is not None:
            return self._detector.records_seen
        return self.metadata.records_seen

    @property
    def last_time(self) -> _dt.datetime | None:
        """Time of the last record the detector has seen (aware UTC), or None."""
        ns = self._last_time_ns()
        return None if ns is None else from_ns(ns)

    def _last_time_ns(self):
        return self.metadata.last_time_ns

    def delete(self, drop_results: bool = False) -> None:
        """Remove the model from the store; with ``drop_results`` also delete its result series (those
        under the old tag ``field`` too)."""
        self.client.model_store.delete(self.model_id)
        self._detector = None
        self._unwritten = None
        if drop_results:
            for tags in result_series_filters(self.sensor.tags, self.sensor.field):
                where = " AND ".join(f"{quote_ident(k)} = {quote_literal(v)}" for k, v in sorted(tags.items()))
                self.client.query(
                    f"DROP SERIES FROM {quote_ident(self.result_measurement)} WHERE {where}", method="POST"
                )

    # -- detector ----------------------------------------------------------------------------------

    @property
    def detector(self):
        """The ``influxhtm.htm.AnomalyDetector`` (restored from the store, or created on first use)."""
        if self._detector is None:
            self._detector = self._restored_detector() or self._new_detector()
        return self._detector

    def _restored_detector(self):
        """The detector of the store's checkpoint + journal; None before the first checkpoint. A model that
        cannot be loaded (corrupt, a newer format, refused by the engine) is quarantined: None."""
        from .htm import AnomalyDetector
        from .store import ModelNotFoundError, StoreError

        store = self.client.model_store
        try:
            stored = store.load(self.model_id)
            detector = None if stored.blob is None else AnomalyDetector.load(stored.blob)
        except ModelNotFoundError:
            raise
        except (StoreError, ValueError) as exc:
            self._quarantine(exc)
            return None
        if detector is not None:
            last_ns = stored.metadata.last_time_ns
            for entry in stored.journal:  # inputs accepted after the checkpoint
                detector.handle(from_ns(entry.time_ns), entry.value)
                last_ns = entry.time_ns
            if stored.journal:
                store.save_checkpoint(
                    self.model_id,
                    detector.save(),
                    stored.metadata.replace(last_time_ns=last_ns, records_seen=detector.records_seen),
                )
        return detector

    def _new_detector(self):
        from .htm import AnomalyDetector

        store = self.client.model_store
        options = dict(self.metadata.detector_options)
        if options.get("min_value") is None or options.get("max_value") is None:
            low, high = self._data_range()
            if options.get("min_value") is None:
                options["min_value"] = low
            if options.get("max_value") is None:
                options["max_value"] = high
            store.update_metadata(self.model_id, detector_options=options)
        return AnomalyDetector(**options)

    def _data_range(self) -> tuple[float, float]:
        s = self.sensor
        source = qualified_measurement(s.measurement, s.database, s.retention_policy)
        rows = self.client.select_series(source, [s.field], s.tags, aggregation={"method": "min"})
        high_rows = self.client.select_series(source, [s.field], s.tags, aggregation={"method": "max"})
        if not rows or rows[0].get(s.field) is None:
            raise ValueError(
                f"{s!r} has no data to take min_value/max_value from; "
                "pass them to get_model(min_value=..., max_value=...)"
            )
        return float(rows[0][s.field]), float(high_rows[0][s.field])

    # -- results -----------------------------------------------------------------------------------

    def _scores_from(self, result, timestamp, value) -> tuple:
        """(time, value, raw, likelihood, score, prediction, learning, records_seen) from any accepted
        result type (learning and records_seen None where the result does not say)."""
        if hasattr(result, "inferences") and hasattr(result, "rawInput"):  # OPF ModelResult
            raw_input, inferences = result.rawInput, result.inferences
            timestamp = raw_input.get("timestamp") if timestamp is None else timestamp
            if value is None:
                value = raw_input.get(self.sensor.field, raw_input.get("value"))
            raw = inferences.get("anomalyScore")
            likelihood = inferences.get("anomalyLikelihood")
            if likelihood is None and raw is not None:
                likelihood = self._opf_likelihood(value, raw, timestamp)
            predictions = inferences.get("multiStepBestPredictions") or {}
            prediction = predictions[min(predictions)] if predictions else None  # the nearest step
            score = None if likelihood is None else log_scaled_likelihood(likelihood)
            return timestamp, value, raw, likelihood, score, prediction, None, None
        if hasattr(result, "raw_score") and hasattr(result, "anomaly_score"):  # Scores / HtmModelResults
            timestamp = getattr(result, "time", None) if timestamp is None else timestamp
            value = getattr(result, "value", None) if value is None else value
            return (
                timestamp,
                value,
                result.raw_score,
                result.anomaly_likelihood,
                result.anomaly_score,
                result.prediction,
                getattr(result, LEARNING, None),
                getattr(result, RECORDS_SEEN, None),
            )
        if isinstance(result, dict):
            timestamp = result.get("time", result.get("timestamp")) if timestamp is None else timestamp
            value = result.get(VALUE) if value is None else value
            return (
                timestamp,
                value,
                result.get(RAW_SCORE),
                result.get(ANOMALY_LIKELIHOOD),
                result.get(ANOMALY_SCORE),
                result.get(PREDICTION),
                result.get(LEARNING),
                result.get(RECORDS_SEEN),
            )
        raise TypeError(
            f"cannot write {type(result).__name__}: pass an OPF ModelResult, the detector's "
            "Scores (with timestamp= and value=), an HtmModelResults or a dict"
        )

    def _line(self, fields: dict, time_ns: int) -> str:
        return line(self.result_measurement, self.result_tags, fields, time_ns, integers=(RECORDS_SEEN,))

    def _opf_likelihood(self, value, raw, timestamp):
        """Likelihood for OPF results that carry only the raw score (in-memory, per model object)."""
        if self._likelihood is None:
            from .htm import AnomalyLikelihood

            self._likelihood = AnomalyLikelihood()
        return self._likelihood.anomalyProbability(value, raw, timestamp)

    def write(self, result, timestamp=None, value=None) -> int:
        """Write result points (``<measurement>_htm``, sensor tags + ``source_field``, float fields); returns
        how many.

        ``result`` is an OPF ``ModelResult`` (``rawInput`` gives time and value; when it has no
        ``anomalyLikelihood``, one is computed by an ``AnomalyLikelihood`` this object keeps in memory,
        and ``anomaly_score`` is its log scaling), the detector's ``Scores`` (then pass ``timestamp``
        and ``value``), an :class:`HtmModelResults`, a dict with the schema's field names, or a list of
        any of these (written in batches).
        """
        results = result if isinstance(result, list) else [result]
        lines = []
        for item in results:
            time, item_value, raw, likelihood, score, prediction, learning, seen = self._scores_from(
                item, timestamp, value
            )
            if time is None:
                raise ValueError("result has no timestamp: pass timestamp=")
            if raw is None:
                raise ValueError("result has no raw anomaly score")
            fields = result_fields(item_value, raw, likelihood, score, prediction, learning, seen)
            lines.append(self._line(fields, to_ns(time)))
        return self.client.write_lines(lines, retention_policy=self.sensor.retention_policy)

    def get_results(
        self, since=None, until=None, limit: int | None = None, aggregation: dict | None = None, fill="none"
    ) -> list[HtmModelResults]:
        """The model's results, oldest first; same arguments and first/last-N rules as ``Sensor.get_data``.

        With ``aggregation`` every field is aggregated with the same method. Results written under the
        old tag ``field`` are read as well; where a point sits under both tags (copied by
        ``influxhtm migrate-results``, old one not dropped yet), the new one is returned, except that
        ``limit`` and aggregations still see both until the old series are dropped.
        """
        source = qualified_measurement(self.result_measurement, self.sensor.database, self.sensor.retention_policy)
        filters = result_series_filters(self.sensor.tags, self.sensor.field)
        raw = aggregation is None and len(filters) > 1
        fields = list(RESULT_FIELDS)
        if aggregation is not None and str(aggregation.get("method", "")).lower() not in _BOOLEAN_AGGREGATES:
            fields.remove(LEARNING)  # InfluxDB cannot take the mean (etc.) of a boolean
        rows = self.client.select_series(
            source,
            fields,
            filters,
            since=since,
            until=until,
            limit=limit,
            aggregation=aggregation,
            fill=fill,
            tag_columns=[SOURCE_FIELD_TAG] if raw else (),
        )
        if raw:
            rows = prefer_current_tag(rows)
        return [HtmModelResults.from_row(row) for row in rows]

    # -- backfill ----------------------------------------------------------------------------------

    def backfill(self, since=None, until=None, *, chunk_size: int = BACKFILL_CHUNK, progress: bool = True) -> int:
        """Run the detector over the sensor's stored history and write the results; returns how many records
        it scored and wrote (counting a chunk an earlier call scored but could not write).

        Resumable: each chunk is read, scored, its results written, and only then the detector
        checkpointed to the model store with the time of the last record it saw; a later call continues
        after that time (records at or before it are never fed twice). Records with a time equal to the
        previous one are skipped. Progress goes to stderr (tqdm) unless ``progress=False``.

        While InfluxDB is unreachable the client retries each read and write (``client.retry``) and the
        scored chunk waits for its write. When the retry deadline passes, the error is raised with the
        chunk still unwritten and the checkpoint at the chunk before; the next ``backfill()`` of this
        object writes that chunk first (not scoring it again), a new object re-scores it from the
        checkpoint. Results are points keyed by time, so a chunk written twice is stored once.
        """
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        since_ns, until_ns = time_range(since, until)
        flushed = self._flush_unwritten() if self._unwritten is not None else 0
        return flushed + self._backfill(since_ns, until_ns, chunk_size, progress)

    def _backfill(self, since_ns, until_ns, chunk_size: int, progress: bool) -> int:
        """Backfill from the checkpoint: the records after it (within since/until)."""
        if self._detector is None:  # resume (or quarantine an unloadable model) before reading its progress
            self._detector = self._restored_detector()
        last_ns = self._last_time_ns()
        start_ns = since_ns
        if last_ns is not None and (start_ns is None or start_ns <= last_ns):
            start_ns = last_ns + 1
        if until_ns is not None and start_ns is not None and start_ns > until_ns:
            return 0
        s = self.sensor
        source = qualified_measurement(s.measurement, s.database, s.retention_policy)
        if start_ns is None:  # read forwards from the first record (a bare `until` would mean "last N")
            first, _ = s.get_time_bounds()
            if first is None:
                return 0
            start_ns = to_ns(first)
        total = self._count(source, start_ns, until_ns)
        if not total:
            return 0
        try:
            return self._run_backfill(source, start_ns, until_ns, last_ns, total, chunk_size, progress)
        except BaseException:
            if self._unwritten is None:
                self._detector = None  # ahead of its checkpoint: the next call reloads it from the store
            raise

    def _flush_unwritten(self) -> int:
        """Write the scored chunk a failed backfill left, then checkpoint the detector that scored it."""
        assert self._unwritten is not None and self._detector is not None
        lines, last_ns = self._unwritten
        self._write_and_checkpoint(lines, last_ns)
        return len(lines)

    def _write_and_checkpoint(self, lines: list, last_ns) -> None:
        """Write a scored chunk (the client retries), then checkpoint: the store never gets ahead of
        InfluxDB. If the write fails for good, the chunk is kept for the next backfill()."""
        store, detector = self.client.model_store, self._detector
        assert detector is not None
        self._unwritten = (lines, last_ns)
        self.client.write_lines(lines, retention_policy=self.sensor.retention_policy)
        self._unwritten = None
        store.save_checkpoint(
            self.model_id,
            detector.save(),
            store.metadata(self.model_id).replace(last_time_ns=last_ns, records_seen=detector.records_seen),
        )

    def _run_backfill(self, source, start_ns, until_ns, last_ns, total, chunk_size, progress) -> int:
        from tqdm import tqdm

        s, detector = self.sensor, self.detector
        done = 0
        with tqdm(
            total=total, unit="rec", file=sys.stderr, disable=not progress, desc=f"backfill {s.measurement}"
        ) as bar:
            while True:
                rows = self.client.select_series(
                    source,
                    [s.field],
                    s.tags,
                    since=Nanos(start_ns),
                    until=_nanos(until_ns),
                    limit=chunk_size,
                    time_as_ns=True,
                )
                if not rows:
                    break
                lines = []
                for row in rows:
                    t_ns = row["time"]
                    if last_ns is not None and t_ns <= last_ns:
                        continue
                    value = float(row[s.field])
                    scores = detector.handle(from_ns(t_ns), value)
                    fields = result_fields(
                        value,
                        scores.raw_score,
                        scores.anomaly_likelihood,
                        scores.anomaly_score,
                        scores.prediction,
                        scores.learning,
                        scores.records_seen,
                    )
                    lines.append(self._line(fields, t_ns))
                    last_ns = t_ns
                self._write_and_checkpoint(lines, last_ns)
                done += len(lines)
                bar.update(len(rows))
                start_ns = rows[-1]["time"] + 1
                if len(rows) < chunk_size:
                    break
        return done

    def _count(self, source: str, since_ns, until_ns) -> int | None:
        rows = self.client.select_series(
            source,
            [self.sensor.field],
            self.sensor.tags,
            since=_nanos(since_ns),
            until=_nanos(until_ns),
            aggregation={"method": "count"},
        )
        return int(rows[0][self.sensor.field]) if rows else 0

    # camelCase names of the 2016 seed
    getResults = get_results


def _nanos(ns):
    return None if ns is None else Nanos(ns)
