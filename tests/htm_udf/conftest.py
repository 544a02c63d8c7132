import signal

import pytest

from tests.htm_udf.servers import spawn_process_udf, start_socket_server
from tests.udf_protocol.client import UdfClient


class SocketServer:
    """A UDF socket server subprocess plus helpers to connect and restart it."""

    def __init__(self, tmp_path, *extra):
        self.sock = str(tmp_path / "htm.sock")
        self.state = str(tmp_path / "state")
        self.extra = extra
        self.proc = start_socket_server(self.sock, self.state, *extra)
        self.clients = []

    def connect(self) -> UdfClient:
        c = UdfClient.connect(self.sock)
        self.clients.append(c)
        return c

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        for c in self.clients:
            c.close_write()
        self.clients = []

    def restart(self) -> None:
        self.proc = start_socket_server(self.sock, self.state, *self.extra)

    def stop(self) -> int:
        for c in self.clients:
            c.close_write()
        self.clients = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


@pytest.fixture
def socket_server(tmp_path):
    servers = []

    def start(*extra, path=None):
        srv = SocketServer(path or tmp_path, *extra)
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


@pytest.fixture
def server(socket_server):
    return socket_server()


@pytest.fixture
def process_udf(tmp_path):
    clients = []

    def start(*extra):
        client = spawn_process_udf(str(tmp_path / "state"), *extra)
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.close()
