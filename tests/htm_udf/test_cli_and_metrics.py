"""`influxhtm models list|show|delete`, the `udf/influxhtm-udf` program, the Prometheus endpoint, and what
starting the UDF imports."""

import json
import os
import socket
import subprocess
import sys

from influxhtm.store.cli import main as cli_main
from tests.htm_udf.servers import REPO, metrics_text, parse_metrics
from tests.udf_protocol.client import (
    UdfClient,
    info_request,
    init_request,
    keepalive_request,
    make_point,
    option,
    request,
)

SEC = 10**9
RANGE = [option("field", "usage"), option("min", 0.0), option("max", 100.0)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_models_list_show_delete(server, capsys):
    c = server.connect()
    assert c.ask(init_request(*RANGE, task_id="cpu_alert")).success
    for i in range(3):
        for host in ("a", "b"):
            c.send(
                request(make_point((10 + i) * SEC, 1.0 * i, field="usage", group=f"host={host}", tags={"host": host}))
            )
    c.points(6)
    c.close_write()  # the end of a connection checkpoints its models
    c.read_until_eof(timeout=30)
    assert cli_main(["models", "--state-dir", server.state, "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["group"] for r in rows) == ["host=a", "host=b"]
    assert all(r["task"] == "cpu_alert" and r["records_seen"] == 3 and r["field"] == "usage" for r in rows)
    assert cli_main(["models", "--state-dir", server.state, "list"]) == 0
    table = capsys.readouterr().out
    assert "cpu_alert" in table and "host=a" in table
    mid = rows[0]["id"]
    assert cli_main(["models", "--state-dir", server.state, "show", mid]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == mid and shown["checkpoint_bytes"] > 0 and shown["journal_entries"] == 0
    assert shown["udf_options"]["field"] == "usage" and shown["database"] == "telegraf"
    assert shown["origin"] == "udf" and shown["version"] == 2 and shown["state_format"]["checkpoint"] == 1
    assert cli_main(["models", "--state-dir", server.state, "delete", mid]) == 0
    assert cli_main(["models", "--state-dir", server.state, "show", mid]) == 1
    assert "no model" in capsys.readouterr().err


def test_executable_serves_info_in_process_mode(tmp_path):
    prog = os.path.join(REPO, "udf", "influxhtm-udf")
    assert os.access(prog, os.X_OK)
    # run with this interpreter (the shebang picks the python3 on PATH, which may lack the dependencies)
    c = UdfClient.spawn([sys.executable, prog, "--state-dir", str(tmp_path / "state")], cwd=REPO)
    assert "field" in c.ask(info_request()).options
    c.close_write()
    c.read_until_eof(timeout=30)
    assert c.process.wait(timeout=30) == 0
    c.close()


def test_metrics_endpoint(socket_server):
    port = free_port()
    srv = socket_server("--metrics", f"127.0.0.1:{port}")
    c = srv.connect()
    assert c.ask(init_request(*RANGE)).success
    for i in range(5):  # one at a time: one model update (one step observation) each
        c.send(request(make_point((10 + i) * SEC, float(i), field="usage")))
        c.points(1)
    c.send(request(make_point(20 * SEC, "bad", field="usage")))
    c.points(1)
    text = metrics_text(port)
    metrics = parse_metrics(text)
    assert metrics["influxhtm_udf_points_in_total"] == 6
    assert metrics["influxhtm_udf_points_out_total"] == 6
    assert metrics['influxhtm_udf_bad_points_total{reason="string"}'] == 1
    assert metrics["influxhtm_udf_models"] == 1
    assert metrics["influxhtm_udf_step_seconds_count"] == 5
    assert metrics["influxhtm_udf_checkpoint_age_seconds"] >= 0
    assert metrics['influxhtm_udf_quarantined_models_total{cause="unloadable"}'] == 0
    assert "# TYPE influxhtm_udf_step_seconds histogram" in text
    assert metrics['influxhtm_udf_step_seconds_bucket{le="+Inf"}'] == 5
    assert "# TYPE influxhtm_udf_points_in_total counter" in text


def test_starting_the_udf_imports_no_optional_dependency():
    """`influxhtm udf` starts with the engine and protobuf: no Prometheus client (until --metrics), no
    numpy, InfluxDB client, plotting or progress bars, and no Ray (until --cluster)."""
    code = (
        "import sys, influxhtm.udf.main, influxhtm.cli; "
        "print(sorted(m for m in ('prometheus_client', 'numpy', 'influxdb', 'matplotlib', 'tqdm', 'ray') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert json.loads(out.replace("'", '"')) == []


def test_second_server_refuses_a_live_socket(server):
    proc = subprocess.run(
        [sys.executable, "-m", "influxhtm.udf", "--socket", server.sock, "--state-dir", server.state],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "already listening" in proc.stderr
    c = server.connect()  # the first server is unaffected
    assert c.ask(keepalive_request(1)).time == 1
