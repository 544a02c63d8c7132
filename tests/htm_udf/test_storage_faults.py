"""Real storage faults under the UDF's state dir never stop the scoring, and durability comes back by itself.

The state dir lives on an 8 MiB tmpfs (room for a few checkpoints of two models) mounted inside a private
mount namespace, so nothing leaks to the host: a holder process (`unshare -m`, then `sleep`) keeps the
namespace and its tmpfs alive; the UDF socket server and every fault (a filler file, `rm -rf`) run inside it
through `nsenter -m`; the socket is outside the tmpfs. Each scenario sends two interleaved groups, checks that
every point is answered with the scores of an uninterrupted run, clears the fault, sends more points until
the server reports no degraded model, kills the server with -9, restarts it on the same state dir and checks
the continuation bit for bit.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from tests.htm_udf.servers import REPO, interleaved_stream, scores, scrape_metrics, start_socket_server
from tests.udf_protocol.client import UdfClient, init_request, option, request, snapshot_request

SEC = 10**9
HOSTS = ("a", "b")
OPTIONS = [option("field", "usage"), option("min", 0.0), option("max", 110.0), option("checkpointEvery", 10)]
FILL = "dd if=/dev/zero of={root}/filler bs=64k 2>/dev/null; sync; true"


def _namespaces_work() -> bool:
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("nsenter")):
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _namespaces_work(), reason="needs root, unshare -m and nsenter")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FaultyDisk:
    """An 8 MiB tmpfs at <tmp>/fs in a private mount namespace; the state dir is <tmp>/fs/state."""

    def __init__(self, tmp_path, fill_first: bool = False):
        self.root = str(tmp_path / "fs")
        self.state = os.path.join(self.root, "state")
        self.sock = str(tmp_path / "htm.sock")
        self.log_path = str(tmp_path / "server.log")
        os.makedirs(self.root)
        fill = FILL.format(root=self.root) if fill_first else "true"
        self.holder = subprocess.Popen(
            [
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                f"mount -t tmpfs -o size=8m tmpfs {self.root} && {fill} && echo ready && exec sleep 600",
            ],
            stdout=subprocess.PIPE,
        )
        assert self.holder.stdout is not None
        assert self.holder.stdout.readline() == b"ready\n"
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def sh(self, script: str) -> str:
        """Run a shell script inside the namespace (it sees the tmpfs)."""
        done = subprocess.run(
            ["nsenter", "-t", str(self.holder.pid), "-m", "sh", "-c", script],
            capture_output=True,
            text=True,
            cwd=REPO,
            check=True,
        )
        return done.stdout

    def start(self) -> None:
        self.port = free_port()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                ["nsenter", "-t", str(self.holder.pid), "-m", sys.executable, "-m", "influxhtm.udf"]
                + ["--socket", self.sock, "--state-dir", self.state, "--metrics", f"127.0.0.1:{self.port}"],
                cwd=REPO,
                stderr=log,
            )
        deadline = time.monotonic() + 20
        while not os.path.exists(self.sock):
            assert self.proc.poll() is None, f"UDF server exited with {self.proc.returncode}: {self.log()}"
            assert time.monotonic() < deadline, "UDF server did not create its socket"
            time.sleep(0.05)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)

    def metrics(self) -> dict[str, float]:
        return scrape_metrics(self.port)

    def models_list(self) -> list[dict]:
        code = (
            f"from influxhtm.store.cli import main; main(['models', '--state-dir', {self.state!r}, 'list', '--json'])"
        )
        return json.loads(self.sh(f"{sys.executable} -c {json.dumps(code)}"))

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def close(self) -> None:
        for proc in (self.proc, self.holder):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def disk(tmp_path):
    made = []

    def make(**kwargs) -> FaultyDisk:
        d = FaultyDisk(tmp_path, **kwargs)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    """Scores of an uninterrupted run over the whole stream (on an ordinary directory)."""
    tmp = tmp_path_factory.mktemp("reference")
    pts = interleaved_stream(ROUNDS, HOSTS)
    srv = start_socket_server(str(tmp / "ref.sock"), str(tmp / "state"))
    try:
        c = UdfClient.connect(str(tmp / "ref.sock"))
        assert c.ask(init_request(*OPTIONS)).success
        for p in pts:
            c.send(request(p))
        return scores(c.points(len(pts)))
    finally:
        srv.kill()
        srv.wait()


ROUNDS = 500


class Feed:
    """Sends the stream round by round over one connection and checks every answer against `expected`."""

    def __init__(self, disk: FaultyDisk, expected, start: int = 0):
        self.disk = disk
        self.expected = expected
        self.pts = interleaved_stream(ROUNDS, HOSTS)
        self.next = start
        self.client = UdfClient.connect(disk.sock)
        assert self.client.ask(init_request(*OPTIONS)).success

    def rounds(self, n: int) -> None:
        batch = self.pts[self.next : self.next + n * len(HOSTS)]
        for p in batch:
            self.client.send(request(p))
        got = scores(self.client.points(len(batch), timeout=30))
        assert got == self.expected[self.next : self.next + len(batch)]  # answered and scored, bit for bit
        self.next += len(batch)

    def until(self, condition, timeout: float = 40.0, pause: float = 0.1) -> None:
        """Send one round at a time until condition(metrics) holds."""
        deadline = time.monotonic() + timeout
        while not condition(self.disk.metrics()):
            assert time.monotonic() < deadline, f"condition not reached; server log:\n{self.disk.log()[-3000:]}"
            self.rounds(1)
            time.sleep(pause)

    def rest(self) -> None:
        self.rounds((len(self.pts) - self.next) // len(HOSTS))


def degraded(metrics) -> float:
    return metrics["influxhtm_udf_degraded_models"]


def failures(metrics, name: str) -> float:
    return metrics.get(f'influxhtm_udf_storage_write_failures_total{{errno="{name}"}}', 0.0)


def recover_then_crash_and_compare(d: FaultyDisk, feed: Feed, expected) -> None:
    """Durability comes back by itself; a kill -9 after that loses nothing."""
    feed.until(lambda m: degraded(m) == 0)
    log = d.log()
    assert log.count("storage works again") == len(HOSTS), log
    assert "full checkpoint written, fresh journal started" in log
    feed.rounds(5)
    d.kill9()
    d.start()
    after = Feed(d, expected, start=feed.next)
    after.rest()
    assert after.next == len(expected)
    assert "behind the model before the restart" not in d.log()
    manifest = json.loads(after.client.ask(snapshot_request()).snapshot)
    assert sorted(m["records_seen"] for m in manifest["models"]) == [ROUNDS] * len(HOSTS)


def test_disk_full_from_the_start(disk, expected):
    d = disk(fill_first=True)
    d.start()  # a full disk is not a reason to refuse to start
    feed = Feed(d, expected)
    feed.rounds(40)
    m = d.metrics()
    assert degraded(m) == len(HOSTS)
    assert failures(m, "ENOSPC") >= len(HOSTS)
    assert d.log().count("persistence DEGRADED") == len(HOSTS)  # one line per model, not one per point
    d.sh(f"rm -f {d.root}/filler")
    recover_then_crash_and_compare(d, feed, expected)


def test_disk_fills_mid_stream(disk, expected):
    d = disk()
    d.start()
    feed = Feed(d, expected)
    feed.rounds(30)
    assert degraded(d.metrics()) == 0
    d.sh(FILL.format(root=d.root))
    # the journals' last pages still take a few records; then every append fails
    feed.until(lambda m: degraded(m) == len(HOSTS), pause=0)
    feed.rounds(20)
    m = d.metrics()
    assert failures(m, "ENOSPC") >= len(HOSTS)
    assert d.log().count("persistence DEGRADED") == len(HOSTS)
    rows = {r["id"]: r for r in d.models_list()}  # the status file was allocated at startup
    assert sorted(r["status"] for r in rows.values()) == ["degraded"] * len(HOSTS)
    # a record that only partly fits the last page is a real short write
    assert all(r["storage_fault"]["cause"] in ("ENOSPC", "short_write") for r in rows.values())
    d.sh(f"rm -f {d.root}/filler")
    recover_then_crash_and_compare(d, feed, expected)


def test_state_dir_removed_mid_stream(disk, expected):
    d = disk()
    d.start()
    feed = Feed(d, expected)
    feed.rounds(30)
    d.sh(f"rm -rf {d.state}")
    feed.rounds(1)  # both journals notice that their files are gone
    m = d.metrics()
    assert failures(m, "ENOENT") >= len(HOSTS)
    assert d.log().count("persistence DEGRADED") == len(HOSTS)
    # nothing to clear: the model directories are made again on the next retry
    recover_then_crash_and_compare(d, feed, expected)
    assert os.path.basename(d.state) in d.sh(f"ls {d.root}")


def test_kill9_while_degraded_restarts_from_the_last_durable_state(disk, expected):
    """A crash while degraded loses the unjournaled inputs only: the restart (the disk still full) loads the
    last consistent state, answers every point and never refuses to start or quarantines anything."""
    d = disk()
    d.start()
    feed = Feed(d, expected)
    feed.rounds(30)
    d.sh(FILL.format(root=d.root))
    feed.until(lambda m: degraded(m) == len(HOSTS), pause=0)
    feed.rounds(10)
    d.kill9()
    d.start()
    c = UdfClient.connect(d.sock)
    assert c.ask(init_request(*OPTIONS)).success
    more = interleaved_stream(ROUNDS, HOSTS)[feed.next : feed.next + 20]
    for p in more:
        c.send(request(p))
    got = c.points(len(more))
    assert [p.time for p in got] == [p.time for p in more]
    assert all("anomaly_score" in p.fieldsDouble for p in got)
    manifest = json.loads(c.ask(snapshot_request()).snapshot)
    seen = sorted(m["records_seen"] for m in manifest["models"])
    sent = feed.next // len(HOSTS) + 10
    assert all(30 <= s < sent for s in seen), seen  # the journaled prefix, at least what came before the fill
    assert "quarantine" not in d.log()
    assert d.sh(f"ls {d.state}").count("udf-status-") == 1  # the killed server's status file was removed


def test_disk_full_during_a_warm_up_then_cleared(disk, tmp_path):
    """A learned range: the warm-up buffer is the state to save (journal 0) when the disk has room again."""
    options = [option("field", "usage"), option("warmup", 60), option("checkpointEvery", 10)]
    pts = interleaved_stream(120, HOSTS)
    ref = start_socket_server(str(tmp_path / "ref.sock"), str(tmp_path / "ref_state"))
    try:
        c = UdfClient.connect(str(tmp_path / "ref.sock"))
        assert c.ask(init_request(*options)).success
        for p in pts:
            c.send(request(p))
        want = scores(c.points(len(pts)))
    finally:
        ref.kill()
        ref.wait()
    d = disk(fill_first=True)
    d.start()
    c = UdfClient.connect(d.sock)
    assert c.ask(init_request(*options)).success
    for p in pts[:40]:  # 20 of 60 warm-up points per group: nothing to answer yet
        c.send(request(p))
    assert c.sync() == []
    assert degraded(d.metrics()) == len(HOSTS)
    d.sh(f"rm -f {d.root}/filler")
    time.sleep(1.1)  # the first retry is due
    for p in pts[40:44]:
        c.send(request(p))
    assert c.sync() == []
    assert degraded(d.metrics()) == 0
    d.kill9()
    d.start()
    c2 = UdfClient.connect(d.sock)
    assert c2.ask(init_request(*options)).success
    for p in pts[44:]:
        c2.send(request(p))
    got = scores(c2.points(len(pts)))
    assert sorted(got) == sorted(want)  # every point answered once (the warm-up's at its end)
    for host in HOSTS:
        assert [g for g in got if g[1] == host] == [w for w in want if w[1] == host]


def test_a_read_only_state_dir_at_startup_is_refused(tmp_path):
    root = tmp_path / "ro"
    os.makedirs(root / "models")
    script = (
        f"mount -t tmpfs -o size=1m tmpfs {root} && mkdir {root}/models && mount -o remount,ro {root} && "
        f"exec {sys.executable} -m influxhtm.udf --socket {tmp_path}/s.sock --state-dir {root}"
    )
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 1
    assert f"state dir {root} cannot be used" in done.stderr and "not writable" in done.stderr
