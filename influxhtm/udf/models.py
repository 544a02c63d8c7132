"""Per-group HTM models keyed by (task, node, group), their warm-up and their persistence.

One `ModelRegistry` lives per server process and is shared by all connections, so a task that
reconnects finds its models in memory (or, after a restart or an eviction, in the state directory).
Every accepted input is appended to the model's journal before the model sees it; a model is
restored as checkpoint + journal replay, which reproduces its state exactly. Checkpoints that fall
due while a stream runs are written in the background (see checkpointer.py); at shutdown, eviction
and the end of a warm-up they are written at once. A stored model that cannot be resumed (corrupt, a
newer format, refused by the engine, or made with other model options) is quarantined by the store,
never deleted, and the group starts a new model.

Storage faults (a full disk, a quota, an I/O error, the state dir removed or made read-only, a short
write) never stop the scoring. A journal append that fails puts that model's persistence in the DEGRADED
state: its inputs are learned and answered but no longer journaled (nothing is buffered: the model itself
is the state to save). On its next point after 1 s, 2 s, 4 s ... (at most 60 s) it tries to write its
whole state afresh (`ModelStore.save_state`: its directory made again if needed, a checkpoint newer than
anything on disk, a fresh journal); once that lands the model is durable again. A checkpoint that fails
while the journal works loses nothing (checkpoint + journals still reproduce the model): it is counted
and logged, and tried again when due. `StorageHealth` logs one line per model and cause, keeps the
metrics, and a small status file per server process that `influxhtm models list` reads.
"""

from __future__ import annotations

import collections
import errno
import json
import logging
import os
import threading
import time
from typing import Callable, NamedTuple

from influxhtm.fileio import write_in_place
from influxhtm.htm import AnomalyDetector, EngineError
from influxhtm.store import (
    FencedError,
    JournalEntry,
    ModelMetadata,
    ModelStore,
    ShortWriteError,
    StoreError,
    model_id_for,
)
from influxhtm.store.metadata import utc_now

from .checkpointer import Checkpointer, CheckpointJob
from .metrics import UdfMetrics
from .options import HtmOptions
from .points import point_from_template

log = logging.getLogger("influxhtm.udf")


def epoch_seconds(time_ns: int) -> int:
    """Kapacitor's ns since the epoch as the engine's whole seconds (UTC wall clock)."""
    return time_ns // 1_000_000_000


def detector_options(options: HtmOptions, lo: float, hi: float) -> dict:
    """AnomalyDetector's keyword arguments for a group's model with the range [lo, hi]."""
    return {
        "min_value": lo,
        "max_value": hi,
        "probation": options.probation,
        "tail": options.tail,
        "tm": options.tm,
        "prediction_steps": options.predictionSteps,
        "time_of_day": options.timeOfDay,
        "weekend": options.weekend,
        "resolution": options.resolution,
        "timezone": options.timezone,
        "detector": options.detector,
    }


def new_detector(options: HtmOptions, lo: float, hi: float) -> AnomalyDetector:
    return AnomalyDetector(**detector_options(options, lo, hi))


RETRY_FIRST = 1.0  # seconds until a degraded model first tries to write its state again
RETRY_MAX = 60.0  # ... doubling up to this
STATUS_PREFIX = "udf-status-"  # <state-dir>/udf-status-<pid>.json: the degraded models of a live server
STATUS_RESERVE = 64 * 1024  # allocated when the server starts, so that rewriting it needs no new space
MEMORY_REFRESH_POINTS = 64  # a grown model's memory estimate is refreshed after this many learned points
WARMUP_POINT_BYTES = 512  # rough bytes of one buffered warm-up point (its protobuf message and tuple)
BUDGET_CHECK_EVERY = 256  # model look-ups between two checks of the resident models against the budget


def errno_name(exc: BaseException) -> str:
    """A short cause of a failed write: the errno's name (ENOSPC, EIO, ...), short_write, fenced (another
    model host owns the model now, cluster mode) or other."""
    if isinstance(exc, ShortWriteError):
        return "short_write"
    if isinstance(exc, FencedError):
        return "fenced"
    code = getattr(exc, "errno", None)
    if isinstance(code, int):
        return errno.errorcode.get(code, f"errno{code}")
    return "other" if not isinstance(exc, OSError) else "oserror"


