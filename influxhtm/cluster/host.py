"""The model host: the models of the keys a front places on it, run as a Ray actor (see front.py).

It serves the front's lanes (one per Kapacitor connection and host) with the local UDF's handler over a
registry on the shared state store, so journal, checkpoints, warm-up and bad points behave as in a local
UDF. Three things differ, all for exactly-once across a lost host:

- A lane sends one run at a time, so when run n arrives the outputs of run n-1 are delivered. Models are
  checkpointed only then: a checkpoint never holds an input whose output might be lost.
- A model reopened from the store keeps the scores of the journal entries it replayed. The front re-sends
  a lost host's unanswered runs to the new owner, which answers the inputs already journaled from those
  scores (learned once) and learns the rest. The same run sent twice to a live host is answered again.
- Each host writes the store with its own fencing token: a host declared dead while it still runs (a
  network partition) cannot write a model its successor has loaded (ModelStore's owner file).

This module does not import Ray: the front wraps ModelHost with ray.remote.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import uuid
from typing import cast

from influxhtm.htm.allocator import HeapTrimmer
from influxhtm.kapacitor_udf import Emitter, udf_pb2
from influxhtm.udf.handler import HtmHandler
from influxhtm.udf.metrics import Snapshot, UdfMetrics
from influxhtm.udf.models import GroupModel, ModelRegistry
from influxhtm.udf.points import point_from_template, scored_point

from .placement import owner
from .state_store import state_store

log = logging.getLogger("influxhtm.cluster")


class LaneHandler(HtmHandler):
    """One lane's task node on a host: the UDF handler, with checkpoints deferred to delivery."""

    def __init__(self, registry: ModelRegistry, init: bytes):
        super().__init__(cast(Emitter, None), registry)  # a host returns answers, it never emits
        self.init_bytes = init
        response = self.init(udf_pb2.InitRequest.FromString(init))
        if not response.success:
            raise ValueError(response.error)
        self.seq = 0
        self.last: list[list[bytes]] = []
        self._undelivered: dict[str, GroupModel] = {}

    def _learned(self, model: GroupModel) -> None:
        self._undelivered[model.model_id] = model

    def checkpoint_delivered(self) -> None:
        """The front has this lane's earlier outputs: checkpoint the models that are due."""
        models, self._undelivered = self._undelivered, {}
        for model in models.values():
            with model.lock:
                if not model.evicted:
                    super()._learned(model)

    def _feed(self, model: GroupModel, inputs: list, answers: list) -> bool:
        """Answer re-sent inputs the model already learned from their replayed scores, then feed the rest."""
        if model.replayed or model.detector is None:
            count = len(inputs)
            inputs = [(i, p, v) for i, p, v in inputs if not self._answered(model, i, p, v, answers)]
            if model.replayed and count > len(inputs):
                log.info(
                    "model %s: %d re-sent input(s) answered from the replayed journal",
                    model.model_id,
                    count - len(inputs),
                )
            if inputs:
                model.replayed, model.replayed_warmup = {}, []  # a new input: the re-sent run is over
        return super()._feed(model, inputs, answers)

    def _answered(self, model: GroupModel, index: int, point: udf_pb2.Point, value: float, answers: list) -> bool:
        replayed = model.replayed.pop(point.time, None)
        if replayed is not None and replayed[0] == value:
            answers[index] = self._replayed_answer(model, point, value, replayed[1])
            return True
        for position, (t, v, p) in enumerate(model.warmup):
            if t == point.time and v == value and p is None:  # journaled during the warm-up, not answered yet
                model.warmup[position] = (t, v, point)
                answers[index] = []
                return True
        return False

    def _replayed_answer(self, model: GroupModel, point: udf_pb2.Point, value: float, scores) -> list:
        """A replayed input's outputs: its own, or for a warm-up that ended in the replay, nothing until the
        warm-up's last input, which answers the whole warm-up (points not re-sent rebuilt from the template)."""
        warmup = model.replayed_warmup
        if not warmup or point.time > warmup[-1][0]:
            return [scored_point(point, self._live, value, scores)]
        for entry in warmup:
            if entry[0] == point.time:
                entry[3] = point
        if point.time < warmup[-1][0]:
            return []
        model.replayed_warmup = []
        field = self._live.field
        return [
            scored_point(p if p is not None else point_from_template(model.template, t, field, v), self._live, v, s)
            for t, v, s, p in warmup
        ]


class ModelHost:
    """The models one Ray actor holds, on the state store named by store_spec."""

    def __init__(self, store_spec: str, journal_fsync: bool = False, max_resident: int | None = None):
        logging.basicConfig(stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("influxhtm").setLevel(logging.INFO)
        HeapTrimmer().start()
        # Its own fencing token: once another host has loaded one of its models (this one lost or cut off
        # from the front by a partition), its writes to that model are refused.
        self.store = state_store(store_spec).open(journal_fsync=journal_fsync, owner=uuid.uuid4().hex)
        self.registry = ModelRegistry(self.store, UdfMetrics(), max_resident=max_resident, replay_answers=True)
        self.lanes: dict[str, LaneHandler] = {}

    def ping(self) -> str:
        """Where this host runs (host name and pid)."""
        return f"{socket.gethostname()}:{os.getpid()}"

    def metrics(self) -> Snapshot:
        """This host's UDF metrics (points, bad points, models, checkpoints, step times, storage faults)."""
        return self.registry.metrics.snapshot()

    def _lane(self, lane: str, init: bytes) -> LaneHandler:
        handler = self.lanes.get(lane)
        if handler is None or handler.init_bytes != init:
            handler = self.lanes[lane] = LaneHandler(self.registry, init)
        return handler

    def process(self, lane: str, seq: int, init: bytes, points: list[bytes]) -> list[list[bytes]]:
        """Run seq of a lane: for each input point (serialized), its serialized output points."""
        handler = self._lane(lane, init)
        if seq == handler.seq:  # sent again after the front lost touch: already learned
            return handler.last
        handler.checkpoint_delivered()
        answers = handler.answers([udf_pb2.Point.FromString(data) for data in points])
        handler.seq, handler.last = seq, [[out.SerializeToString() for out in answer] for answer in answers]
        return handler.last

    def records_seen(self, task: str, node: str, groups: list[str]) -> list[int | None]:
        """Inputs each group's model has accepted (None: no such model)."""
        return [self.registry.records_seen((task, node, group)) for group in groups]

    def release(self, me: str, hosts: list[str]) -> tuple[int, list[tuple[str, str, str]]]:
        """The hosts are now `hosts`, this one named `me`: checkpoint and drop every resident model that
        another host owns from now on. (Models dropped, keys of those that could not be saved and stay.)"""
        moving = [key for key in self.registry.resident_keys() if owner(hosts, key) != me]
        unsaved = [key for key in moving if not self.registry.evict(key)]
        return len(moving) - len(unsaved), unsaved

    def restore(self, lane: str, init: bytes, snapshot: bytes) -> None:
        """Preload the models a (partial) snapshot manifest names."""
        self._lane(lane, init).restore(udf_pb2.RestoreRequest(snapshot=snapshot))

    def close_lane(self, lane: str) -> None:
        """The lane's connection ended (its outputs are delivered): checkpoint its models."""
        handler = self.lanes.pop(lane, None)
        if handler is not None:
            handler.close()

    def close(self) -> None:
        """Checkpoint every model and close the store."""
        self.registry.close()
        self.store.close()
