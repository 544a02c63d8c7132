"""The private influxd launcher: own config, free ports, clean stop."""

import os
import urllib.request

from influxhtm.stack.influxd import InfluxServer


def test_session_server_answers_ping(influxdb_server):
    with urllib.request.urlopen(influxdb_server.url + "/ping", timeout=5) as resp:
        assert resp.status == 204
    assert influxdb_server.url == f"http://127.0.0.1:{influxdb_server.port}"


def test_server_keeps_files_in_tmpdir_and_stops_cleanly(tmp_path):
    server = InfluxServer(tmp_path)
    with server:
        pid = server._proc.pid
        assert server.running
        assert server.port != server.rpc_port
        config = server.config_path.read_text()
        assert str(tmp_path) in config and "reporting-disabled = true" in config
    assert not server.running
    # the process is gone (reaped), not just signalled
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
    assert (tmp_path / "meta" / "meta.db").is_file() and (tmp_path / "data" / "data").is_dir()
    server.stop()  # idempotent