class StorageHealth:
    """Failed writes (metrics) and the degraded models of one server process (gauge, status file)."""

    def __init__(self, store: ModelStore, metrics: UdfMetrics):
        self.store = store
        self.metrics = metrics
        self._lock = threading.Lock()
        self._degraded: dict[str, dict] = {}
        self.status_path = os.path.join(store.root, f"{STATUS_PREFIX}{os.getpid()}.json")
        metrics.degraded_models.set_function(self.count)
        self._remove_stale()
        try:
            self._write_status()
        except OSError as exc:  # e.g. a full disk at startup: models list shows what it can
            log.warning("cannot write the status file %s: %s", self.status_path, exc)

    def _remove_stale(self) -> None:
        """Remove the status files of servers that died (kill -9) without removing their own."""
        try:
            names = os.listdir(self.store.root)
        except OSError:
            return
        for name in names:
            pid = name[len(STATUS_PREFIX) : -len(".json")]
            if not (name.startswith(STATUS_PREFIX) and name.endswith(".json") and pid.isdigit()):
                continue
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                try:
                    os.unlink(os.path.join(self.store.root, name))
                except OSError:
                    pass
            except OSError:  # alive, another user's
                pass

    def count(self) -> int:
        with self._lock:
            return len(self._degraded)

    def failed(self, exc: BaseException) -> None:
        self.metrics.storage_write_failures.labels(errno_name(exc)).inc()

    def set(self, model_id: str, info: dict | None) -> None:
        """Record a model as degraded (info) or durable again (None), and rewrite the status file."""
        with self._lock:
            if info is None:
                self._degraded.pop(model_id, None)
            else:
                self._degraded[model_id] = info
        try:
            self._write_status()
        except OSError:  # best effort; the log and the metrics have it
            pass

    def _write_status(self) -> None:
        with self._lock:
            status = {
                "format": "influxhtm-udf-status",
                "version": 1,
                "pid": os.getpid(),
                "updated": utc_now(),
                "degraded": dict(self._degraded),
            }
            data = json.dumps(status, sort_keys=True).encode()
        os.makedirs(self.store.root, exist_ok=True)
        write_in_place(self.status_path, data, STATUS_RESERVE)

    def close(self) -> None:
        try:
            os.unlink(self.status_path)
        except OSError:
            pass


class Degraded:
    """A model's persistence while its writes fail: since when, why, and when to try again."""

    def __init__(self, cause: str, now: float):
        self.cause = cause
        self.since = now
        self.since_utc = utc_now()
        self.unjournaled = 0
        self.backoff = RETRY_FIRST
        self.next_retry = now + RETRY_FIRST
        self.causes_logged = {cause}

    def failed_again(self, now: float) -> None:
        self.backoff = min(self.backoff * 2, RETRY_MAX)
        self.next_retry = now + self.backoff

    def info(self) -> dict:
        return {"cause": self.cause, "since": self.since_utc, "unjournaled": self.unjournaled}


class OptionsChanged(Exception):
    """The stored model was made with other model-shaping options than the task's."""


class Scored(NamedTuple):
    """One input that went through the model: the point to answer, its value and its scores."""

    point: object  # udf_pb2.Point
    value: float
    scores: object  # influxhtm.htm.Scores


