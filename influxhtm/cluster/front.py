"""The UDF front of the cluster mode: speaks Kapacitor's protocol and forwards points to model hosts.

Each point belongs to the model of (task, node, group), placed on a host by placement.owner. A Kapacitor
connection has one lane per host; a lane keeps the points waiting for its host and at most one run in
flight, so runs grow while a host is busy, each model's points reach its host in order, and the outputs of
a run are delivered before the next run of that lane is sent (the host checkpoints only delivered state,
see host.py). One thread per host collects its results: a slow host delays only its own groups, and
keepalives are answered by the connection's reader meanwhile. A host found dead (Ray reports its actor
died, after its node's health checks fail) is dropped from the placement and every run it had not
answered, plus the points waiting for it, goes in order to the new owners, which reopen the models from
the state store. A node that joins gets a host of its own (when the front runs one host per node): routing
pauses (new points are held, keepalives still answered), every run in flight is answered, the current owners
checkpoint and drop the models the new host takes over, and routing resumes with the held points first.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from typing import Any, cast

import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, GetTimeoutError, RayActorError, RayError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from influxhtm.kapacitor_udf import Emitter, Handler, udf_pb2
from influxhtm.store import model_id_for
from influxhtm.udf.handler import info_response, snapshot_response
from influxhtm.udf.metrics import Snapshot, UdfMetrics
from influxhtm.udf.options import HtmOptions, parse_options
from influxhtm.udf.points import output_name

from .connect import connect
from .host import ModelHost
from .placement import owner
from .state_store import StateStore

log = logging.getLogger("influxhtm.cluster")

MAX_RUN = 512  # points per run: a run's answers stay small enough for Ray to return them inline
PING_TIMEOUT = 5.0  # seconds to wait for a host's answer while deciding whether it is dead
NODE_POLL = 2.0  # seconds between looks for nodes that joined the cluster
HOST_START_TIMEOUT = 120.0  # seconds a new host may take to start

Item = tuple[int, udf_pb2.Point]  # (index in the connection's input, point)


class HostLost(Exception):
    """No model host is left."""


class _Lane:
    """One connection's traffic to one host."""

    def __init__(self, connection: ClusterHandler, host: _Host):
        self.connection = connection
        self.host = host
        self.id = f"{connection.id}/{host.name}"
        self.seq = 0
        self.waiting: list[Item] = []
        self.in_flight: tuple[ray.ObjectRef, list[Item]] | None = None


class _Host:
    """A model host actor and the thread that collects its results."""

    def __init__(self, name: str, actor, front: ClusterFront):
        self.name = name
        self.actor = actor
        self.front = front
        self.lanes: dict[str, _Lane] = {}
        self.alive = True
        self.thread = threading.Thread(target=self._collect, name=f"cluster host {name}", daemon=True)

    def send(self, lane: _Lane, items: list[Item] | None = None) -> None:
        """Send the lane's next run (or items again, with the same seq); the front's lock is held."""
        if items is None:
            items, lane.waiting = lane.waiting[:MAX_RUN], lane.waiting[MAX_RUN:]
            lane.seq += 1
        points = [point.SerializeToString() for _, point in items]
        ref = self.actor.process.remote(lane.id, lane.seq, lane.connection.init_bytes, points)
        lane.in_flight = (ref, items)

    def _collect(self) -> None:
        front = self.front
        while True:
            with front.lock:
                while self.alive and not any(lane.in_flight for lane in self.lanes.values()):
                    front.changed.wait()
                if not self.alive:
                    return
                refs = {lane.in_flight[0]: lane for lane in self.lanes.values() if lane.in_flight}
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=0.5)
            for ref in ready:
                if not self._finish(refs[ref], ref):
                    front.lost(self)
                    return

    def _finish(self, lane: _Lane, ref) -> bool:
        """Deliver a finished run and send the lane's next; False if the host is dead."""
        assert lane.in_flight is not None
        items = lane.in_flight[1]
        try:
            answers = ray.get(ref)
        except RayActorError:
            if self.dead():
                return False
            with self.front.lock:
                self.send(lane, items)  # alive: the host answers a repeated run again
            return True
        except RayError as exc:  # the host failed on the run: a bug, reported to Kapacitor
            log.error("host %s failed on a run of %s: %s", self.name, lane.connection.id, exc)
            lane.connection.fail(exc)
            answers = [[] for _ in items]
        lane.connection.deliver(items, answers)
        with self.front.lock:
            lane.in_flight = None
            if lane.waiting:
                self.send(lane)
            self.front.changed.notify_all()
        return True

    def dead(self) -> bool:
        """Ask the actor until Ray says it is alive or dead."""
        while True:
            try:
                ray.get(self.actor.ping.remote(), timeout=PING_TIMEOUT)
                return False
            except ActorDiedError:
                return True
            except (ActorUnavailableError, GetTimeoutError):
                time.sleep(0.2)


