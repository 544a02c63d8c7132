"""The `@htm()` UDF handler: one instance per Kapacitor connection (one task node, or the Info probe).

An engine error while a group's model learns (any `EngineError`, including `EnginePanic`, a Rust panic
caught at the engine boundary) stays with that group: its points of that call go on unscored (or are
dropped, per `.onBadPoint()`), are counted as bad points of reason `engine_error` and logged, and the
model is dropped from memory without being saved (a panic may have left it half-updated). The group's
next point reopens it from the state dir, last checkpoint + journal, so a passing fault loses nothing;
a model whose replay fails again is quarantined by the registry and the group starts a new model. Every
other group, connection and task goes on.
"""

from __future__ import annotations

import json
import logging
import time

from influxhtm.htm import EngineError
from influxhtm.kapacitor_udf import Emitter, Handler, udf_pb2

from .models import GroupModel, ModelRegistry
from .options import HtmOptions, OptionError, info_options, parse_options
from .points import output_name, passthrough_point, point_from_template, read_value, scored_point, template_of

log = logging.getLogger("influxhtm.udf")

ENGINE_ERROR = "engine_error"  # bad-points reason: the engine failed on the group's model

STREAM, BATCH = 0, 1  # Kapacitor's EdgeType wire numbers
SNAPSHOT_FORMAT = "influxhtm-udf-snapshot"
SNAPSHOT_VERSION = 1


def info_response(batch: bool) -> udf_pb2.InfoResponse:
    """What the HTM UDF tells Kapacitor: its edge (a batch or a stream) and every option."""
    edge = BATCH if batch else STREAM
    response = udf_pb2.InfoResponse(wants=edge, provides=edge)
    info_options(response)
    return response


def snapshot_response(task: str, node: str, models: list[dict]) -> udf_pb2.SnapshotResponse:
    """Kapacitor's snapshot of a node: a JSON manifest naming its models ({id, group, records_seen})."""
    manifest = {"format": SNAPSHOT_FORMAT, "version": SNAPSHOT_VERSION, "task": task, "node": node, "models": models}
    return udf_pb2.SnapshotResponse(snapshot=json.dumps(manifest, sort_keys=True).encode())


