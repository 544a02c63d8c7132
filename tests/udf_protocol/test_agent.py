"""The per-connection agent over real unix sockets: round trips, keepalive latency, errors, bad frames."""

import threading
import time

import pytest

from influxhtm.kapacitor_udf import Handler, UdfServer, udf_pb2
from influxhtm.kapacitor_udf.connection import MAX_POINT_RUN
from influxhtm.kapacitor_udf.framing import encode_varint

from .client import UdfClient, encode_request, info_request, init_request, keepalive_request, point_request
from .handlers import EchoHandler
from .running import RunningServer


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_info_probe_then_end_of_input(echo_server):
    # What Kapacitor does at startup: Info on a fresh connection, then a half-close.
    with UdfClient.connect(echo_server.socket_path) as client:
        response = client.call(info_request())
        assert response.WhichOneof("message") == "info"
        assert response.info.wants == udf_pb2.STREAM and response.info.provides == udf_pb2.STREAM
        assert list(response.info.options["print"].valueTypes) == [udf_pb2.STRING]
        client.close_write()
        assert client.read_until_eof() == []
    wait_for(lambda: echo_server.events == ["close points=0"])


def test_init_restore_points_snapshot_round_trip(echo_server):
    with UdfClient.connect(echo_server.socket_path) as client:
        assert client.call(init_request()).init.success
        rejected = client.call(init_request(bogus=1.5)).init
        assert not rejected.success and "bogus" in rejected.error
        restore = client.call(udf_pb2.Request(restore=udf_pb2.RestoreRequest(snapshot=b"points=40")))
        assert restore.restore.success
        sent = [point_request(t, value=float(t)) for t in range(1, 101)]
        for request in sent:
            client.send(request)
        echoed = [client.recv() for _ in sent]
        assert [r.point for r in echoed] == [r.point for r in sent]
        assert client.call(udf_pb2.Request(snapshot=udf_pb2.SnapshotRequest())).snapshot.snapshot == b"points=140"
        bad = client.call(udf_pb2.Request(restore=udf_pb2.RestoreRequest(snapshot=b"junk"))).restore
        assert not bad.success and bad.error == "not an echo snapshot"


def test_batches_round_trip_in_order(echo_server):
    begin = udf_pb2.BeginBatch(name="cpu", group="host=a", tags={"host": "a"}, size=2, byName=True)
    points = [
        udf_pb2.Point(
            time=t,
            group="host=a",
            tags={"host": "a"},
            fieldsInt={"n": t},
            fieldsString={"s": "x"},
            fieldsBool={"b": t % 2 == 0},
        )
        for t in (10, 20)
    ]
    end = udf_pb2.EndBatch(name="cpu", group="host=a", tmax=20, tags={"host": "a"}, byName=True)
    requests = [udf_pb2.Request(begin=begin)] + [udf_pb2.Request(point=p) for p in points] + [udf_pb2.Request(end=end)]
    with UdfClient.connect(echo_server.socket_path) as client:
        for request in requests:
            client.send(request)
        responses = [client.recv() for _ in requests]
    assert [r.WhichOneof("message") for r in responses] == ["begin", "point", "point", "end"]
    assert responses[0].begin == begin and responses[3].end == end
    assert [r.point for r in responses[1:3]] == points


def test_keepalive_is_echoed(echo_server):
    with UdfClient.connect(echo_server.socket_path) as client:
        assert client.call(keepalive_request(1234567890123456789)).keepalive.time == 1234567890123456789
        assert client.call(keepalive_request(0)).WhichOneof("message") == "keepalive"


def test_keepalive_answered_while_the_handler_is_busy(echo_server):
    with UdfClient.connect(echo_server.socket_path) as client:
        client.send(point_request(1, value=1.0, sleep=2.0))
        time.sleep(0.2)  # the handler is now inside point()
        started = time.monotonic()
        response = client.call(keepalive_request(42), timeout=1.0)
        latency = time.monotonic() - started
        assert response.keepalive.time == 42
        assert latency < 0.1, f"keepalive took {latency * 1000:.0f} ms"
        assert client.recv(timeout=5.0).point.time == 1  # the slow point still comes back