class ClusterFront:
    """The model hosts of one UDF server and the placement of models on them."""

    def __init__(self, hosts: dict[str, Any]):
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.metrics = UdfMetrics()  # the front's own: points exchanged with Kapacitor, tasks re-enabled
        self.hosts = {name: _Host(name, actor, self) for name, actor in hosts.items()}
        self.connections: weakref.WeakSet[ClusterHandler] = weakref.WeakSet()
        self.pausing = False  # a host is being added: route() holds new points
        # Held while the models' placement changes (a host added) or models are preloaded on their owners
        # (a restore), so that no host loads a model another host is about to own.
        self.placement_lock = threading.Lock()
        self._closed = threading.Event()
        for host in self.hosts.values():
            host.thread.start()

    @classmethod
    def start(
        cls,
        address: str,
        store: StateStore,
        *,
        hosts: int = 0,
        host_cpus: float = 1.0,
        journal_fsync: bool = False,
        max_resident: int | None = None,
    ) -> ClusterFront:
        """Join the Ray cluster at address ('auto': start a local Ray) and start the model hosts: `hosts`
        of them (0: one per alive node), spread over the nodes in turn."""
        store.open().close()  # refuse an unusable store here, not in every host
        connect(address)
        actor_class = ray.remote(ModelHost)

        def spawn(node: str):
            strategy = NodeAffinitySchedulingStrategy(node, soft=False)
            options = actor_class.options(
                num_cpus=host_cpus, max_restarts=0, max_task_retries=0, scheduling_strategy=strategy
            )
            return options.remote(store.spec, journal_fsync, max_resident)

        nodes = _alive_nodes()
        count = hosts or len(nodes)
        actors = {f"host-{index}": spawn(nodes[index % len(nodes)]) for index in range(count)}
        where = ray.get([actor.ping.remote() for actor in actors.values()])
        log.info("%d model host(s) on %d node(s): %s", count, len(nodes), ", ".join(where))
        front = cls(actors)
        if not hosts:  # one host per node: a node that joins gets one
            names = (f"host-{index}" for index in itertools.count(count))
            threading.Thread(
                target=front._follow_nodes, args=(spawn, set(nodes), names), name="cluster nodes", daemon=True
            ).start()
        return front

    def _follow_nodes(self, spawn: Callable[[str], Any], known: set[str], names) -> None:
        """Start a host on every node that joins the cluster and add it (see add_host)."""
        while not self._closed.wait(NODE_POLL):
            try:
                joined = [node for node in _alive_nodes() if node not in known]
            except RayError as exc:
                log.warning("cannot list the cluster's nodes: %s", exc)
                continue
            for node in joined:
                name = next(names)
                actor = spawn(node)
                try:
                    where = ray.get(actor.ping.remote(), timeout=HOST_START_TIMEOUT)
                except RayError as exc:
                    log.warning("model host %s on the new node %s did not start: %s", name, node, exc)
                    ray.kill(actor)
                    continue
                if self.add_host(name, actor):
                    known.add(node)
                    log.info("model host %s added on a node that joined (%s)", name, where)
                else:
                    ray.kill(actor)

    def handler_factory(self, *, batch: bool = False) -> Callable[[Emitter], Handler]:
        return lambda emitter: ClusterHandler(emitter, self, batch=batch)

    def route(self, connection: ClusterHandler, items: list[Item], resent: bool = False) -> None:
        """Queue items for their owners and send to idle lanes; the lock is held. While a host is being
        added, items are held instead (`resent` ones, older than any held, go first)."""
        if self.pausing:
            if resent:
                connection.held[:0] = items
            else:
                connection.held.extend(items)
            return
        names = sorted(name for name, host in self.hosts.items() if host.alive)
        if not names:
            raise HostLost("no model host is alive")
        touched = {}
        for item in items:
            name = owner(names, (connection.task, connection.node, item[1].group))
            lane = connection.lanes.get(name)
            if lane is None:
                lane = connection.lanes[name] = _Lane(connection, self.hosts[name])
                lane.host.lanes[lane.id] = lane
            lane.waiting.append(item)
            touched[name] = lane
        for lane in touched.values():
            if lane.in_flight is None:
                lane.host.send(lane)
        self.changed.notify_all()

    def lost(self, host: _Host) -> None:
        """A dead host: place its models on the others and re-send what it had not answered (once, whoever
        finds it dead first: its collecting thread or a call to it)."""
        with self.lock:
            if self.hosts.get(host.name) is not host:
                return
            host.alive = False
            del self.hosts[host.name]
            resent = 0
            for lane in host.lanes.values():
                items = (lane.in_flight[1] if lane.in_flight else []) + lane.waiting
                lane.in_flight, lane.waiting = None, []
                lane.connection.lanes.pop(host.name, None)
                resent += len(items)
                try:
                    self.route(lane.connection, items, resent=True)
                except HostLost as exc:
                    lane.connection.fail(exc)
            log.warning(
                "model host %s is dead; its models move to %s; %d unanswered point(s) re-sent",
                host.name,
                ", ".join(sorted(self.hosts)) or "nothing",
                resent,
            )
            self.changed.notify_all()

    def add_host(self, name: str, actor) -> bool:
        """Start sending to a new host: pause routing, wait until every run in flight is answered, have the
        current hosts checkpoint and drop the models the new host owns from now on (rendezvous hashing
        moves only those), then route again, held points first. False (nothing changed) if a host could
        not save a model it would hand over (its storage fails: the model's state is nowhere else)."""
        with self.placement_lock:
            with self.lock:
                self.pausing = True
                while any(lane.in_flight or lane.waiting for h in self.hosts.values() for lane in h.lanes.values()):
                    self.changed.wait()
                names = sorted(self.hosts)
            added, moved = False, 0
            try:
                calls = {host: (host, [*names, name]) for host in names}
                answers = cast(dict[str, tuple[int, list]], self.call("release", calls))
                moved = sum(count for count, _ in answers.values())
                unsaved = [key for _, keys in answers.values() for key in keys]
                if unsaved:
                    log.error("model host %s not added: %d model(s) could not be saved", name, len(unsaved))
                added = not unsaved
            finally:
                with self.lock:
                    if added:
                        host = self.hosts[name] = _Host(name, actor, self)
                        host.thread.start()
                    self.pausing = False
                    for connection in [c for c in self.connections if c.held]:
                        held, connection.held = connection.held, []
                        try:
                            self.route(connection, held)
                        except HostLost as exc:
                            connection.fail(exc)
                    self.changed.notify_all()
        if added:
            log.info("model host %s added: %d resident model(s) handed over to it", name, moved)
        return added

    def call(self, method: str, calls: dict[str, tuple]) -> dict[str, object]:
        """Call a method on hosts (name: arguments) and wait; a host that is dead has no entry in the result
        (it is dropped as lost, so the caller asks its successor)."""
        refs = {}
        with self.lock:
            for name, args in calls.items():
                host = self.hosts.get(name)
                if host is not None:
                    refs[name] = (host, getattr(host.actor, method).remote(*args))
        results = {}
        for name, (host, ref) in refs.items():
            try:
                results[name] = ray.get(ref)
            except RayActorError as exc:
                log.warning("model host %s did not answer %s: %s", name, method, exc)
                if host.dead():  # e.g. its node died while it had no run in flight
                    self.lost(host)
        return results

    def host_metrics(self, timeout: float = PING_TIMEOUT) -> tuple[int, dict[str, Snapshot]]:
        """The number of live hosts, and the metrics of those that answer within timeout (by host name)."""
        with self.lock:
            refs = {host.actor.metrics.remote(): name for name, host in self.hosts.items()}
        if not refs:
            return 0, {}
        ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=timeout)
        out = {}
        for ref in ready:
            try:
                out[refs[ref]] = ray.get(ref)
            except RayError as exc:
                log.warning("model host %s did not give its metrics: %s", refs[ref], exc)
        return len(refs), out

    def owners(self, connection: ClusterHandler, groups) -> dict[str, list[str]]:
        """The groups of a connection by owning host."""
        with self.lock:
            names = sorted(self.hosts)
        if not names:
            raise HostLost("no model host is alive")
        by_host: dict[str, list[str]] = {}
        for group in groups:
            by_host.setdefault(owner(names, (connection.task, connection.node, group)), []).append(group)
        return by_host

    def close(self) -> None:
        """Checkpoint every host's models and stop collecting."""
        self._closed.set()
        with self.placement_lock:  # not while a host is being added
            self.call("close", dict.fromkeys(self.hosts, ()))
        with self.lock:
            for host in self.hosts.values():
                host.alive = False
            self.changed.notify_all()


