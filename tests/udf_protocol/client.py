"""A protocol-level UDF test client: speaks to a UDF the way Kapacitor does (Requests out, Responses in).

Reusable by other suites: ``UdfClient.connect(socket_path)`` for a socket UDF, ``UdfClient.spawn(argv)`` for
a process UDF. Frames are decoded here independently of the library's decoder, so the two check each other.
"""

import os
import select
import socket
import subprocess
import tempfile
import time

from udf.kapacitor_udf import udf_pb2


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


class UdfClient:
    """One connection to a UDF. recv() raises EOFError when the UDF closed its output."""

    def __init__(self, read_fd: int, write, close_write, close, process=None, stderr_file=None):
        self._read_fd = read_fd
        self._write = write
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

        return cls(sock.fileno(), sock.sendall, close_write, sock.close)

    @classmethod
    def spawn(cls, argv, *, env=None, cwd=None) -> "UdfClient":
        """Start a process UDF with pipes on stdin/stdout; its stderr goes to a file (see stderr_text())."""
        stderr_file = tempfile.TemporaryFile()
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr_file,
                                   env=env, cwd=cwd, bufsize=0)

        def write(data):
            process.stdin.write(data)
            process.stdin.flush()

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

        return cls(process.stdout.fileno(), write, close_write, close, process=process, stderr_file=stderr_file)

    def send(self, request: udf_pb2.Request) -> None:
        body = request.SerializeToString()
        self._write(encode_length(len(body)) + body)

    def send_raw(self, data: bytes) -> None:
        self._write(data)

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
                try:
                    chunk = os.read(self._read_fd, 1 << 16)
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    self._buffer += chunk
                else:
                    self._eof = True

    def call(self, request: udf_pb2.Request, timeout: float = 5.0) -> udf_pb2.Response:
        """Send a management request and return the next response."""
        self.send(request)
        return self.recv(timeout)

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
            frame = bytes(buffer[start:start + length])
            del buffer[:start + length]
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


def info_request() -> udf_pb2.Request:
    return udf_pb2.Request(info=udf_pb2.InfoRequest())


def init_request(task_id: str = "task", node_id: str = "udf1", **options) -> udf_pb2.Request:
    """An InitRequest; each keyword becomes an option with one value, typed from the Python value."""
    init = udf_pb2.InitRequest(taskID=task_id, nodeID=node_id)
    for name, value in options.items():
        option = init.options.add(name=name)
        if isinstance(value, bool):
            option.values.add(type=udf_pb2.BOOL, boolValue=value)
        elif isinstance(value, int):
            option.values.add(type=udf_pb2.INT, intValue=value)
        elif isinstance(value, float):
            option.values.add(type=udf_pb2.DOUBLE, doubleValue=value)
        else:
            option.values.add(type=udf_pb2.STRING, stringValue=str(value))
    return udf_pb2.Request(init=init)


def keepalive_request(time_ns: int) -> udf_pb2.Request:
    return udf_pb2.Request(keepalive=udf_pb2.KeepaliveRequest(time=time_ns))


def point_request(time_ns: int, **fields) -> udf_pb2.Request:
    """A stream Point of measurement ``cpu``, group ``host=a``, with the given double fields."""
    point = udf_pb2.Point(time=time_ns, name="cpu", database="db", retentionPolicy="autogen", group="host=a",
                          dimensions=["host"], tags={"host": "a"}, fieldsDouble=fields)
    return udf_pb2.Request(point=point)