class HtmHandler(Handler):
    """Scores every point of every group with that group's HTM model (see DESIGN.md §5)."""

    def __init__(self, emitter: Emitter, registry: ModelRegistry, *, batch: bool = False):
        self.emitter = emitter
        self.registry = registry
        self.metrics = registry.metrics
        self.batch = batch
        self.options: HtmOptions | None = None
        self.task = ""
        self.node = ""
        self._begin: udf_pb2.BeginBatch | None = None
        self._batch_out: list[udf_pb2.Point] = []
        self._groups: dict[str, str] = {}  # group -> model id touched by this connection
        self._logged: set[tuple[str, str]] = set()
        self.metrics.bad_points.labels(ENGINE_ERROR)  # shown as 0 until it happens

    # ---- management ----------------------------------------------------------------------------
    def info(self) -> udf_pb2.InfoResponse:
        return info_response(self.batch)

    def init(self, request: udf_pb2.InitRequest) -> udf_pb2.InitResponse:
        try:
            options = parse_options(request.options)
        except OptionError as exc:
            log.error("task %s node %s: init failed: %s", request.taskID, request.nodeID, exc)
            return udf_pb2.InitResponse(success=False, error=str(exc))
        self.options = options
        self.task, self.node = request.taskID, request.nodeID
        log.info(
            "task %s node %s: field %r, %s edge",
            self.task,
            self.node,
            options.field,
            "batch" if self.batch else "stream",
        )
        return udf_pb2.InitResponse(success=True)

    def snapshot(self) -> udf_pb2.SnapshotResponse:
        """A small JSON manifest naming this node's models.

        Models are not checkpointed for it: checkpoint + journal in the state dir are complete at every
        moment, and a forced checkpoint of every model at Kapacitor's snapshot interval (60 s by default)
        would write megabytes per model per minute.
        """
        models = []
        for group, model_id in sorted(self._groups.items()):
            seen = self.registry.records_seen((self.task, self.node, group))
            if seen is None:
                log.warning("snapshot: model %s is no longer in the state dir", model_id)
                continue
            models.append({"id": model_id, "group": group, "records_seen": seen})
        return snapshot_response(self.task, self.node, models)

    def restore(self, request: udf_pb2.RestoreRequest) -> udf_pb2.RestoreResponse:
        """Preload the models a manifest names; an unusable snapshot only costs a warning."""
        problem = self._restore(request.snapshot)
        if problem:
            log.warning(
                "task %s node %s: %s; starting without the snapshot (models still resume from "
                "the state dir on their next point)",
                self.task,
                self.node,
                problem,
            )
        return udf_pb2.RestoreResponse(success=True)

    def _restore(self, data: bytes) -> str | None:
        if not data:
            return "empty snapshot"
        try:
            manifest = json.loads(data)
        except ValueError:
            return "snapshot is not an influxhtm manifest (not JSON)"
        if not isinstance(manifest, dict) or manifest.get("format") != SNAPSHOT_FORMAT:
            return "snapshot is not an influxhtm manifest"
        if manifest.get("version") != SNAPSHOT_VERSION:
            return f"snapshot format version {manifest.get('version')!r} is not {SNAPSHOT_VERSION}"
        if self.options is None:
            return "restore before init"
        if (manifest.get("task"), manifest.get("node")) != (self.task, self.node):
            return f"snapshot belongs to task {manifest.get('task')!r} node {manifest.get('node')!r}"
        missing = 0
        for entry in manifest.get("models") or []:
            try:
                group, model_id = str(entry["group"]), str(entry["id"])
            except (TypeError, KeyError):
                return "snapshot manifest has a malformed model entry"
            if self.registry.preload(model_id, (self.task, self.node, group), self.options):
                self._groups[group] = model_id
            else:
                missing += 1
        if missing:
            return f"{missing} model(s) named in the snapshot are not in the state dir"
        return None

    def close(self) -> None:
        if self.options is not None:
            self.registry.checkpoint_all(self.task, self.node)

    # ---- data ------------------------------------------------------------------------------------
    @property
    def _live(self) -> HtmOptions:
        """The options of an initialised handler (Kapacitor sends data only after a successful init)."""
        if self.options is None:
            raise RuntimeError("point received before a successful init")
        return self.options

    def begin_batch(self, begin: udf_pb2.BeginBatch) -> None:
        self._begin = begin
        self._batch_out = []

    def point(self, point: udf_pb2.Point) -> None:
        self.point_run([point])

    def point_run(self, points: list[udf_pb2.Point]) -> None:
        """Points in arrival order; each group's model learns its share in one engine call."""
        if self.options is None:
            raise RuntimeError("point received before a successful init")
        if self._begin is not None:
            for point in points:
                if not point.name:
                    point.name = self._begin.name
                if not point.group:
                    point.group = self._begin.group
            self._batch_out.extend(self._process(points))
            return
        outputs = self._process(points)
        for out in outputs:
            self.emitter.emit_point(out)
        self.metrics.points_out.inc(len(outputs))

    def end_batch(self, end: udf_pb2.EndBatch) -> None:
        begin = udf_pb2.BeginBatch()
        if self._begin is not None:
            begin.CopyFrom(self._begin)
        points, self._begin, self._batch_out = self._batch_out, None, []
        name = output_name(self.options, end.name) if self.options else end.name
        begin.name = name
        begin.size = len(points)
        self.emitter.emit_begin(begin)
        for p in points:
            self.emitter.emit_point(p)
        self.metrics.points_out.inc(len(points))
        out_end = udf_pb2.EndBatch()
        out_end.CopyFrom(end)
        out_end.name = name
        self.emitter.emit_end(out_end)

    def _process(self, points: list[udf_pb2.Point]) -> list[udf_pb2.Point]:
        """The output points for the input points, in input order (a warm-up's end answers its buffer)."""
        return [out for answer in self.answers(points) for out in answer]

    def answers(self, points: list[udf_pb2.Point]) -> list[list[udf_pb2.Point]]:
        """For each input point, the output points it releases."""
        self.metrics.points_in.inc(len(points))
        answers: list[list[udf_pb2.Point]] = [[] for _ in points]
        by_group: dict[str, list[tuple[int, udf_pb2.Point, float]]] = {}
        for index, point in enumerate(points):
            value, reason = read_value(point, self._live.field)
            if reason is not None:
                answers[index] = self._bad(point, reason)
            elif value is not None:
                by_group.setdefault(point.group, []).append((index, point, value))
        for group, inputs in by_group.items():
            self._learn(group, inputs, answers)
        return answers

    def _learn(self, group: str, inputs: list[tuple[int, udf_pb2.Point, float]], answers: list) -> None:
        """Feed one group's inputs (index, point, value) to its model; fill answers[index]."""
        key = (self.task, self.node, group)
        try:
            while True:
                model = self.registry.get(key, self._live, lambda: template_of(inputs[0][1]))
                with model.lock:
                    if not model.evicted:
                        self._groups[group] = model.model_id
                        failed = self._feed(model, inputs, answers)
                        break
        except EngineError as exc:  # the model could not be created or reopened
            self._engine_failed(group, [(index, point) for index, point, _ in inputs], [], answers, exc)
            return
        if failed:
            self._drop(key, model)

    def _feed(self, model: GroupModel, inputs: list[tuple[int, udf_pb2.Point, float]], answers: list) -> bool:
        """_learn with the model's lock held; True if the engine failed (see _engine_failed)."""
        options = self._live
        accepted, last_time = [], model.last_time_ns
        for index, point, value in inputs:
            if last_time is not None and point.time <= last_time:
                answers[index] = self._bad(point, "time_order")
            else:
                accepted.append((index, point, value))
                last_time = point.time
        if not accepted:
            return False
        started = time.perf_counter()
        try:
            scored = model.accept([(point.time, value, point) for _, point, value in accepted])
        except EngineError as exc:
            self._engine_failed(
                model.key[2],
                [(index, point) for index, point, _ in accepted],
                self._waiting(model, accepted),
                answers,
                exc,
            )
            return True
        self.metrics.step_seconds.observe((time.perf_counter() - started) / len(accepted))
        for (index, _, _), results in zip(accepted, scored):
            answers[index] = [scored_point(s.point, options, s.value, s.scores) for s in results]
        self._learned(model)
        return False

    def _learned(self, model: GroupModel) -> None:
        """After a model learned (its lock held): checkpoint it if due."""
        if model.due(time.monotonic()):
            self.registry.checkpoint_due(model)

    def _waiting(self, model: GroupModel, accepted: list) -> list[udf_pb2.Point]:
        """Points of earlier calls still buffered by the model's unfinished warm-up (they were waiting for
        the model), rebuilt from the model's template if they came back from the journal."""
        mine = {id(point) for _, point, _ in accepted}
        return [
            p if p is not None else point_from_template(model.template, t, self._live.field, v)
            for t, v, p in model.warmup
            if id(p) not in mine
        ]

    def _engine_failed(
        self,
        group: str,
        inputs: list[tuple[int, udf_pb2.Point]],
        waiting: list[udf_pb2.Point],
        answers: list,
        exc: EngineError,
    ) -> None:
        """Answer a failed group's inputs (index, point) unscored (the waiting warm-up points too, with the
        first input), count and log it."""
        log.error(
            "task %s node %s group %r: engine error (%s: %s); %d point(s) not scored; the model is "
            "reopened from the state dir on the group's next point",
            self.task,
            self.node,
            group,
            type(exc).__name__,
            exc,
            len(inputs) + len(waiting),
        )
        for position, (index, point) in enumerate(inputs):
            points = [*waiting, point] if position == 0 else [point]
            answers[index] = [out for p in points for out in self._bad(p, ENGINE_ERROR)]

    def _drop(self, key: tuple[str, str, str], model: GroupModel) -> None:
        """Forget a model whose engine call failed without saving it: its state may be half-updated, while
        the state dir holds its last checkpoint and every input since (the journal)."""
        with model.lock:
            model.discard()  # nothing of it is written on eviction
        try:
            self.registry.evict(key)
        except EngineError as exc:  # a background checkpoint failed meanwhile and marked it dirty again
            log.error("model %s: dropped without a checkpoint (%s)", model.model_id, exc)

    def _bad(self, point: udf_pb2.Point, reason: str) -> list[udf_pb2.Point]:
        self.metrics.bad_points.labels(reason).inc()
        if (point.group, reason) not in self._logged:
            self._logged.add((point.group, reason))
            log.warning(
                "task %s node %s group %r: point at %d not scored: %s (field %r); further %s points "
                "of this group are counted, not logged",
                self.task,
                self.node,
                point.group,
                point.time,
                _REASON_TEXT[reason],
                self._live.field,
                reason,
            )
        if self._live.onBadPoint == "drop":
            return []
        return [passthrough_point(point, self._live)]


_REASON_TEXT = {
    "missing": "the field is missing",
    "string": "the field is a string",
    "bool": "the field is a boolean",
    "nan": "the value is NaN",
    "inf": "the value is infinite",
    "magnitude": "the value's magnitude exceeds 1e15",
    "time_order": "its time is not after the group's previous point",
    ENGINE_ERROR: "the engine failed on the group's model",
}
