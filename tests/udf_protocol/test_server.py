"""Socket server lifecycle: stale and live sockets, file mode, shutdown, SIGTERM of a server process."""

import os
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest

from influxhtm.kapacitor_udf import SocketInUseError, UdfServer

from .client import UdfClient, info_request, init_request, point_request
from .conftest import REPO_ROOT
from .handlers import EchoHandler
from .running import RunningServer


def test_socket_file_mode_defaults_to_0660(echo_server):
    with UdfClient.connect(echo_server.socket_path) as client:
        client.call(info_request())
    assert stat.S_IMODE(os.stat(echo_server.socket_path).st_mode) == 0o660


def test_socket_mode_is_configurable(socket_dir):
    running = RunningServer(socket_dir / "m.sock", socket_mode=0o600)
    try:
        with UdfClient.connect(running.socket_path) as client:
            client.call(info_request())
        assert stat.S_IMODE(os.stat(running.socket_path).st_mode) == 0o600
    finally:
        running.stop()


def test_stale_socket_file_is_replaced(socket_dir):
    path = socket_dir / "stale.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))  # a server that died without removing its socket
    dead.close()
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    running = RunningServer(path)
    try:
        with UdfClient.connect(path) as client:
            assert client.call(info_request()).WhichOneof("message") == "info"
    finally:
        running.stop()


def test_live_socket_is_not_taken_over(echo_server):
    with UdfClient.connect(echo_server.socket_path):
        pass  # the first server listens
    second = UdfServer(echo_server.socket_path, EchoHandler)
    with pytest.raises(SocketInUseError, match="already listening"):
        second.serve_forever()
    with UdfClient.connect(echo_server.socket_path) as client:  # the first one still serves
        assert client.call(info_request()).WhichOneof("message") == "info"


def test_non_socket_file_is_left_alone(socket_dir):
    path = socket_dir / "notes.txt"
    path.write_text("keep me")
    with pytest.raises(SocketInUseError, match="not a socket"):
        UdfServer(path, EchoHandler).serve_forever()
    assert path.read_text() == "keep me"


def test_missing_directory_is_a_clear_error(socket_dir):
    with pytest.raises(OSError, match=r"cannot listen on UDF socket .*missing"):
        UdfServer(socket_dir / "missing" / "x.sock", EchoHandler).serve_forever()


def test_shutdown_closes_live_handlers_then_calls_on_shutdown(socket_dir):
    running = RunningServer(socket_dir / "s.sock")
    first = UdfClient.connect(running.socket_path)
    second = UdfClient.connect(running.socket_path)
    try:
        assert first.call(init_request()).init.success
        first.send(point_request(1, value=1.0))
        assert first.recv().point.time == 1
        assert second.call(init_request()).init.success
        running.stop()  # shutdown() from another thread returns once everything is done
        assert sorted(running.events[:2]) == ["close points=0", "close points=1"]
        assert running.events[2:] == ["shutdown"]
        assert not running.socket_path.exists()
        assert first.read_until_eof() == [] and second.read_until_eof() == []
    finally:
        first.close()
        second.close()


def test_shutdown_while_a_handler_is_busy_drops_queued_points(socket_dir):
    running = RunningServer(socket_dir / "b.sock")
    with UdfClient.connect(running.socket_path) as client:
        client.send(point_request(1, value=1.0, sleep=0.5))
        for t in range(2, 20):
            client.send(point_request(t, value=float(t)))
        time.sleep(0.2)
        running.stop()
        responses = client.read_until_eof()
    assert [r.point.time for r in responses] == [1]  # the point being handled finishes, the rest is dropped
    assert running.events == ["close points=1", "shutdown"]


def test_shutdown_before_serving_returns_immediately(socket_dir):
    server = UdfServer(socket_dir / "never.sock", EchoHandler)
    server.shutdown()
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert not (socket_dir / "never.sock").exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_to_a_server_process(socket_dir, echo_command, signum):
    path = socket_dir / "proc.sock"
    events = socket_dir / "events.txt"
    process = subprocess.Popen(
        echo_command + ["--socket", str(path), "--events", str(events)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        with UdfClient.connect(path, timeout=20) as client:
            assert client.call(init_request()).init.success
            for t in range(1, 4):
                client.send(point_request(t, value=float(t)))
            assert [client.recv().point.time for _ in range(3)] == [1, 2, 3]
            process.send_signal(signum)
            assert process.wait(timeout=10) == 0
            assert client.read_until_eof() == []
        out, err = process.communicate()
        assert events.read_text().splitlines() == ["close points=3", "shutdown"]
        assert not path.exists()
        assert out == b""
        assert b"shutting down" in err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
