"""A protocol-level UDF test client: speaks to a UDF the way Kapacitor does (Requests out, Responses in).

Reusable by other suites (tests/htm_udf, bench/): ``UdfClient.connect(socket_path)`` for a socket UDF,
``UdfClient.spawn(argv)`` for a process UDF. Frames are decoded here independently of the library's decoder,
so the two check each other. send() keeps reading the UDF's output while it writes, so a long stream of
points sent before reading any answer cannot deadlock on full buffers.
"""

import os
import select
import socket
import subprocess
import tempfile
import time

from influxhtm.kapacitor_udf import udf_pb2


def encode_length(value: int) -> bytes:
    """Unsigned varint, written independently of the library's encoder."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_request(request: udf_pb2.Request) -> bytes:
    """One framed Request (length prefix + body), as send() writes it."""
    body = request.SerializeToString()
    return encode_length(len(body)) + body


class UdfClient:
    """One connection to a UDF. recv() raises EOFError when the UDF closed its output."""

    def __init__(self, read_fd: int, write_fd: int, close_write, close, process=None, stderr_file=None):
        self._read_fd = read_fd
        self._write_fd = write_fd
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        self._close_write = close_write
        self._close = close
        self._buffer = bytearray()
        self._eof = False
        self.process = process
        self._stderr_file = stderr_file

    @classmethod
    def connect(cls, socket_path, timeout: float = 10.0) -> "UdfClient":
        """Connect to a socket UDF, retrying until it listens (as Kapacitor does) or timeout passes."""
        deadline = time.monotonic() + timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(os.fspath(socket_path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

        def close_write():
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        return cls(sock.fileno(), sock.fileno(), close_write, sock.close)

    @classmethod
    def spawn(cls, argv, *, env=None, cwd=None) -> "UdfClient":
        """Start a process UDF with pipes on stdin/stdout; its stderr goes to a file (see stderr_text())."""
        stderr_file = tempfile.TemporaryFile()
        process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr_file, env=env, cwd=cwd, bufsize=0
        )

        def close_write():
            try:
                process.stdin.close()
            except OSError:
                pass

        def close():
            close_write()
            if process.poll() is None:
                process.kill()
            process.wait()
            process.stdout.close()

        return cls(
            process.stdout.fileno(),
            process.stdin.fileno(),
            close_write,
            close,
            process=process,
            stderr_file=stderr_file,
        )

    def send(self, request: udf_pb2.Request) -> None:
        self.send_raw(encode_request(request))

    def send_raw(self, data: bytes) -> None:
        """Write data, buffering whatever the UDF answers meanwhile (it may block on its output otherwise)."""
        pending = memoryview(data)
        while pending:
            readable, writable, _ = select.select([] if self._eof else [self._read_fd], [self._write_fd], [])
            if readable:
                self._read_available()
            if writable:
                try:
                    written = os.write(self._write_fd, pending[: 1 << 16])
                except BlockingIOError:
                    continue
                pending = pending[written:]

    def _read_available(self) -> None:
        try:
            chunk = os.read(self._read_fd, 1 << 16)
        except BlockingIOError:
            return
        except ConnectionResetError:
            chunk = b""
        if chunk:
            self._buffer += chunk
        else:
            self._eof = True

    def close_write(self) -> None:
        """End the input (stdin EOF / socket half-close), as Kapacitor does to stop a node."""
        self._close_write()

    def recv(self, timeout: float = 5.0) -> udf_pb2.Response:
        """The next Response; EOFError if the UDF closed its output, TimeoutError if none came in time."""
        deadline = time.monotonic() + timeout
        while True:
            frame = take_frame(self._buffer)
            if frame is not None:
                return parse_response(frame)
            if self._eof:
                if self._buffer:
                    raise AssertionError(f"UDF output ended mid-frame ({len(self._buffer)} bytes pending)")
                raise EOFError("the UDF closed its output")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no response within {timeout} s")
            ready, _, _ = select.select([self._read_fd], [], [], remaining)
            if ready:
                self._read_available()

    def call(self, request: udf_pb2.Request, timeout: float = 5.0) -> udf_pb2.Response:
        """Send a request and return the next response, whatever its case (see ask() for a checked one)."""
        self.send(request)
        return self.recv(timeout)

    def expect(self, kind: str, timeout: float = 30.0):
        """The next response, which must be of case ``kind`` ("point", "init", ...); returns its payload."""
        response = self.recv(timeout)
        assert response.WhichOneof("message") == kind, f"expected {kind}, got {response}"
        return getattr(response, kind)

    def ask(self, request: udf_pb2.Request, timeout: float = 30.0):
        """Send a management request; returns the payload of its answer, which must be of the same case."""
        self.send(request)
        return self.expect(request.WhichOneof("message"), timeout)

    def points(self, count: int, timeout: float = 60.0) -> list:
        """The next ``count`` responses, which must all be points (each waited for up to timeout)."""
        return [self.expect("point", timeout) for _ in range(count)]

    def sync(self, timeout: float = 60.0) -> list:
        """Every response answered before a snapshot round trip (the snapshot answer itself is dropped).

        A snapshot is handled in order with the data (a keepalive may overtake it), so its answer marks
        the point where every earlier request has been processed.
        """
        self.send(snapshot_request())
        responses = []
        while (response := self.recv(timeout)).WhichOneof("message") != "snapshot":
            responses.append(response)
        return responses

    def read_until_eof(self, timeout: float = 5.0) -> list:
        """All responses until the UDF closes its output."""
        deadline = time.monotonic() + timeout
        responses = []
        while True:
            try:
                responses.append(self.recv(max(0.0, deadline - time.monotonic())))
            except EOFError:
                return responses

    def stderr_text(self) -> str:
        """What a spawned UDF wrote to stderr so far."""
        self._stderr_file.seek(0)
        return self._stderr_file.read().decode("utf-8", "replace")

    def close(self) -> None:
        self._close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def take_frame(buffer: bytearray):
    """Remove and return the first complete frame body from buffer, or None if there is none yet."""
    length = 0
    for index, byte in enumerate(buffer[:10]):
        length |= (byte & 0x7F) << (7 * index)
        if byte < 0x80:
            start = index + 1
            if len(buffer) - start < length:
                return None
            frame = bytes(buffer[start : start + length])
            del buffer[: start + length]
            return frame
    if len(buffer) >= 10:
        raise AssertionError("UDF sent a frame length prefix longer than 10 bytes")
    return None


def parse_response(frame: bytes) -> udf_pb2.Response:
    response = udf_pb2.Response()
    response.ParseFromString(frame)
    assert response.WhichOneof("message") is not None, "UDF sent a Response with no case set"
    return response


def decode_responses(data: bytes) -> list:
    """All responses in a complete UDF output stream (it must end at a frame boundary)."""
    buffer = bytearray(data)
    responses = []
    while (frame := take_frame(buffer)) is not None:
        responses.append(parse_response(frame))
    assert not buffer, f"UDF output ended mid-frame ({len(buffer)} bytes pending)"
    return responses


class Duration(int):
    """A DURATION option value in nanoseconds: ``option("checkpointInterval", Duration(60 * 10**9))``."""


def option(name: str, *values) -> udf_pb2.Option:
    """An Option whose values are typed from Python: bool, int, float, str, or Duration."""
    result = udf_pb2.Option(name=name)
    for value in values:
        if isinstance(value, Duration):
            result.values.add(type=udf_pb2.DURATION, durationValue=value)
        elif isinstance(value, bool):
            result.values.add(type=udf_pb2.BOOL, boolValue=value)
        elif isinstance(value, int):
            result.values.add(type=udf_pb2.INT, intValue=value)
        elif isinstance(value, float):
            result.values.add(type=udf_pb2.DOUBLE, doubleValue=value)
        elif isinstance(value, str):
            result.values.add(type=udf_pb2.STRING, stringValue=value)
        else:
            raise TypeError(f"option {name}: no Kapacitor type for {value!r}")
    return result


def request(message) -> udf_pb2.Request:
    """Wrap a Point, BeginBatch or EndBatch into a Request."""
    kind = {udf_pb2.Point: "point", udf_pb2.BeginBatch: "begin", udf_pb2.EndBatch: "end"}[type(message)]
    return udf_pb2.Request(**{kind: message})


def info_request() -> udf_pb2.Request:
    return udf_pb2.Request(info=udf_pb2.InfoRequest())


def init_request(*options: udf_pb2.Option, task_id: str = "task1", node_id: str = "htm2", **named) -> udf_pb2.Request:
    """An InitRequest with the given Options, then one single-valued option per keyword (see option())."""
    init = udf_pb2.InitRequest(taskID=task_id, nodeID=node_id, options=options)
    init.options.extend(option(name, value) for name, value in named.items())
    return udf_pb2.Request(init=init)


def keepalive_request(time_ns: int) -> udf_pb2.Request:
    return udf_pb2.Request(keepalive=udf_pb2.KeepaliveRequest(time=time_ns))


def snapshot_request() -> udf_pb2.Request:
    return udf_pb2.Request(snapshot=udf_pb2.SnapshotRequest())


def restore_request(snapshot: bytes) -> udf_pb2.Request:
    return udf_pb2.Request(restore=udf_pb2.RestoreRequest(snapshot=snapshot))


def make_point(
    time_ns: int,
    value=None,
    *,
    field: str = "value",
    name: str = "cpu",
    group: str = "",
    tags=None,
    dims=(),
    database: str = "telegraf",
    rp: str = "autogen",
    extra=None,
) -> udf_pb2.Point:
    """A Point with ``field`` = value (typed from Python: bool, int, float, str; None for no field) plus
    the double fields in ``extra``."""
    point = udf_pb2.Point(
        time=time_ns,
        name=name,
        database=database,
        retentionPolicy=rp,
        group=group,
        dimensions=dims,
        tags=tags or {},
        fieldsDouble=extra or {},
    )
    if isinstance(value, bool):
        point.fieldsBool[field] = value
    elif isinstance(value, int):
        point.fieldsInt[field] = value
    elif isinstance(value, float):
        point.fieldsDouble[field] = value
    elif isinstance(value, str):
        point.fieldsString[field] = value
    elif value is not None:
        raise TypeError(f"field {field}: no Point field type for {value!r}")
    return point


def point_request(time_ns: int, **fields) -> udf_pb2.Request:
    """A stream Point of measurement ``cpu``, group ``host=a``, with the given double fields."""
    return request(
        make_point(time_ns, name="cpu", database="db", group="host=a", tags={"host": "a"}, dims=["host"], extra=fields)
    )
