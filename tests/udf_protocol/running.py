"""A UdfServer serving the echo handler on a background thread, for tests."""

import threading

from influxhtm.kapacitor_udf import UdfServer

from .handlers import EchoHandler


class RunningServer:
    """A UdfServer serving EchoHandler on a thread; ``events`` collects handler closes and ``shutdown``."""

    def __init__(self, socket_path, **server_options):
        self.socket_path = socket_path
        self.events = []
        self.server = UdfServer(
            socket_path,
            lambda emitter: EchoHandler(emitter, self.events),
            on_shutdown=lambda: self.events.append("shutdown"),
            **server_options,
        )
        self.error = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            self.server.serve_forever()
        except BaseException as error:  # reported by the test that expects a running server
            self.error = error

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "serve_forever did not return after shutdown()"
