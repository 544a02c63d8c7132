"""Process UDF mode: requests on stdin, frames (and only frames) on stdout, logs on stderr."""

import io
import time

from influxhtm.kapacitor_udf import encode_frame, run_process, udf_pb2

from .client import UdfClient, decode_responses, info_request, init_request, keepalive_request, point_request
from .conftest import REPO_ROOT
from .handlers import EchoHandler


def test_process_round_trip_and_clean_exit(echo_command):
    with UdfClient.spawn(echo_command, cwd=REPO_ROOT) as client:
        assert client.call(info_request(), timeout=20).info.provides == udf_pb2.STREAM
        # The echo handler print()s this option: it must land on stderr, not in the protocol stream.
        assert client.call(init_request(print="stray print output")).init.success
        client.send(point_request(1, value=1.0, sleep=0.5))
        started = time.monotonic()
        assert client.call(keepalive_request(9), timeout=1.0).keepalive.time == 9
        assert time.monotonic() - started < 0.1
        for t in range(2, 101):
            client.send(point_request(t, value=float(t)))
        snapshot = client.call(udf_pb2.Request(snapshot=udf_pb2.SnapshotRequest()))
        client.close_write()
        rest = client.read_until_eof()
        assert client.process.wait(timeout=10) == 0
        stderr = client.stderr_text()
    # recv() decoded every byte of stdout as frames, so nothing else was written there.
    responses = [snapshot] + rest
    assert [r.point.time for r in responses if r.WhichOneof("message") == "point"] == list(range(1, 101))
    assert any(r.snapshot.snapshot == b"points=100" for r in responses)
    assert "stray print output" in stderr


def test_process_handler_error_exits_nonzero_after_error_response(echo_command):
    with UdfClient.spawn(echo_command, cwd=REPO_ROOT) as client:
        client.send(udf_pb2.Request(point=udf_pb2.Point(name="raise")))
        responses = client.read_until_eof(timeout=20)
        assert client.process.wait(timeout=10) == 1
        assert [r.WhichOneof("message") for r in responses] == ["error"]
        assert "echo handler was told to fail" in client.stderr_text()  # traceback logged


def test_process_garbage_input_exits_nonzero(echo_command):
    with UdfClient.spawn(echo_command, cwd=REPO_ROOT) as client:
        client.send_raw(b"\xff" * 12)
        responses = client.read_until_eof(timeout=20)
        assert client.process.wait(timeout=10) == 1
        assert [r.WhichOneof("message") for r in responses] == ["error"]
        assert "overflows 64 bits" in responses[0].error.error


def test_run_process_on_in_memory_streams():
    requests = [info_request(), init_request(), point_request(5, value=1.0)]
    stdin = io.BytesIO(b"".join(encode_frame(r.SerializeToString()) for r in requests))
    stdout = io.BytesIO()
    events = []
    assert run_process(lambda emitter: EchoHandler(emitter, events), stdin=stdin, stdout=stdout) == 0
    kinds = [r.WhichOneof("message") for r in decode_responses(stdout.getvalue())]
    assert kinds == ["info", "init", "point"]
    assert events == ["close points=1"]
