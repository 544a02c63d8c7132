"""The Kapacitor task healer (influxhtm/udf/task_healer.py): which TICKscripts use the UDF, credentials,
and the disable/enable pass against a fake Kapacitor HTTP API (paging, retries, refusals), then through
`influxhtm udf --kapacitor-url`. The real kapacitord is driven in tests/e2e/test_self_healing.py."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from influxhtm.udf.main import main as udf_main
from influxhtm.udf.task_healer import (
    CredentialsError,
    KapacitorClient,
    TaskHealer,
    read_credentials_file,
    resolve_credentials,
    uses_udf,
)
from tests.htm_udf.servers import REPO, metrics_text, parse_metrics

HTM = "stream\n    |from()\n        .measurement('cpu')\n    @htm()\n        .field('usage_idle')\n"
HTM_BATCH = (
    "batch\n    |query('SELECT mean(x) FROM db.rp.m')\n        .period(5m)\n    @htm_batch()\n        .field('mean')\n"
)
PLAIN = "stream\n    |from()\n        .measurement('cpu')\n    |log()\n"


# ---------------------------------------------------------------------------------------------------
# The matcher


@pytest.mark.parametrize(
    ("script", "name", "expected"),
    [
        (HTM, "htm", True),
        (HTM_BATCH, "htm", False),  # @htm_batch( is not @htm(
        (HTM_BATCH, "htm_batch", True),
        (HTM, "htm_batch", False),
        (PLAIN, "htm", False),
        ("stream|from()@htm().field('x')", "htm", True),
        ("stream|from()\n  @ htm ( )\n", "htm", True),
        ("stream|from()@htmx().field('x')", "htm", False),
        ("stream|from()@htm_process()", "htm", False),
        ("stream|from()@myhtm()", "htm", False),
        ("// feeds @htm() later\nstream|from()|log()", "htm", False),  # a comment
        ("stream|from()|log().prefix('@htm(')", "htm", False),  # a string
        ("stream|from()|log().prefix('''\n@htm(\n''')", "htm", False),  # a triple-quoted string
        ("stream|from().where(lambda: \"@htm(\" == 'a')|log()", "htm", False),  # a reference
        ('stream|from().where(lambda: "h" =~ /@htm(/)|log()', "htm", False),  # a regex
        ('stream|from().where(lambda: "h" =~ /a\\/b/)@htm()', "htm", True),  # code after a regex
        ("var s = 'it''s'\nstream|from()@htm()", "htm", True),
        ('stream|from()|eval(lambda: "x" / 2.0)@htm()', "htm", True),  # a division is not a regex
    ],
)
def test_uses_udf(script, name, expected):
    assert uses_udf(script, name) is expected


def test_shipped_tickscripts_match_their_udf():
    from influxhtm.examples import tickscript

    assert uses_udf(tickscript("htm_stream.tick"), "htm")
    assert not uses_udf(tickscript("htm_stream.tick"), "htm_batch")
    assert uses_udf(tickscript("htm_batch.tick"), "htm_batch")
    assert not uses_udf(tickscript("htm_batch.tick"), "htm")
    assert not uses_udf(tickscript("htm_alert.tick"), "htm")


# ---------------------------------------------------------------------------------------------------
# Credentials


def test_credentials_file(tmp_path):
    path = tmp_path / "cred"
    path.write_text("kapa:s3:cret\n")
    path.chmod(0o640)
    assert read_credentials_file(str(path)) == ("kapa", "s3:cret")
    path.chmod(0o644)
    with pytest.raises(CredentialsError, match="readable by everyone"):
        read_credentials_file(str(path))
    path.chmod(0o600)
    path.write_text("no colon\n")
    with pytest.raises(CredentialsError, match="user:password"):
        read_credentials_file(str(path))
    with pytest.raises(CredentialsError, match="cannot read"):
        read_credentials_file(str(tmp_path / "missing"))


def test_credentials_from_the_environment(tmp_path):
    env = {"INFLUXHTM_KAPACITOR_USER": "u", "INFLUXHTM_KAPACITOR_PASSWORD": "p"}
    assert resolve_credentials(None, env) == ("u", "p")
    assert resolve_credentials(None, {}) is None
    path = tmp_path / "cred"
    path.write_text("f:g")
    path.chmod(0o600)
    assert resolve_credentials(str(path), env) == ("f", "g")  # the file wins


# ---------------------------------------------------------------------------------------------------
# A fake Kapacitor


class FakeKapacitor:
    """GET /kapacitor/v1/tasks (offset/limit paging, fields) and PATCH /kapacitor/v1/tasks/ID on a dict."""

    def __init__(self, tasks: dict[str, tuple[str, str]], *, port: int = 0, auth: str | None = None):
        self.tasks = {tid: {"script": s, "status": st} for tid, (s, st) in tasks.items()}
        self.patches: list[tuple[str, str]] = []
        self.list_calls = 0
        self.fail_next = 0  # answer this many requests with HTTP 500
        self.auth = auth
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, code, body=None):
                raw = json.dumps(body).encode() if body is not None else b""
                self.send_response(code)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _refused(self):
                if fake.fail_next > 0:
                    fake.fail_next -= 1
                    self._answer(500, {"error": "busy"})
                    return True
                if fake.auth is not None and self.headers.get("Authorization") != fake.auth:
                    self._answer(401, {"error": "authentication required"})
                    return True
                return False

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                if self._refused():
                    return
                assert url.path == "/kapacitor/v1/tasks"
                query = urllib.parse.parse_qs(url.query)
                offset, limit = int(query["offset"][0]), int(query["limit"][0])
                fake.list_calls += 1
                ids = sorted(fake.tasks)[offset : offset + limit]
                self._answer(200, {"tasks": [{"id": tid, **fake.tasks[tid]} for tid in ids]})

            def do_PATCH(self):
                if self._refused():
                    return
                tid = urllib.parse.unquote(self.path.rsplit("/", 1)[1])
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if tid not in fake.tasks:
                    self._answer(404, {"error": "no task exists"})
                    return
                fake.patches.append((tid, body["status"]))
                fake.tasks[tid]["status"] = body["status"]
                self._answer(200, {"id": tid})

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_kapacitor():
    fakes = []

    def make(tasks, **kw):
        fakes.append(FakeKapacitor(tasks, **kw))
        return fakes[-1]

    yield make
    for fake in fakes:
        fake.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_heal_pages_through_every_task_and_bounces_only_enabled_users(fake_kapacitor):
    tasks = {f"plain{i:03d}": (PLAIN, "enabled") for i in range(150)}
    tasks.update({f"htm{i:03d}": (HTM, "enabled") for i in range(70)})
    tasks["htm_off"] = (HTM, "disabled")  # the operator's choice: stays disabled
    tasks["batch"] = (HTM_BATCH, "enabled")  # another UDF
    fake = fake_kapacitor(tasks)
    done = []
    healer = TaskHealer(KapacitorClient(fake.url), "htm", on_reenabled=done.append)
    assert healer.run()
    users = sorted(f"htm{i:03d}" for i in range(70))
    assert fake.list_calls == 3  # 222 tasks in pages of 100
    assert fake.patches == [(tid, status) for tid in users for status in ("disabled", "enabled")]
    assert done == users == healer.reenabled
    assert fake.tasks["htm_off"]["status"] == "disabled"
    assert all(t["status"] == "enabled" for tid, t in fake.tasks.items() if tid != "htm_off")


def test_batch_udf_name(fake_kapacitor):
    fake = fake_kapacitor({"a": (HTM, "enabled"), "b": (HTM_BATCH, "enabled")})
    assert TaskHealer(KapacitorClient(fake.url), "htm_batch").run()
    assert fake.patches == [("b", "disabled"), ("b", "enabled")]


def test_waits_for_kapacitor_to_come_up(fake_kapacitor):
    port = free_port()
    healer = TaskHealer(
        KapacitorClient(f"http://127.0.0.1:{port}"), "htm", timeout=30, first_delay=0.05, max_delay=0.2
    ).start()
    time.sleep(0.6)  # several refused connections
    assert not healer.done.is_set()
    fake = fake_kapacitor({"a": (HTM, "enabled")}, port=port)
    fake.fail_next = 2  # then two HTTP 500s
    assert healer.done.wait(20)
    assert healer.reenabled == ["a"]
    assert fake.patches == [("a", "disabled"), ("a", "enabled")]


def test_gives_up_after_the_timeout():
    healer = TaskHealer(KapacitorClient(f"http://127.0.0.1:{free_port()}"), "htm", timeout=0.5, first_delay=0.05)
    started = time.monotonic()
    assert healer.run() is False
    assert time.monotonic() - started < 5


def test_waits_for_the_socket_first(fake_kapacitor):
    fake = fake_kapacitor({"a": (HTM, "enabled")})
    listening = threading.Event()
    healer = TaskHealer(KapacitorClient(fake.url), "htm", ready=listening.is_set).start()
    time.sleep(0.3)
    assert fake.list_calls == 0
    listening.set()
    assert healer.done.wait(10) and healer.reenabled == ["a"]


def test_basic_auth_and_a_refusal(fake_kapacitor):
    fake = fake_kapacitor({"a": (HTM, "enabled")}, auth="Basic dTpw")  # u:p
    assert TaskHealer(KapacitorClient(fake.url, ("u", "p")), "htm").run()
    assert fake.patches == [("a", "disabled"), ("a", "enabled")]
    started = time.monotonic()
    assert TaskHealer(KapacitorClient(fake.url, ("u", "wrong")), "htm", first_delay=5).run() is False
    assert time.monotonic() - started < 2  # a 401 is not retried


def test_a_task_left_disabled_by_a_failed_enable_is_enabled_on_the_retry(fake_kapacitor):
    fake = fake_kapacitor({"a": (HTM, "enabled")})
    client = KapacitorClient(fake.url)
    real_set_status = client.set_status
    calls = []

    def flaky(task_id, status):
        calls.append(status)
        if calls == ["disabled", "enabled"]:
            fake.fail_next = 1  # the first enable gets HTTP 500
        real_set_status(task_id, status)

    client.set_status = flaky  # type: ignore[method-assign]
    assert TaskHealer(client, "htm", first_delay=0.05).run()
    assert fake.tasks["a"]["status"] == "enabled"
    assert fake.patches == [("a", "disabled"), ("a", "enabled")]


# ---------------------------------------------------------------------------------------------------
# Through `influxhtm udf`


def test_udf_server_heals_at_start_and_counts_it(tmp_path, fake_kapacitor):
    fake = fake_kapacitor({"a": (HTM, "enabled"), "b": (HTM, "disabled"), "c": (PLAIN, "enabled")})
    port = free_port()
    sock = str(tmp_path / "htm.sock")
    argv = [sys.executable, "-m", "influxhtm.udf", "--socket", sock, "--state-dir", str(tmp_path / "state")]
    argv += ["--kapacitor-url", fake.url, "--metrics", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(argv, cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while fake.patches != [("a", "disabled"), ("a", "enabled")]:
            assert time.monotonic() < deadline, fake.patches
            time.sleep(0.1)
        assert parse_metrics(metrics_text(port))["influxhtm_udf_tasks_reenabled_total"] == 1.0
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "re-enabled Kapacitor task a" in err


def test_udf_refuses_world_readable_credentials(tmp_path, caplog):
    cred = tmp_path / "cred"
    cred.write_text("u:p\n")
    cred.chmod(0o604)
    argv = ["--socket", str(tmp_path / "s"), "--state-dir", str(tmp_path / "state")]
    argv += ["--kapacitor-url", "http://127.0.0.1:9092", "--kapacitor-credentials", str(cred)]
    assert udf_main(argv) == 1
    assert "readable by everyone" in caplog.text
    assert not os.path.exists(tmp_path / "s")


def test_udf_refuses_kapacitor_url_in_process_mode(tmp_path, caplog):
    assert udf_main(["--state-dir", str(tmp_path / "state"), "--kapacitor-url", "http://127.0.0.1:9092"]) == 1
    assert "needs --socket" in caplog.text


def test_healer_imports_nothing_heavy():
    code = (
        "import sys, influxhtm.udf.main, influxhtm.udf.task_healer\n"
        "heavy = {'numpy', 'prometheus_client', 'tqdm', 'influxdb', 'matplotlib', 'requests'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


# ---------------------------------------------------------------------------------------------------
# The systemd unit


def test_systemd_unit_is_written_out_and_valid(tmp_path):
    from influxhtm.examples import write_examples

    written = {p.relative_to(tmp_path).as_posix() for p in write_examples(tmp_path)}
    assert {"systemd/influxhtm-udf.service", "systemd/influxhtm-udf.default"} <= written
    unit = (tmp_path / "systemd" / "influxhtm-udf.service").read_text()
    for setting in (
        "Restart=always",
        "RuntimeDirectory=influxhtm",
        "RuntimeDirectoryPreserve=yes",
        "StateDirectory=influxhtm",
        "Group=kapacitor",
        "EnvironmentFile=-/etc/default/influxhtm-udf",
    ):
        assert setting in unit.splitlines(), setting
    assert "--kapacitor-url http://127.0.0.1:9092" in unit and "--socket-mode 0660" in unit
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # the program is not installed here: verify everything else with a stand-in
    (tmp_path / "influxhtm-udf.service").write_text(unit.replace("/usr/local/bin/influxhtm", "/bin/true"))
    proc = subprocess.run(
        [analyze, "verify", str(tmp_path / "influxhtm-udf.service")], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and "influxhtm-udf.service:" not in proc.stderr, proc.stderr