def test_output_of_a_backlog_is_not_held_until_the_backlog_is_done(echo_server):
    """Requests that arrive together are answered as they are handled, not all at the end."""
    backlog = [
        point_request(1, value=1.0, sleep=0.05),
        point_request(2, value=2.0, sleep=0.05),
        point_request(3, value=3.0, sleep=3.0),
    ]
    with UdfClient.connect(echo_server.socket_path) as client:
        client.send_raw(b"".join(encode_request(r) for r in backlog))
        started = time.monotonic()
        assert [client.recv(timeout=5.0).point.time for _ in range(2)] == [1, 2]
        waited = time.monotonic() - started
        assert waited < 1.5, f"the first answers waited {waited:.1f} s for the slow third point"
        assert client.recv(timeout=10.0).point.time == 3


class _RunHandler(EchoHandler):
    """Takes backlogs as runs (Handler.point_run) and records their sizes; echoes like EchoHandler."""

    def __init__(self, emitter, runs):
        super().__init__(emitter)
        self.runs = runs

    def point_run(self, points):
        self.runs.append(len(points))
        for point in points:
            self.point(point)


@pytest.fixture
def run_server(socket_dir):
    """A server of _RunHandler on a thread: (socket path, the run sizes it saw)."""
    runs = []
    server = UdfServer(socket_dir / "r.sock", lambda emitter: _RunHandler(emitter, runs))
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    yield socket_dir / "r.sock", runs
    server.shutdown()
    thread.join()


def test_a_backlog_reaches_a_run_handler_in_bounded_runs_in_order(run_server):
    path, runs = run_server
    with UdfClient.connect(path) as client:
        # the first point keeps the worker busy while the other 40 queue up behind it
        backlog = [point_request(1, value=1.0, sleep=0.3)] + [point_request(t, value=float(t)) for t in range(2, 42)]
        client.send_raw(b"".join(encode_request(r) for r in backlog))
        assert [client.recv().point.time for _ in backlog] == list(range(1, 42))
    assert sum(runs) == 41 and max(runs) <= MAX_POINT_RUN and max(runs) > 1


def test_output_inside_a_long_run_is_not_held_until_the_run_ends(run_server):
    path, runs = run_server
    with UdfClient.connect(path) as client:
        backlog = [point_request(1, value=1.0), point_request(2, value=2.0, sleep=3.0)]
        client.send_raw(b"".join(encode_request(r) for r in backlog))
        started = time.monotonic()
        assert client.recv(timeout=5.0).point.time == 1
        waited = time.monotonic() - started
        assert waited < 1.5, f"the first answer waited {waited:.1f} s for the rest of its run"
        assert client.recv(timeout=10.0).point.time == 2
    assert runs == [2]


def test_end_of_input_drains_queued_requests_before_close(echo_server):
    with UdfClient.connect(echo_server.socket_path) as client:
        client.send(point_request(1, value=1.0, sleep=0.3))
        for t in range(2, 51):
            client.send(point_request(t, value=float(t)))
        client.close_write()
        responses = client.read_until_eof(timeout=10.0)
    assert [r.point.time for r in responses] == list(range(1, 51))
    wait_for(lambda: echo_server.events == ["close points=50"])


def test_handler_exception_fails_only_its_connection(echo_server):
    with UdfClient.connect(echo_server.socket_path) as healthy, UdfClient.connect(echo_server.socket_path) as failing:
        assert healthy.call(init_request()).init.success
        failing.send(udf_pb2.Request(point=udf_pb2.Point(name="raise")))
        failing.send(point_request(2, value=2.0))  # never handled: the connection ends at the error
        responses = failing.read_until_eof()
        assert [r.WhichOneof("message") for r in responses] == ["error"]
        assert "RuntimeError: echo handler was told to fail" in responses[0].error.error
        healthy.send(point_request(3, value=3.0))
        assert healthy.recv().point.time == 3
    wait_for(lambda: sorted(echo_server.events) == ["close points=0", "close points=1"])


BAD_STREAMS = {
    "oversized frame": encode_varint((64 << 20) + 1),
    "garbage bytes": b"\xff" * 16,
    "undecodable protobuf": b"\x02\x0a\xff",
    "unknown request type": b"\x02\xf8\x01",  # field 31 (varint): no Request case
}