class GroupModel:
    """The model of one (task, node, group) plus its warm-up buffer; use under `lock`."""

    def __init__(
        self,
        key: tuple[str, str, str],
        options: HtmOptions,
        store: ModelStore,
        template: dict,
        health: StorageHealth | None = None,
        replay_answers: bool = False,
        track_memory: bool = False,
    ):
        self.key = key
        self.track_memory = track_memory  # keep `memory` up to date while learning (a registry's budget needs it)
        # cluster hosts: keep the scores of replayed journal entries (a re-sent run is answered from them)
        # and leave every checkpoint to the caller, taken once the outputs are delivered
        self.replay_answers = replay_answers
        self.replayed: dict[int, tuple[float, object]] = {}  # time_ns -> (value, scores)
        # a warm-up that ended in the replay: its inputs [time_ns, value, scores, point or None], all answered
        # by the last one's output
        self.replayed_warmup: list[list] = []
        self.health = health
        self.degraded: Degraded | None = None  # persistence state: None = durable
        self.model_id = model_id_for(*key)
        self.options = options
        self.store = store
        self.template = template
        self.lock = threading.Lock()
        self.evicted = False
        self.detector: AnomalyDetector | None = None
        self.warmup: list[tuple[int, float, object | None]] = []  # (time_ns, value, point or None)
        self.memory = 0  # estimated bytes, refreshed at most every MEMORY_REFRESH_POINTS learned points
        self._unmeasured = 0
        self.last_time_ns: int | None = None
        self.records_seen = 0
        self.unsaved = 0
        self.dirty_since: float | None = None  # monotonic time of the first unsaved update
        self.last_checkpoint = time.monotonic()
        self.checkpoint_pending = False  # a background checkpoint of this model is queued or being written
        self.created = ModelMetadata().created
        self.detector_options: dict = {}
        self.logged_reasons: set[str] = set()

    # ---- creation and recovery ---------------------------------------------------------------
    def metadata(self) -> ModelMetadata:
        task, node, group = self.key
        t = self.template
        return ModelMetadata(
            origin="udf",
            task=task,
            node=node,
            group=group,
            database=t.get("database", ""),
            retention_policy=t.get("retention_policy", ""),
            measurement=t.get("name", ""),
            source_field=self.options.field,
            tags=dict(t.get("tags", {})),
            template=t,
            udf_options=self.options.to_json(),
            model_params=self.options.model_params(),
            detector_options=dict(self.detector_options),
            created=self.created,
            records_seen=self.records_seen,
            last_time_ns=self.last_time_ns,
            warming_up=self.detector is None,
        )

    def start_fresh(self) -> None:
        try:
            self.store.write_metadata(self.model_id, self.metadata())
        except (OSError, StoreError) as exc:  # scoring starts anyway; the state is written once the store works
            self._degrade(exc)
        if self._range_known():
            self._create_detector(*self._range(()))

    def _create_detector(self, lo: float, hi: float) -> AnomalyDetector:
        self.detector_options = detector_options(self.options, lo, hi)
        self.detector = AnomalyDetector(**self.detector_options)
        return self.detector

    def recover(self) -> None:
        """Load checkpoint + journal from the store and replay the journal. Raises StoreError (unreadable
        or a newer format), ValueError (the engine refuses the state) or OptionsChanged."""
        stored = self.store.load(self.model_id)
        meta = stored.metadata
        if meta.model_params != self.options.model_params():
            raise OptionsChanged(
                f"stored model options {meta.model_params} differ from the task's {self.options.model_params()}"
            )
        self.created = meta.created or self.created
        self.template = meta.template or self.template
        self.detector_options = dict(meta.detector_options)
        self.records_seen = meta.records_seen
        self.last_time_ns = meta.last_time_ns
        if stored.blob is not None:
            self.detector = AnomalyDetector.load(stored.blob)
            self.detector_options = self.detector_options or dict(self.detector.settings)  # metadata v1 had none
            # outputs of replayed entries were answered before the restart (or are kept, see replay_answers)
            times = [entry.time_ns for entry in stored.journal]
            values = [entry.value for entry in stored.journal]
            self._keep_replayed(zip(times, values, self._learn(times, values)))
            self.records_seen = self.detector.records_seen  # exact even if the metadata lags the checkpoint
        else:
            self.records_seen = 0  # no checkpoint yet: the journal holds every input since creation
            for entry in stored.journal:
                self._seen(entry.time_ns)
                self.warmup.append((entry.time_ns, entry.value, None))
            if self._range_known() or len(self.warmup) >= self.options.warmup:
                # the warm-up had completed (and its points were answered) before the restart
                released = 1 if self._range_known() else self.options.warmup
                learned = [(t, v, s) for t, v, _, s in self._finish_warm_up()]
                self._keep_replayed(learned)
                if self.replay_answers and released > 1:
                    self.replayed_warmup = [[t, v, s, None] for t, v, s in learned[:released]]
        if stored.journal:
            self._mark_dirty()
        if meta.records_seen > self.records_seen:  # written while degraded: those inputs were not journaled
            log.warning(
                "model %s: resumed from the last durable state, %d input(s) behind the model before the "
                "restart (they arrived while its storage failed and were not journaled)",
                self.model_id,
                meta.records_seen - self.records_seen,
            )

    def _keep_replayed(self, replayed) -> None:
        """Remember (time_ns, value, scores) of replayed inputs when the model answers re-sent runs."""
        if self.replay_answers:
            self.replayed = {t: (v, s) for t, v, s in replayed}

    def _range_known(self) -> bool:
        return self.options.min is not None and self.options.max is not None

    def _range(self, values) -> tuple[float, float]:
        values = list(values)
        lo = self.options.min if self.options.min is not None else min(values)
        hi = self.options.max if self.options.max is not None else max(values)
        if hi < lo:  # a learned bound on the wrong side of a given one
            lo, hi = min(lo, hi), max(lo, hi)
        return lo, hi

    def _finish_warm_up(self) -> list[tuple[int, float, object, object]]:
        """Create the model from the warm-up buffer and learn the buffer: (time_ns, value, point, scores)."""
        values = [v for _, v, _ in self.warmup[: self.options.warmup]]
        lo, hi = self._range(values)
        log.info("model %s: warm-up done after %d points, range [%g, %g]", self.model_id, len(values), lo, hi)
        detector = self._create_detector(lo, hi)
        buffered = self.warmup
        scores = detector.handle_epochs([epoch_seconds(t) for t, _, _ in buffered], [v for _, v, _ in buffered])
        self.warmup = []  # kept until the step succeeds: on an engine error the handler answers the buffer
        return [(t, v, p, s) for (t, v, p), s in zip(buffered, scores)]

    # ---- data ----------------------------------------------------------------------------------
    def _seen(self, time_ns: int) -> None:
        self.records_seen += 1
        self.last_time_ns = time_ns

    def _mark_dirty(self) -> None:
        if self.dirty_since is None:
            self.dirty_since = time.monotonic()

    def accept(self, inputs: list[tuple[int, float, object]]) -> list[list[Scored]]:
        """Journal, then learn, inputs (time_ns, value, point) in time order; for each input, the points
        answerable once it is learned (during a warm-up: none, then the whole buffer)."""
        answers = []
        while inputs and self.detector is None:
            answers.append(self._warm_up(*inputs[0]))
            inputs = inputs[1:]
        if inputs:
            self._journal([JournalEntry(t, v) for t, v, _ in inputs])
            self.unsaved += len(inputs)
            self._mark_dirty()
            scores = self._learn([t for t, _, _ in inputs], [v for _, v, _ in inputs])
            answers.extend([Scored(p, v, s)] for (_, v, p), s in zip(inputs, scores))
        return answers

    def _learn(self, times_ns: list[int], values: list[float]) -> list:
        assert self.detector is not None, "learning starts after the warm-up made the detector"
        self.records_seen += len(times_ns)
        if times_ns:
            self.last_time_ns = times_ns[-1]
        scores = self.detector.handle_epochs([epoch_seconds(t) for t in times_ns], values)
        if self.track_memory:
            self._unmeasured += len(times_ns)
            # young models grow fastest (the classifier adds a row per new cell): measure them more often
            if self._unmeasured >= min(MEMORY_REFRESH_POINTS, max(8, self.records_seen // 4)):
                self.measure_memory()
        return scores

    def measure_memory(self) -> None:
        """Refresh `memory`, the model's estimated bytes (the engine's structures, or the warm-up buffer)."""
        self._unmeasured = 0
        if self.detector is not None:
            self.memory = self.detector.memory_bytes
        else:
            self.memory = len(self.warmup) * WARMUP_POINT_BYTES

    def _warm_up(self, time_ns: int, value: float, point) -> list[Scored]:
        self._journal([JournalEntry(time_ns, value)])
        self._seen(time_ns)
        self.unsaved += 1
        self._mark_dirty()
        self.warmup.append((time_ns, value, point))
        if len(self.warmup) < self.options.warmup:
            return []
        field = self.options.field
        out = [
            Scored(p if p is not None else point_from_template(self.template, t, field, v), v, s)
            for t, v, p, s in self._finish_warm_up()
        ]
        if not self.replay_answers:
            self.checkpoint()
        return out

    # ---- persistence -----------------------------------------------------------------------
    def _journal(self, entries: list[JournalEntry]) -> None:
        """Append inputs to the journal before the model learns them; while degraded, try to become
        durable again when the backoff allows, else only count them."""
        if self.degraded is not None and time.monotonic() >= self.degraded.next_retry:
            self.restore_durability()
        if self.degraded is not None:
            self.degraded.unjournaled += len(entries)
            return
        try:
            self.store.append_journal(self.model_id, *entries)
        except (OSError, StoreError) as exc:
            self._degrade(exc)
            if self.degraded is not None:
                self.degraded.unjournaled += len(entries)  # a whole record of them may have landed: at most

    def _degrade(self, exc: BaseException) -> None:
        if self.health is not None:
            self.health.failed(exc)
        if self.degraded is not None:
            return
        self.degraded = Degraded(errno_name(exc), time.monotonic())
        log.error(
            "model %s (task %s node %s group %r): storage fault (%s: %s); persistence DEGRADED: scoring goes "
            "on, inputs are not journaled; a crash now loses the inputs since the last durable point; "
            "retrying with backoff",
            self.model_id,
            *self.key,
            self.degraded.cause,
            exc,
        )
        if self.health is not None:
            self.health.set(self.model_id, self.degraded.info())

    def restore_durability(self) -> bool:
        """Write the whole state afresh (a degraded model); True if the model is durable now."""
        degraded = self.degraded
        if degraded is None:
            return True
        try:
            if self.detector is None:
                entries = [JournalEntry(t, v) for t, v, _ in self.warmup]
                self.store.save_state(self.model_id, None, self.metadata(), entries)
            else:
                self.store.save_state(self.model_id, self.detector.save(), self.metadata())
        except (OSError, StoreError) as exc:
            if self.health is not None:
                self.health.failed(exc)
            cause = errno_name(exc)
            if cause not in degraded.causes_logged:
                degraded.causes_logged.add(cause)
                log.error("model %s: still cannot write its state (%s: %s); retrying", self.model_id, cause, exc)
            degraded.failed_again(time.monotonic())
            self._note_progress()
            return False
        self.degraded = None
        log.warning(
            "model %s: storage works again (degraded since %s, %s); full checkpoint written, fresh journal "
            "started; %d input(s) had not been journaled",
            self.model_id,
            degraded.since_utc,
            degraded.cause,
            degraded.unjournaled,
        )
        if self.health is not None:
            self.health.set(self.model_id, None)
        self._saved()
        return True

    def _note_progress(self) -> None:
        """Best effort while degraded: the metadata's records_seen tells a restart how far behind it is."""
        try:
            self.store.update_metadata(self.model_id, records_seen=self.records_seen, last_time_ns=self.last_time_ns)
        except (OSError, StoreError, ValueError):
            pass

    def due(self, now: float) -> bool:
        o = self.options
        return (
            self.degraded is None
            and not self.checkpoint_pending
            and (
                self.unsaved >= o.checkpointEvery
                or (self.dirty_since is not None and now - self.last_checkpoint >= o.checkpointInterval / 1e9)
            )
        )

    def checkpoint(self) -> bool:
        """Save the model now (or, during warm-up, its metadata: the journal holds the buffer); True if
        written. A degraded model tries to write its whole state. A failure is counted and logged, never
        raised: checkpoint + journal still hold every input the journal took."""
        if self.degraded is not None:
            return self.restore_durability()
        if self.dirty_since is None:
            return False
        try:
            if self.detector is None:
                self.store.write_metadata(self.model_id, self.metadata())
            else:
                self.store.save_checkpoint(self.model_id, self.detector.save(), self.metadata())
        except (OSError, StoreError) as exc:
            self.checkpoint_failed(exc)
            return False
        self._saved()
        return True

    def checkpoint_failed(self, exc: BaseException) -> None:
        """A checkpoint that did not land (the journal holds every input since the last one)."""
        if self.health is not None:
            self.health.failed(exc)
        cause = errno_name(exc)
        if cause not in self.logged_reasons:
            self.logged_reasons.add(cause)
            log.error(
                "model %s: checkpoint failed (%s: %s); the journal keeps every input; tried again when due "
                "(further %s failures of this model are counted, not logged)",
                self.model_id,
                cause,
                exc,
                cause,
            )

    def checkpoint_in_background(self, checkpointer: Checkpointer) -> bool:
        """Queue a copy of the model with the checkpointer; False if there is nothing to save or no room
        now (the model stays due and tries again on its next point)."""
        if self.dirty_since is None or self.detector is None or not checkpointer.has_room():
            return False
        dirty_since = self.dirty_since
        try:
            generation = self.store.begin_checkpoint(self.model_id)
        except (OSError, StoreError) as exc:
            self.checkpoint_failed(exc)
            self.last_checkpoint = time.monotonic()  # not again before the interval or checkpointEvery points
            self.unsaved = 0
            return False
        job = CheckpointJob(
            self.model_id,
            generation,
            self.detector.copy(),
            self.metadata(),
            done=lambda ok: self._background_done(ok, dirty_since),
            failed=self.checkpoint_failed,
        )
        if not checkpointer.submit(job):  # closed meanwhile: the journals keep everything
            return False
        self.checkpoint_pending = True
        self._saved()
        return True

    def _background_done(self, ok: bool, dirty_since: float) -> None:
        """Called by the checkpointer's thread (never with the lock held)."""
        with self.lock:
            self.checkpoint_pending = False
            if not ok:  # still unsaved (the journals hold it); the next try comes when due again
                self.dirty_since = min(dirty_since, self.dirty_since or dirty_since)

    def discard(self) -> None:
        """Forget the unsaved state (the model is dropped without a checkpoint, e.g. after an engine error)."""
        self.dirty_since = None
        degraded, self.degraded = self.degraded, None
        if degraded is not None:
            log.error(
                "model %s: dropped while its storage was degraded: %d unjournaled input(s) are lost; it "
                "reopens from its last durable state",
                self.model_id,
                degraded.unjournaled,
            )
            if self.health is not None:
                self.health.set(self.model_id, None)

    def _saved(self) -> None:
        self.unsaved = 0
        self.dirty_since = None
        self.last_checkpoint = time.monotonic()


class ModelRegistry:
    """All models of one server process; evicts least recently used ones beyond `max_resident` models or
    beyond `memory_budget` bytes (the sum of the resident models' estimates, see GroupModel.measure_memory)."""

    def __init__(
        self,
        store: ModelStore,
        metrics: UdfMetrics | None = None,
        max_resident: int | None = None,
        replay_answers: bool = False,
        memory_budget: int | None = None,
    ):
        self.store = store
        self.replay_answers = replay_answers  # see GroupModel
        self.metrics = metrics or UdfMetrics()
        self.max_resident = max_resident
        self.memory_budget = memory_budget
        self._lookups = 0
        self._lock = threading.Lock()
        self._models: collections.OrderedDict[tuple, GroupModel] = collections.OrderedDict()
        self.health = StorageHealth(store, self.metrics)
        self.checkpointer = Checkpointer(store, on_written=self.metrics.checkpoints.inc)
        self.metrics.track_checkpoint_age(self.oldest_unsaved)

    def get(self, key: tuple[str, str, str], options: HtmOptions, template: Callable[[], dict]) -> GroupModel:
        """The resident model for key, loading it from the store or creating it; its lock is NOT held.

        template() gives the series identity (see points.template_of) for a model created now.
        """
        with self._lock:
            model = self._models.get(key)
            if model is not None and (model.options is options or model.options == options):
                self._models.move_to_end(key)
                self._lookups += 1
                if not (self.memory_budget and self._lookups % BUDGET_CHECK_EVERY == 0):
                    return model
        if model is not None and model.options == options:  # a budget check is due
            self._evict_overflow(keep=key)
            return model
        if model is not None:  # same task node re-initialised with other options
            self.evict(key)
        model = self._open(key, options, template())
        if model.track_memory:
            model.measure_memory()  # not shared yet: no lock needed
        with self._lock:
            current = self._models.get(key)
            if current is not None:
                return current
            self._models[key] = model
            self.metrics.models.set(len(self._models))
        self._evict_overflow(keep=key)
        return model

    def _new_model(self, key, options, template) -> GroupModel:
        return GroupModel(
            key, options, self.store, template, self.health, self.replay_answers, self.memory_budget is not None
        )

    def _open(self, key, options, template) -> GroupModel:
        model = self._new_model(key, options, template)
        if self.store.exists(model.model_id):
            try:
                model.recover()
                return model
            except OptionsChanged as exc:
                cause, reason = "options_changed", str(exc)
            except (StoreError, ValueError, EngineError) as exc:  # EngineError: e.g. a panic in the replay
                cause, reason = "unloadable", f"cannot be loaded: {exc}"
            try:
                entry = self.store.quarantine(model.model_id, reason, cause=cause)
            except OSError as exc:  # cannot move it aside now: serve a new model in memory, degraded
                log.error(
                    "model %s (task %s node %s group %r): %s; cannot quarantine it (%s); serving a new model "
                    "that is saved once the store can be written",
                    model.model_id,
                    *key,
                    reason,
                    exc,
                )
                model = self._new_model(key, options, template)
                model._degrade(exc)
                if model._range_known():
                    model._create_detector(*model._range(()))
                return model
            self.metrics.quarantined.labels(cause).inc()
            log.warning(
                "model %s (task %s node %s group %r): %s; moved to %s; starting a new model",
                model.model_id,
                *key,
                reason,
                entry.path,
            )
            model = self._new_model(key, options, template)
        model.start_fresh()
        return model

    def preload(self, model_id: str, key: tuple[str, str, str], options: HtmOptions) -> bool:
        """Load a model named by a snapshot manifest while there is room (else it loads on its next point);
        False if the state dir does not have it."""
        if model_id_for(*key) != model_id or not self.store.exists(model_id):
            return False
        with self._lock:
            full = self.memory_budget or (self.max_resident and len(self._models) >= self.max_resident)
            if key in self._models or full:  # with a budget, models load on their next point
                return True
        self.get(key, options, lambda: self._template(model_id))
        return True

    def _template(self, model_id: str) -> dict:
        try:
            return self.store.metadata(model_id).template
        except StoreError:  # unreadable: the model is quarantined when it is opened
            return {}

    def records_seen(self, key: tuple[str, str, str]) -> int | None:
        """Inputs the model of key has accepted (resident or in the state dir); None if it does not exist."""
        with self._lock:
            resident = self._models.get(key)
        if resident is not None:
            return resident.records_seen
        try:
            return self.store.metadata(model_id_for(*key)).records_seen
        except StoreError:
            return None

    def checkpoint_due(self, model: GroupModel) -> None:
        """A due model (caller holds its lock): warm-up metadata now, a model's state in the background."""
        if model.detector is None:
            if model.checkpoint():
                self.metrics.checkpoints.inc()
        else:
            model.checkpoint_in_background(self.checkpointer)

    def checkpoint(self, model: GroupModel) -> None:
        with model.lock:
            if not model.evicted and model.checkpoint():
                self.metrics.checkpoints.inc()

    def close(self) -> None:
        """Finish the background checkpoints, then checkpoint every resident model."""
        self.checkpointer.close()
        self.checkpoint_all()
        if self.health.count():
            log.error("%d model(s) could not be saved at shutdown (storage still failing)", self.health.count())
        else:
            self.health.close()

    def checkpoint_all(self, task: str | None = None, node: str | None = None) -> None:
        with self._lock:
            models = [m for k, m in self._models.items() if task is None or (k[0], k[1]) == (task, node)]
        for m in models:
            try:
                self.checkpoint(m)
            except (OSError, StoreError) as exc:
                log.error("model %s: checkpoint failed: %s", m.model_id, exc)

    def evict(self, key) -> bool:
        """Checkpoint a model and drop it from memory; False (it stays resident) if it is degraded and
        still cannot be saved."""
        with self._lock:
            model = self._models.pop(key, None)
            self.metrics.models.set(len(self._models))
        if model is not None:
            with model.lock:
                if model.checkpoint():
                    self.metrics.checkpoints.inc()
                if model.degraded is not None:
                    with self._lock:
                        self._models.setdefault(key, model)
                        self.metrics.models.set(len(self._models))
                    return False
                model.evicted = True
        return True

    def _evict_overflow(self, keep) -> None:
        """Evict least recently used models (never `keep`) while over the count limit or the memory budget."""
        if not (self.max_resident or self.memory_budget):
            return
        skip: set = set()
        with self._lock:
            memory = sum(m.memory for m in self._models.values())
        while True:
            with self._lock:
                over_count = self.max_resident and len(self._models) > self.max_resident
                if not (over_count or (self.memory_budget and memory > self.memory_budget)):
                    return
                victim = next(((k, m) for k, m in self._models.items() if k != keep and k not in skip), None)
            if victim is None:
                return
            if self.evict(victim[0]):
                memory -= victim[1].memory
            else:
                skip.add(victim[0])  # degraded: kept in memory, its state is nowhere else

    def resident_keys(self) -> list[tuple[str, str, str]]:
        """The keys of the models in memory."""
        with self._lock:
            return list(self._models)

    def oldest_unsaved(self) -> float | None:
        with self._lock:
            times = [m.dirty_since for m in self._models.values() if m.dirty_since is not None]
        return min(times) if times else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._models)
