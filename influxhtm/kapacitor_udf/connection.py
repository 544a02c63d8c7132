"""One Kapacitor connection: a reader, a worker and a writer, decoupled by mailboxes.

- The reader thread decodes frames as they arrive, answers keepalives at once (even while the handler is
  busy) and hands every other request to the worker.
- The worker (the thread that calls Connection.run) calls the handler, one request (or run of points) at a
  time, in order.
- The writer thread writes whatever frames are ready in one write and flushes, so a slow peer never blocks
  the handler.
- While the worker drains a backlog of requests, the output it emits waits for the writer up to
  `MAX_OUTPUT_DELAY` seconds (less if the backlog ends first), not point by point: one wake-up and one
  write per few milliseconds instead of per point. A request arriving alone is answered at once.
  Consecutive points of a backlog go to a handler that overrides `Handler.point_run` together (at most
  `MAX_POINT_RUN`; a stop takes effect between runs).
"""

from __future__ import annotations

import io
import itertools
import logging
import os
import socket
import threading
import time
from typing import Callable, Optional

from google.protobuf.message import DecodeError

from . import udf_pb2
from .framing import DEFAULT_MAX_FRAME_SIZE, FrameDecoder, ProtocolError, encode_frame, encode_varint
from .handler import Handler

log = logging.getLogger("influxhtm.udf.connection")

_READ_SIZE = 1 << 16
MAX_OUTPUT_DELAY = 0.005  # seconds the worker may hold output back while it drains a backlog
MAX_POINT_RUN = 16  # consecutive backlog points handed to Handler.point_run at once
_connection_ids = itertools.count(1)

# Response field keys (field number << 3 | length-delimited wire type) of the data cases, so a data message
# can be framed as a Response without copying it into one.
_BEGIN_KEY = encode_varint(16 << 3 | 2)
_POINT_KEY = encode_varint(17 << 3 | 2)
_END_KEY = encode_varint(18 << 3 | 2)


class _Mailbox:
    """An unbounded hand-off from any number of producers to one consumer, who takes everything at once.

    Items may be put `hold=True`: the consumer gets them once the oldest is `max_delay` seconds old, with
    the next item put without hold, or at release_held(), whichever comes first.
    """

    def __init__(self, max_delay: float = 0.0):
        self._lock = threading.Lock()
        self._items: list = []
        self._closed = False
        self._ready = False  # the consumer must take the items now
        self._due: float | None = None  # monotonic deadline of the oldest held item
        self._max_delay = max_delay
        self._waiter: threading.Lock | None = None  # a held lock the consumer blocks on while there is nothing to take

    def put(self, item) -> bool:
        """Add one item; False (item dropped) once the mailbox is closed."""
        return self.put_many((item,))

    def put_many(self, items, *, hold: bool = False) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._items.extend(items)
            if not hold:
                self._ready = True
                self._wake()
            elif self._due is None:
                self._due = time.monotonic() + self._max_delay
                self._wake()  # the consumer now waits for the deadline
            return True

    def release_held(self) -> None:
        """Make held items due now."""
        with self._lock:
            if self._items:
                self._ready = True
                self._wake()

    def take_all(self) -> list:
        """Wait for items and return all of them; an empty list means closed and drained."""
        while True:
            with self._lock:
                now = time.monotonic()
                if self._closed or self._ready or (self._due is not None and now >= self._due):
                    items = self._items
                    self._items = []
                    self._ready = False
                    self._due = None
                    return items
                timeout = -1 if self._due is None else self._due - now  # > 0 here
                waiter = self._waiter = threading.Lock()
                waiter.acquire()
            waiter.acquire(timeout=timeout)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake()

    @property
    def closed(self) -> bool:
        return self._closed

    def _wake(self) -> None:
        if self._waiter is not None:
            self._waiter.release()
            self._waiter = None


