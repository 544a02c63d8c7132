"""A protocol-level stand-in for Kapacitor: frames Requests to a UDF and reads its Responses."""
from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time

from udf.kapacitor_udf import udf_pb2

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOOL, INT, DOUBLE, STRING, DURATION = 0, 1, 2, 3, 4


def encode_frame(message) -> bytes:
    data = message.SerializeToString()
    n = len(data)
    head = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            head.append(byte | 0x80)
        else:
            head.append(byte)
            break
    return bytes(head) + data


def read_frame(stream) -> bytes | None:
    n = shift = 0
    while True:
        c = stream.read(1)
        if not c:
            return None
        n |= (c[0] & 0x7F) << shift
        shift += 7
        if not c[0] & 0x80:
            break
    data = stream.read(n)
    return data if len(data) == n else None


def option(name: str, *values) -> udf_pb2.Option:
    """An Option with typed values: bool, int, float, str, or ('duration', ns)."""
    opt = udf_pb2.Option(name=name)
    for v in values:
        ov = opt.values.add()
        if isinstance(v, tuple) and v[0] == "duration":
            ov.type, ov.durationValue = DURATION, v[1]
        elif isinstance(v, bool):
            ov.type, ov.boolValue = BOOL, v
        elif isinstance(v, int):
            ov.type, ov.intValue = INT, v
        elif isinstance(v, float):
            ov.type, ov.doubleValue = DOUBLE, v
        else:
            ov.type, ov.stringValue = STRING, v
    return opt


def make_point(time_ns: int, value=None, *, field="value", name="cpu", group="", tags=None, dims=(),
               database="telegraf", rp="autogen", extra=None) -> udf_pb2.Point:
    p = udf_pb2.Point(time=time_ns, name=name, database=database, retentionPolicy=rp, group=group)
    p.dimensions.extend(dims)
    p.tags.update(tags or {})
    if isinstance(value, bool):
        p.fieldsBool[field] = value
    elif isinstance(value, int):
        p.fieldsInt[field] = value
    elif isinstance(value, float):
        p.fieldsDouble[field] = value
    elif isinstance(value, str):
        p.fieldsString[field] = value
    for k, v in (extra or {}).items():
        p.fieldsDouble[k] = v
    return p


class KapacitorClient:
    """One UDF connection; responses are read by a thread into a queue."""

    def __init__(self, reader, writer, closer=None):
        self._reader, self._writer, self._closer = reader, writer, closer
        self.responses: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    @classmethod
    def connect(cls, path: str, timeout: float = 10.0) -> "KapacitorClient":
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client = cls(sock.makefile("rb"), sock.makefile("wb"), sock)
        return client

    def _read(self):
        while True:
            try:
                data = read_frame(self._reader)
            except (OSError, ValueError):
                data = None
            if data is None:
                self.responses.put(None)
                return
            r = udf_pb2.Response()
            r.ParseFromString(data)
            self.responses.put(r)

    def send(self, request: udf_pb2.Request) -> None:
        self._writer.write(encode_frame(request))
        self._writer.flush()

    def recv(self, timeout: float = 30.0) -> udf_pb2.Response | None:
        return self.responses.get(timeout=timeout)

    def recv_kind(self, kind: str, timeout: float = 30.0) -> udf_pb2.Response:
        r = self.recv(timeout)
        assert r is not None, f"connection closed while waiting for {kind}"
        assert r.WhichOneof("message") == kind, f"expected {kind}, got {r}"
        return r

    # ---- requests ----
    def info(self) -> udf_pb2.InfoResponse:
        req = udf_pb2.Request()
        req.info.SetInParent()
        self.send(req)
        return self.recv_kind("info").info

    def init(self, options, task="task1", node="htm2") -> udf_pb2.InitResponse:
        req = udf_pb2.Request()
        req.init.taskID, req.init.nodeID = task, node
        req.init.options.extend(options)
        self.send(req)
        return self.recv_kind("init").init

    def keepalive(self, t: int) -> int:
        req = udf_pb2.Request()
        req.keepalive.time = t
        self.send(req)
        return self.recv_kind("keepalive").keepalive.time

    def snapshot(self) -> bytes:
        req = udf_pb2.Request()
        req.snapshot.SetInParent()
        self.send(req)
        return self.recv_kind("snapshot").snapshot.snapshot

    def restore(self, data: bytes) -> udf_pb2.RestoreResponse:
        req = udf_pb2.Request()
        req.restore.snapshot = data
        self.send(req)
        return self.recv_kind("restore").restore

    def point(self, p: udf_pb2.Point) -> None:
        req = udf_pb2.Request()
        req.point.CopyFrom(p)
        self.send(req)

    def begin(self, **kw) -> None:
        req = udf_pb2.Request()
        tags = kw.pop("tags", {})
        req.begin.CopyFrom(udf_pb2.BeginBatch(**kw))
        req.begin.tags.update(tags)
        self.send(req)

    def end(self, **kw) -> None:
        req = udf_pb2.Request()
        tags = kw.pop("tags", {})
        req.end.CopyFrom(udf_pb2.EndBatch(**kw))
        req.end.tags.update(tags)
        self.send(req)

    def points(self, n: int, timeout: float = 60.0) -> list[udf_pb2.Point]:
        """Read n point responses (failing on anything else)."""
        return [self.recv_kind("point", timeout).point for _ in range(n)]

    def sync(self, timeout: float = 60.0) -> list[udf_pb2.Response]:
        """Everything answered before a snapshot round trip.

        A snapshot is handled in order with the data (a keepalive may overtake it), so its answer marks
        the point where every earlier request has been processed. Snapshot answers themselves are not
        returned.
        """
        req = udf_pb2.Request()
        req.snapshot.SetInParent()
        self.send(req)
        got = []
        while True:
            r = self.recv(timeout)
            assert r is not None, "connection closed"
            if r.WhichOneof("message") == "snapshot":
                return got
            got.append(r)

    def close(self) -> None:
        try:
            if self._closer is not None:
                self._closer.shutdown(socket.SHUT_WR)
            else:
                self._writer.close()
        except OSError:
            pass

    def wait_closed(self, timeout: float = 30.0) -> None:
        while True:
            r = self.recv(timeout)
            if r is None:
                return


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))
    return e


def start_socket_server(sock_path: str, state_dir: str, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "udf.htm_udf", "--socket", sock_path, "--state-dir", state_dir, *extra],
        env=env(), cwd=REPO,
    )
    deadline = time.monotonic() + 20
    while not os.path.exists(sock_path):
        if proc.poll() is not None:
            raise RuntimeError(f"UDF server exited with {proc.returncode}")
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("UDF server did not create its socket")
        time.sleep(0.05)
    return proc


def start_process_udf(state_dir: str, *extra: str) -> tuple[subprocess.Popen, KapacitorClient]:
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "udf.htm_udf", "--state-dir", state_dir, *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env(), cwd=REPO,
    )
    return proc, KapacitorClient(proc.stdout, proc.stdin)