def _alive_nodes() -> list[str]:
    """The ids of the cluster's alive nodes, sorted."""
    return sorted(node["NodeID"] for node in ray.nodes() if node["Alive"])


_connection_ids = itertools.count(1)


class ClusterHandler(Handler):
    """One Kapacitor connection of the cluster front."""

    def __init__(self, emitter: Emitter, front: ClusterFront, *, batch: bool = False):
        self.emitter = emitter
        self.front = front
        self.batch = batch
        self.id = f"{uuid.uuid4().hex[:12]}-{next(_connection_ids)}"
        self.task = self.node = ""
        self.options: HtmOptions | None = None
        self.init_bytes = b""
        self.lanes: dict[str, _Lane] = {}
        self.held: list[Item] = []  # points that arrived while a host was being added
        self.groups: set[str] = set()
        self.error: BaseException | None = None
        self._next_index = 0
        self._begin: udf_pb2.BeginBatch | None = None
        self._batch_answers: dict[int, list[bytes]] = {}

    # ---- management ----------------------------------------------------------------------------
    def info(self) -> udf_pb2.InfoResponse:
        return info_response(self.batch)

    def init(self, request: udf_pb2.InitRequest) -> udf_pb2.InitResponse:
        try:
            self.options = parse_options(request.options)
        except ValueError as exc:
            log.error("task %s node %s: init failed: %s", request.taskID, request.nodeID, exc)
            return udf_pb2.InitResponse(success=False, error=str(exc))
        self.task, self.node = request.taskID, request.nodeID
        self.init_bytes = request.SerializeToString()
        with self.front.lock:
            self.front.connections.add(self)
        return udf_pb2.InitResponse(success=True)

    def snapshot(self) -> udf_pb2.SnapshotResponse:
        """The local UDF's manifest, with each model's records_seen asked of its host."""
        self.flush()
        seen: dict[str, int | None] = {}
        while len(seen) < len(self.groups):
            by_host = self.front.owners(self, sorted(self.groups - set(seen)))
            calls = {name: (self.task, self.node, groups) for name, groups in by_host.items()}
            for name, counts in self.front.call("records_seen", calls).items():
                seen.update(zip(by_host[name], counts))  # type: ignore[call-overload]
        models = [
            {"id": model_id_for(self.task, self.node, group), "group": group, "records_seen": count}
            for group, count in sorted(seen.items())
            if count is not None
        ]
        return snapshot_response(self.task, self.node, models)

    def restore(self, request: udf_pb2.RestoreRequest) -> udf_pb2.RestoreResponse:
        """Each host preloads its share of the manifest (and checks it as the local UDF does)."""
        try:
            manifest = json.loads(request.snapshot)
            entries = [entry for entry in manifest["models"] if isinstance(entry, dict)]
            groups = [str(entry.get("group")) for entry in entries]
        except (ValueError, TypeError, KeyError):
            manifest, entries, groups = None, [], []
        by_group = dict(zip(groups, entries))
        with self.front.placement_lock:  # no host is added while the models load on their owners
            self.groups.update(groups)
            by_host = self.front.owners(self, groups) if groups else {next(iter(self.front.hosts)): []}
            calls = {}
            for name, names in by_host.items():
                part = request.snapshot
                if manifest is not None:
                    part = json.dumps(dict(manifest, models=[by_group[group] for group in names])).encode()
                calls[name] = (f"{self.id}/{name}", self.init_bytes, part)
            self.front.call("restore", calls)
        return udf_pb2.RestoreResponse(success=True)

    def close(self) -> None:
        """Wait for the outputs, then let the hosts checkpoint this connection's models."""
        if self.options is None:
            return
        try:
            self.flush()
        finally:
            self.front.call("close_lane", {name: (lane.id,) for name, lane in self.lanes.items()})
            with self.front.lock:
                for lane in self.lanes.values():
                    lane.host.lanes.pop(lane.id, None)
                self.lanes = {}

    # ---- data ------------------------------------------------------------------------------------
    def begin_batch(self, begin: udf_pb2.BeginBatch) -> None:
        self._begin = begin
        self._batch_answers = {}

    def point(self, point: udf_pb2.Point) -> None:
        self.point_run([point])

    def point_run(self, points: list[udf_pb2.Point]) -> None:
        if self.options is None:
            raise RuntimeError("point received before a successful init")
        if self.error is not None:
            raise RuntimeError(f"cluster mode failed: {self.error}")
        items = []
        for point in points:
            if self._begin is not None:
                point.name = point.name or self._begin.name
                point.group = point.group or self._begin.group
            self.groups.add(point.group)
            items.append((self._next_index, point))
            self._next_index += 1
        self.front.metrics.points_in.inc(len(items))
        with self.front.lock:
            self.front.route(self, items)

    def end_batch(self, end: udf_pb2.EndBatch) -> None:
        self.flush()
        begin = udf_pb2.BeginBatch()
        if self._begin is not None:
            begin.CopyFrom(self._begin)
        answers, self._begin, self._batch_answers = self._batch_answers, None, {}
        points = [udf_pb2.Point.FromString(data) for index in sorted(answers) for data in answers[index]]
        name = output_name(self.options, end.name) if self.options else end.name
        begin.name = name
        begin.size = len(points)
        self.emitter.emit_begin(begin)
        for point in points:
            self.emitter.emit_point(point)
        self.front.metrics.points_out.inc(len(points))
        out_end = udf_pb2.EndBatch()
        out_end.CopyFrom(end)
        out_end.name = name
        self.emitter.emit_end(out_end)

    def deliver(self, items: list[Item], answers: list[list[bytes]]) -> None:
        """A run's answers (a host's collecting thread): emitted, or kept until the batch ends."""
        if self._begin is not None:
            for (index, _), answer in zip(items, answers):
                self._batch_answers[index] = answer
            return
        for answer in answers:
            for data in answer:
                self.emitter.emit_point(udf_pb2.Point.FromString(data))
        self.front.metrics.points_out.inc(sum(len(answer) for answer in answers))

    def fail(self, exc: BaseException) -> None:
        self.error = exc

    def flush(self) -> None:
        """Wait until every point sent so far is answered."""
        with self.front.lock:
            while self.error is None and (
                self.held or any(lane.waiting or lane.in_flight for lane in self.lanes.values())
            ):
                self.front.changed.wait()
        if self.error is not None:
            raise RuntimeError(f"cluster mode failed: {self.error}")