class Emitter:
    """Sends responses to Kapacitor on one connection. Thread-safe: any thread may emit at any time.

    Each message is serialized when it is emitted, so the caller may reuse or change it afterwards. After the
    connection has closed, emitted messages are dropped (see ``closed``).
    """

    def __init__(self, outbox: _Mailbox, connection_name: str):
        self._outbox = outbox
        self._connection_name = connection_name
        self._warned_closed = False
        self._holder: int | None = None  # the thread whose output is held (see hold())

    @property
    def closed(self) -> bool:
        """True once the connection no longer accepts output."""
        return self._outbox.closed

    def emit(self, response: udf_pb2.Response) -> None:
        """Send any Response; it must have its message case set (Kapacitor crashes on an empty one)."""
        if not isinstance(response, udf_pb2.Response):
            raise TypeError(f"emit() takes a udf_pb2.Response, got {type(response).__name__}")
        if response.WhichOneof("message") is None:
            raise ValueError("refusing to send a Response with no message case set")
        self._send(encode_frame(response.SerializeToString()))

    def emit_point(self, point: udf_pb2.Point) -> None:
        """Send a data point."""
        if not isinstance(point, udf_pb2.Point):
            raise TypeError(f"emit_point() takes a udf_pb2.Point, got {type(point).__name__}")
        self._send_case(_POINT_KEY, point.SerializeToString())

    def emit_begin(self, begin: udf_pb2.BeginBatch) -> None:
        """Send the start of an output batch."""
        if not isinstance(begin, udf_pb2.BeginBatch):
            raise TypeError(f"emit_begin() takes a udf_pb2.BeginBatch, got {type(begin).__name__}")
        self._send_case(_BEGIN_KEY, begin.SerializeToString())

    def emit_end(self, end: udf_pb2.EndBatch) -> None:
        """Send the end of an output batch."""
        if not isinstance(end, udf_pb2.EndBatch):
            raise TypeError(f"emit_end() takes a udf_pb2.EndBatch, got {type(end).__name__}")
        self._send_case(_END_KEY, end.SerializeToString())

    def _send_case(self, key: bytes, body: bytes) -> None:
        # A Response holding one length-delimited case is exactly: key, body length, body. The header and
        # the body go to the writer as two pieces (one put, so nothing can come between them).
        body_length = encode_varint(len(body))
        header = encode_varint(len(key) + len(body_length) + len(body)) + key + body_length
        self._send_pieces((header, body))

    def _send(self, frame: bytes) -> None:
        self._send_pieces((frame,))

    def hold(self) -> None:
        """Let what the calling thread emits wait for the writer up to MAX_OUTPUT_DELAY seconds (until
        release()), so a backlog's answers go out in a few large writes. Other threads' output is not held."""
        self._holder = threading.get_ident()

    def release(self) -> None:
        """Stop holding; what is held goes out now."""
        self._holder = None
        self._outbox.release_held()

    def _send_pieces(self, pieces) -> None:
        held = self._holder == threading.get_ident()
        if not self._outbox.put_many(pieces, hold=held) and not self._warned_closed:
            self._warned_closed = True
            log.debug("%s: connection closed, dropping output", self._connection_name)


HandlerFactory = Callable[[Emitter], Handler]


class SocketTransport:
    """A connected stream socket."""

    def __init__(self, sock: socket.socket):
        self._sock = sock

    def read(self) -> bytes:
        return self._sock.recv(_READ_SIZE)

    def write(self, data: bytes) -> None:
        self._sock.sendall(data)

    def interrupt_read(self) -> None:
        """Make a blocked read return end-of-stream."""
        try:
            self._sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass

    def finish(self) -> None:
        """End the connection in both directions (the peer sees end-of-stream; a blocked read returns)."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        self._sock.close()


class StreamTransport:
    """A pair of binary streams (a process UDF's stdin and stdout)."""

    def __init__(self, stdin, stdout):
        try:
            fd = stdin.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):
            read_some = getattr(stdin, "read1", stdin.read)
            self._read = lambda: read_some(_READ_SIZE)
        else:
            # Read the descriptor directly: no buffered-reader lock is held while waiting for input.
            self._read = lambda: os.read(fd, _READ_SIZE)
        self._stdout = stdout

    def read(self) -> bytes:
        return self._read()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self._stdout.write(view)
            view = view[len(view) if written is None else written :]
        self._stdout.flush()

    def interrupt_read(self) -> None:
        """A blocking stream read cannot be interrupted; the reader thread is a daemon."""

    def finish(self) -> None:
        try:
            self._stdout.flush()
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        """The streams belong to the caller and stay open."""


