"""Socket UDF server: many concurrent Kapacitor connections on one unix socket, a thread per connection."""

from __future__ import annotations

import logging
import os
import selectors
import signal
import socket
import stat
import threading

from .connection import Connection, HandlerFactory, SocketTransport
from .framing import DEFAULT_MAX_FRAME_SIZE

log = logging.getLogger("influxhtm.udf.server")

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class SocketInUseError(RuntimeError):
    """Another server is listening on the socket path (or the path is not a socket)."""


class UdfServer:
    """Serves Kapacitor socket UDF connections, one Handler per connection from ``handler_factory``.

    serve_forever() binds the socket (removing a stale socket file, refusing to take over a live one), sets
    its mode and serves until SIGTERM/SIGINT (when run in the main thread) or shutdown(). On the way out it
    stops accepting, stops every connection (requests not yet handled are dropped, as Kapacitor does when
    it aborts a node), calls close() on every live handler, then on_shutdown(), and removes the socket file.
    """

    def __init__(
        self,
        socket_path,
        handler_factory: HandlerFactory,
        *,
        socket_mode: int = 0o660,
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
        on_shutdown=None,
    ):
        self.socket_path = os.fspath(socket_path)
        self._handler_factory = handler_factory
        self._socket_mode = socket_mode
        self._max_frame_size = max_frame_size
        self._on_shutdown = on_shutdown
        self._lock = threading.Lock()
        self._connections: dict[Connection, threading.Thread] = {}
        self._stop_requested = False
        self._wake_write: int | None = None
        self._serving_thread: threading.Thread | None = None
        self._done = threading.Event()

    def serve_forever(self) -> None:
        """Bind and serve until a stop signal or shutdown(); then clean up and return."""
        with self._lock:
            if self._serving_thread is not None:
                raise RuntimeError("serve_forever() was already called on this server")
            self._serving_thread = threading.current_thread()
        try:
            listener, socket_inode = self._bind()
        except BaseException:
            self._done.set()
            raise
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_write, False)
        self._wake_write = wake_write
        previous_handlers = self._install_signal_handlers()
        log.info("UDF server listening on %s", self.socket_path)
        try:
            self._accept_loop(listener, wake_read)
        finally:
            self._restore_signal_handlers(previous_handlers)
            listener.close()
            self._stop_connections()
            self._call_on_shutdown()
            self._remove_socket_file(socket_inode)
            self._wake_write = None
            os.close(wake_read)
            os.close(wake_write)
            self._done.set()
            log.info("UDF server stopped")

    def shutdown(self) -> None:
        """Stop the server as a stop signal does; when called from another thread, wait until it is done."""
        self._request_stop()
        current = threading.current_thread()
        with self._lock:
            serving = self._serving_thread
            in_connection = any(thread is current for thread in self._connections.values())
        if serving is not None and serving is not current and not in_connection:
            self._done.wait()

    def _request_stop(self) -> None:
        self._stop_requested = True
        wake_write = self._wake_write
        if wake_write is not None:
            try:
                os.write(wake_write, b"x")
            except OSError:
                pass  # pipe full (a wake-up is already pending) or already closed

    def _bind(self):
        path = self.socket_path
        try:
            existing = os.lstat(path)
        except FileNotFoundError:
            existing = None
        if existing is not None:
            if not stat.S_ISSOCK(existing.st_mode):
                raise SocketInUseError(f"{path} exists and is not a socket; refusing to replace it")
            if self._is_live(path):
                raise SocketInUseError(f"another UDF server is already listening on {path}")
            log.warning("removing stale socket file %s (nothing listens on it)", path)
            os.unlink(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(path)
            os.chmod(path, self._socket_mode)
            listener.listen(128)
            listener.setblocking(False)
            inode = os.stat(path).st_ino
        except OSError as error:
            listener.close()
            raise OSError(error.errno, f"cannot listen on UDF socket {path}: {error.strerror}") from error
        return listener, inode

    @staticmethod
    def _is_live(path: str) -> bool:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(2.0)
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        except OSError as error:
            raise SocketInUseError(f"cannot tell whether a server listens on {path}: {error}") from error
        finally:
            probe.close()
        return True

    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}

        def on_signal(signum, _frame):
            log.info("received %s, shutting down", signal.Signals(signum).name)
            self._request_stop()

        for signum in _STOP_SIGNALS:
            previous[signum] = signal.signal(signum, on_signal)
        return previous

    @staticmethod
    def _restore_signal_handlers(previous) -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def _accept_loop(self, listener: socket.socket, wake_read: int) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            selector.register(wake_read, selectors.EVENT_READ)
            while not self._stop_requested:
                for key, _events in selector.select():
                    if key.fileobj is listener and not self._stop_requested:
                        self._accept(listener)

    def _accept(self, listener: socket.socket) -> None:
        try:
            sock, _address = listener.accept()
        except BlockingIOError:
            return
        except OSError as error:  # e.g. out of file descriptors: keep serving the live connections
            log.error("accept failed: %s", error)
            return
        sock.setblocking(True)
        connection = Connection(SocketTransport(sock), self._handler_factory, max_frame_size=self._max_frame_size)
        thread = threading.Thread(target=self._serve_connection, args=(connection,), name=connection.name, daemon=True)
        with self._lock:
            self._connections[connection] = thread
        log.info("%s: accepted", connection.name)
        thread.start()

    def _serve_connection(self, connection: Connection) -> None:
        try:
            connection.run()
        except Exception:
            log.exception("%s: failed", connection.name)
        finally:
            with self._lock:
                self._connections.pop(connection, None)
            log.info("%s: ended", connection.name)

    def _stop_connections(self) -> None:
        with self._lock:
            live = list(self._connections.items())
        if live:
            log.info("stopping %d live connections", len(live))
        for connection, _thread in live:
            connection.stop()
        for _connection, thread in live:
            thread.join()

    def _call_on_shutdown(self) -> None:
        if self._on_shutdown is None:
            return
        try:
            self._on_shutdown()
        except Exception:
            log.exception("on_shutdown callback failed")

    def _remove_socket_file(self, inode: int) -> None:
        try:
            if os.stat(self.socket_path).st_ino == inode:
                os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