@pytest.mark.parametrize("stream", BAD_STREAMS.values(), ids=BAD_STREAMS.keys())
def test_bad_frames_fail_only_their_connection(echo_server, stream):
    with UdfClient.connect(echo_server.socket_path) as healthy, UdfClient.connect(echo_server.socket_path) as broken:
        assert healthy.call(init_request()).init.success
        broken.send(keepalive_request(7))
        broken.send_raw(stream)  # the connection is failed without waiting for more input
        responses = broken.read_until_eof()
        assert [r.WhichOneof("message") for r in responses] == ["keepalive", "error"]
        healthy.send(point_request(5, value=5.0))
        assert healthy.recv().point.time == 5
    with UdfClient.connect(echo_server.socket_path) as later:
        assert later.call(info_request()).WhichOneof("message") == "info"


TRUNCATED_STREAMS = {
    "truncated length prefix": b"\x80\x80",
    "truncated body": encode_varint(100) + b"\x12\x00",
}


@pytest.mark.parametrize("stream", TRUNCATED_STREAMS.values(), ids=TRUNCATED_STREAMS.keys())
def test_stream_ending_mid_frame_is_an_error(echo_server, stream):
    with UdfClient.connect(echo_server.socket_path) as client:
        assert client.call(init_request()).init.success
        client.send_raw(stream)
        client.close_write()
        responses = client.read_until_eof()
    assert [r.WhichOneof("message") for r in responses] == ["error"]
    assert "middle of a frame" in responses[0].error.error
    wait_for(lambda: echo_server.events == ["close points=0"])


def test_max_frame_size_is_configurable(socket_dir):
    running = RunningServer(socket_dir / "small.sock", max_frame_size=100)
    try:
        with UdfClient.connect(running.socket_path) as client:
            client.send(point_request(1, value=1.0))  # 66 bytes: fits
            assert client.recv().point.time == 1
            client.send(point_request(2, **{f"field{i}": 1.0 for i in range(5)}))
            responses = client.read_until_eof()
        assert [r.WhichOneof("message") for r in responses] == ["error"]
        assert "exceeds the maximum frame size of 100 bytes" in responses[0].error.error
    finally:
        running.stop()


class _MisbehavingHandler(Handler):
    def __init__(self, emitter):
        self.emitter = emitter

    def info(self):
        return udf_pb2.InitResponse(success=True)  # wrong type

    def init(self, request):
        self.emitter.emit(udf_pb2.Response())  # no case set
        return udf_pb2.InitResponse(success=True)


@pytest.mark.parametrize(
    "request_, message",
    [
        (info_request(), "info() returned InitResponse, expected InfoResponse"),
        (init_request(), "refusing to send a Response with no message case set"),
        (udf_pb2.Request(point=udf_pb2.Point()), "_MisbehavingHandler does not accept points"),
    ],
)
def test_handler_contract_violations_become_error_responses(socket_dir, request_, message):
    server = UdfServer(socket_dir / "bad.sock", _MisbehavingHandler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        with UdfClient.connect(socket_dir / "bad.sock") as client:
            client.send(request_)
            responses = client.read_until_eof()
        assert [r.WhichOneof("message") for r in responses] == ["error"]
        assert message in responses[0].error.error
    finally:
        server.shutdown()
        thread.join()


def test_failing_handler_factory_is_reported(socket_dir):
    def factory(_emitter):
        raise ValueError("no state dir")

    server = UdfServer(socket_dir / "f.sock", factory)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        with UdfClient.connect(socket_dir / "f.sock") as client:
            responses = client.read_until_eof()
        assert [r.error.error for r in responses] == ["UDF handler could not be created: ValueError: no state dir"]
    finally:
        server.shutdown()
        thread.join()


class _ThreadedEmitHandler(Handler):
    """Emits from several threads at once when told to init."""

    def __init__(self, emitter):
        self.emitter = emitter

    def init(self, request):
        def emit_many(thread_index):
            for i in range(500):
                self.emitter.emit_point(udf_pb2.Point(time=i, name=f"t{thread_index}", fieldsDouble={"v": i}))

        threads = [threading.Thread(target=emit_many, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return udf_pb2.InitResponse(success=True)


def test_emit_is_thread_safe(socket_dir):
    server = UdfServer(socket_dir / "t.sock", _ThreadedEmitHandler)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        with UdfClient.connect(socket_dir / "t.sock") as client:
            client.send(init_request())
            client.close_write()
            responses = client.read_until_eof()
    finally:
        server.shutdown()
        thread.join()
    assert responses[-1].WhichOneof("message") == "init"
    points = [r.point for r in responses[:-1]]
    assert len(points) == 2000
    for n in range(4):  # each thread's points arrive whole and in its own order
        assert [p.time for p in points if p.name == f"t{n}"] == list(range(500))