_END_OF_INPUT = object()
_STOP = object()


def _point_run_end(items: list, start: int, max_run: int) -> int:
    """The end of the run of point requests at items[start] (start + 1 if it is not a point)."""
    end = start
    limit = min(len(items), start + max_run)
    while end < limit and isinstance(items[end], udf_pb2.Request) and items[end].WhichOneof("message") == "point":
        end += 1
    return max(end, start + 1)


def decode_request(frame: bytes) -> udf_pb2.Request:
    """Parse one frame body as a Request; ProtocolError if it is not one."""
    request = udf_pb2.Request()
    try:
        request.ParseFromString(frame)
    except DecodeError as error:
        raise ProtocolError(f"undecodable Request message ({len(frame)} bytes): {error}") from None
    if request.WhichOneof("message") is None:
        raise ProtocolError(f"Request message ({len(frame)} bytes) has no known message case set")
    return request


class Connection:
    """Serves one connection with one handler until end of input, an error, or stop()."""

    def __init__(
        self,
        transport,
        handler_factory: HandlerFactory,
        *,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        name: Optional[str] = None,
    ):
        self.name = name or f"udf connection {next(_connection_ids)}"
        self._transport = transport
        self._handler_factory = handler_factory
        self._max_frame_size = max_frame_size
        self._work = _Mailbox()
        self._outbox = _Mailbox(MAX_OUTPUT_DELAY)
        self._emitter = Emitter(self._outbox, self.name)
        self._stop_requested = False
        self._write_failed = False

    def stop(self) -> None:
        """Stop reading; requests not yet handled are dropped; the handler is closed. Returns at once."""
        self._stop_requested = True
        self._work.put(_STOP)
        self._transport.interrupt_read()

    def run(self) -> bool:
        """Serve until the connection ends; True if it ended cleanly (end of input or stop())."""
        reader = threading.Thread(target=self._read_loop, name=f"{self.name} reader", daemon=True)
        writer = threading.Thread(target=self._write_loop, name=f"{self.name} writer", daemon=True)
        writer.start()
        reader.start()
        handler = None
        clean = False
        try:
            handler = self._make_handler()
            if handler is not None:
                clean = self._work_loop(handler)
        finally:
            if handler is not None:
                try:
                    handler.close()
                except Exception:
                    log.exception("%s: %s.close() failed", self.name, type(handler).__name__)
                    clean = False
            self._outbox.close()
            writer.join()
            self._transport.finish()
            reader.join(timeout=1.0)
            self._transport.close()
        log.debug("%s: closed (%s)", self.name, "clean" if clean else "after an error")
        return clean and not self._write_failed

    def _make_handler(self):
        try:
            return self._handler_factory(self._emitter)
        except Exception as error:
            log.exception("%s: the handler factory failed", self.name)
            self._send_error(f"UDF handler could not be created: {type(error).__name__}: {error}")
            return None

    def _work_loop(self, handler: Handler) -> bool:
        """Handle requests until the connection must end; True for a clean end."""
        emitter = self._emitter
        max_run = MAX_POINT_RUN if type(handler).point_run is not Handler.point_run else 1
        while True:
            items = self._work.take_all()
            if len(items) == 1:  # the usual case of a live stream: answer at once
                outcome = self._work_items(handler, items, 0, 1)
                if outcome is not None:
                    return outcome
                continue
            emitter.hold()
            try:
                start = 0
                while start < len(items):
                    end = _point_run_end(items, start, max_run)
                    outcome = self._work_items(handler, items, start, end)
                    if outcome is not None:
                        return outcome
                    start = end
            finally:
                emitter.release()

    def _work_items(self, handler: Handler, items: list, start: int, end: int) -> bool | None:
        """Handle items[start:end] (one item, or a run of points); None to go on, else whether the
        connection ends cleanly."""
        item = items[start]
        if self._stop_requested:
            dropped = sum(1 for other in items[start:] if isinstance(other, udf_pb2.Request))
            if dropped:
                log.warning("%s: stopping, %d queued requests dropped", self.name, dropped)
            return True
        if item is _END_OF_INPUT:
            return True
        if isinstance(item, Exception):
            self._send_error(str(item))
            return False
        if end - start > 1:
            handled = self._dispatch_points(handler, [request.point for request in items[start:end]])
        else:
            handled = self._dispatch(handler, item)
        return None if handled else False

    def _dispatch_points(self, handler: Handler, points: list) -> bool:
        try:
            handler.point_run(points)
        except Exception as error:
            log.exception("%s: %s failed handling %d points", self.name, type(handler).__name__, len(points))
            self._send_error(f"UDF point request failed: {type(error).__name__}: {error}")
            return False
        return True

    def _dispatch(self, handler: Handler, request: udf_pb2.Request) -> bool:
        case = request.WhichOneof("message")
        try:
            if case == "point":
                handler.point(request.point)
            elif case == "begin":
                handler.begin_batch(request.begin)
            elif case == "end":
                handler.end_batch(request.end)
            elif case == "info":
                self._emitter.emit(udf_pb2.Response(info=_checked(handler.info(), udf_pb2.InfoResponse, "info")))
            elif case == "init":
                response = _checked(handler.init(request.init), udf_pb2.InitResponse, "init")
                self._emitter.emit(udf_pb2.Response(init=response))
            elif case == "snapshot":
                response = _checked(handler.snapshot(), udf_pb2.SnapshotResponse, "snapshot")
                self._emitter.emit(udf_pb2.Response(snapshot=response))
            elif case == "restore":
                response = _checked(handler.restore(request.restore), udf_pb2.RestoreResponse, "restore")
                self._emitter.emit(udf_pb2.Response(restore=response))
            else:
                raise ProtocolError(f"unexpected request {case!r}")
        except Exception as error:
            log.exception("%s: %s failed handling a %r request", self.name, type(handler).__name__, case)
            self._send_error(f"UDF {case} request failed: {type(error).__name__}: {error}")
            return False
        return True

    def _send_error(self, message: str) -> None:
        log.error("%s: sending ErrorResponse and closing: %s", self.name, message)
        self._emitter.emit(udf_pb2.Response(error=udf_pb2.ErrorResponse(error=message)))

    def _read_loop(self) -> None:
        decoder = FrameDecoder(self._max_frame_size)
        emitter = self._emitter
        try:
            while True:
                chunk = self._transport.read()
                if not chunk:
                    if not self._stop_requested:
                        decoder.finish()
                    self._work.put(_END_OF_INPUT)
                    return
                requests = []
                try:
                    for frame in decoder.feed(chunk):
                        request = decode_request(frame)
                        if request.WhichOneof("message") == "keepalive":
                            emitter.emit(
                                udf_pb2.Response(keepalive=udf_pb2.KeepaliveResponse(time=request.keepalive.time))
                            )
                        else:
                            requests.append(request)
                finally:
                    if requests:
                        self._work.put_many(requests)
        except ProtocolError as error:
            log.error("%s: protocol error: %s", self.name, error)
            self._work.put(error)
        except OSError as error:
            if self._stop_requested:
                self._work.put(_END_OF_INPUT)
            else:
                log.error("%s: read failed: %s", self.name, error)
                self._work.put(ProtocolError(f"read failed: {error}"))

    def _write_loop(self) -> None:
        while True:
            frames = self._outbox.take_all()
            if not frames:
                return
            try:
                self._transport.write(b"".join(frames))
            except (OSError, ValueError) as error:
                log.error("%s: write failed, closing: %s", self.name, error)
                self._write_failed = True
                self._outbox.close()
                self.stop()
                return


def _checked(response, expected_type, method: str):
    if not isinstance(response, expected_type):
        raise TypeError(f"handler.{method}() returned {type(response).__name__}, expected {expected_type.__name__}")
    return response
