"""Run a real kapacitord: locate or build the binary, render the repository's kapacitor.conf, talk to its HTTP API.

with KapacitorServer(tmpdir, influx.url, udf_socket=sock) as kap:
    kap.define_task("cpu_htm", script, dbrps=[("telegraf", "autogen")])
    kap.write("cpu,host=a usage_idle=12.5 1700000000", db="telegraf", precision="s")
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from influxhtm.examples import KAPACITOR_CONF

from .process import ManagedProcess, free_port

try:
    import tomllib  # Python >= 3.11: check rendered configs before kapacitord sees them
except ModuleNotFoundError:
    tomllib = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-kapacitor"
# The Kapacitor version the stack runs; scripts/build-kapacitor builds it by default. Another version
# (1.5.9, the pure-Go one) is used only when chosen: INFLUXHTM_KAPACITOR_VERSION=1.5.9 or KAPACITORD=path.
DEFAULT_VERSION = "1.8.3"
VERSION_ENV = "INFLUXHTM_KAPACITOR_VERSION"
STOP_TIMEOUT = 20.0  # seconds between SIGTERM and SIGKILL


class KapacitorError(RuntimeError):
    """Kapacitor answered an API call with an error, or kapacitord failed to start."""


def _cache_root() -> Path:
    return Path(os.environ.get("INFLUXHTM_CACHE", Path.home() / ".cache" / "influxhtm"))


def wanted_version() -> str:
    """The Kapacitor version to run: $INFLUXHTM_KAPACITOR_VERSION, else DEFAULT_VERSION."""
    return os.environ.get(VERSION_ENV, DEFAULT_VERSION).lstrip("v")


def find_kapacitord(*, build: bool = False) -> Path:
    """Path of a kapacitord binary (the `kapacitor` CLI sits beside it when it was built here).

    Looks at $KAPACITORD, then the build cache (~/.cache/influxhtm/kapacitor/<version>/bin) for the wanted
    version (wanted_version()), then PATH. With build=True a missing binary of that version is built by
    scripts/build-kapacitor (slow the first time); a failed build raises, it never falls back to another
    version. Raises FileNotFoundError when none is found.
    """
    env = os.environ.get("KAPACITORD")
    if env:
        path = Path(env)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise FileNotFoundError(f"KAPACITORD={env} is not an executable file")
        return path
    version = wanted_version()
    path = _cache_root() / "kapacitor" / version / "bin" / "kapacitord"
    if path.is_file() and os.access(path, os.X_OK):
        return path
    on_path = shutil.which("kapacitord")
    if on_path:
        return Path(on_path)
    if not build:
        raise FileNotFoundError(
            f"kapacitord {version} not found: set KAPACITORD, put it on PATH, or run scripts/build-kapacitor"
        )
    if not BUILD_SCRIPT.is_file():
        raise FileNotFoundError(f"kapacitord not found and the build script {BUILD_SCRIPT} is missing")
    log.warning("kapacitord %s not found; building it with %s (this can take a long time)", version, BUILD_SCRIPT)
    done = subprocess.run([str(BUILD_SCRIPT), "--version", version], stdout=subprocess.PIPE, text=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise FileNotFoundError(
            f"{BUILD_SCRIPT} --version {version} failed (exit {done.returncode}); see its messages above"
        )
    path = Path(lines[-1]) / "kapacitord"
    if not path.is_file():
        raise FileNotFoundError(f"{BUILD_SCRIPT} reported {lines[-1]} but it holds no kapacitord")
    return path


def kapacitord_version(kapacitord: str | os.PathLike) -> str:
    """The version a kapacitord binary reports (`kapacitord version`), e.g. "1.8.3"."""
    out = subprocess.run(
        [str(kapacitord), "version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30
    ).stdout
    match = re.search(r"Kapacitor\b.*?\bv?(\d+\.\d+\.\d+)", out)  # "Kapacitor OSS version 1.8.3 (git: ...)"
    if not match:
        raise KapacitorError(f"{kapacitord} version printed no version: {out.strip()!r}")
    return match.group(1)


# ----------------------------------------------------------------------------------------------
# Config rendering: the repository's kapacitor.conf holds literal defaults; replace them key by key.


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} into kapacitor.conf")


def _table_name(line: str) -> str | None:
    stripped = line.strip()
    if stripped.startswith("[[") and stripped.endswith("]]"):
        return stripped[2:-2].strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        return stripped[1:-1].strip()
    return None


def udf_table(
    name: str,
    *,
    socket_path: str | None = None,
    prog: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: str = "20s",
) -> str:
    """TOML text of one `[udf.functions.<name>]` table: a socket UDF or a process UDF (prog = [program, *args])."""
    if (socket_path is None) == (prog is None):
        raise ValueError("give exactly one of socket_path and prog")
    lines = [f"[udf.functions.{name}]"]
    if socket_path is not None:
        lines.append(f"  socket = {_toml_value(str(socket_path))}")
    else:
        assert prog is not None
        lines.append(f"  prog = {_toml_value(str(prog[0]))}")
        lines.append(f"  args = {_toml_value([str(a) for a in prog[1:]])}")
    lines.append(f"  timeout = {_toml_value(timeout)}")
    if env:
        lines.append(f"  [udf.functions.{name}.env]")
        lines.extend(f"    {json.dumps(k)} = {_toml_value(str(v))}" for k, v in env.items())
    return "\n".join(lines) + "\n"


def render_config(
    template: str, settings: Mapping[str, object], *, drop_tables: Iterable[str] = (), append: str = ""
) -> str:
    """Return `template` with values replaced and tables removed or added.

    settings: dotted keys as they appear in the file ("data_dir", "http.bind-address", "influxdb.urls",
    "udf.functions.htm.socket") mapped to new values. Every key must exist in the template, so a renamed
    key fails loudly instead of being ignored. drop_tables: table names removed with their sub-tables.
    append: TOML text added at the end (e.g. from udf_table()). The result is checked to parse as TOML
    (on Python >= 3.11).
    """
    pending = dict(settings)
    drops = tuple(drop_tables)
    dropped: set[str] = set()
    out: list[str] = []
    table = ""
    skipping = False
    for line in template.splitlines():
        name = _table_name(line)
        if name is not None:
            table = name
            match = next((d for d in drops if name == d or name.startswith(d + ".")), None)
            skipping = match is not None
            if match:
                dropped.add(match)
        if skipping:
            continue
        stripped = line.strip()
        if name is None and stripped and not stripped.startswith("#") and "=" in stripped:
            key = stripped.split("=", 1)[0].strip()
            full = f"{table}.{key}" if table else key
            if full in pending:
                indent = line[: len(line) - len(line.lstrip())]
                line = f"{indent}{key} = {_toml_value(pending.pop(full))}"
        out.append(line)
    if pending:
        raise KeyError(f"kapacitor.conf has no key(s) {sorted(pending)}")
    missing = set(drops) - dropped
    if missing:
        raise KeyError(f"kapacitor.conf has no table(s) {sorted(missing)}")
    text = "\n".join(out) + "\n" + append
    if tomllib is not None:
        tomllib.loads(text)  # raises tomllib.TOMLDecodeError on a broken result
    return text


# ----------------------------------------------------------------------------------------------


class KapacitorServer:
    """A kapacitord on a free loopback port, configured from the repository's kapacitor.conf.

    tmpdir: scratch directory for data, config and the log (kapacitord.log). influx_url: the InfluxDB
    that influxDBOut() and batch queries use (None disables the [[influxdb]] entry). subscriptions:
    let InfluxDB forward its writes to this Kapacitor (off: points reach tasks only through write();
    on: the databases must exist before start()). udf_socket / udf_batch_socket:
    sockets of `influxhtm udf` servers for @htm() / @htm_batch() (None leaves that UDF out).
    udf_prog: argv of a process-mode UDF, configured as @htm_process(), with udf_env added to its
    environment. extra_udfs: more UDF tables, name -> udf_table() keyword arguments.
    Use as a context manager, or call start() and stop().
    """

    def __init__(
        self,
        tmpdir: str | os.PathLike,
        influx_url: str | None = None,
        *,
        subscriptions: bool = False,
        udf_socket: str | os.PathLike | None = None,
        udf_batch_socket: str | os.PathLike | None = None,
        udf_prog: Sequence[str] | None = None,
        udf_env: Mapping[str, str] | None = None,
        extra_udfs: Mapping[str, Mapping[str, Any]] | None = None,
        udf_timeout: str = "20s",
        snapshot_interval: str = "10s",
        log_level: str = "INFO",
        kapacitord: str | os.PathLike | None = None,
        config_template: str | os.PathLike = KAPACITOR_CONF,
        startup_timeout: float = 60.0,
    ):
        self.dir = Path(tmpdir)
        self.influx_url = influx_url
        self.subscriptions = subscriptions
        self.udf_socket = udf_socket
        self.udf_batch_socket = udf_batch_socket
        self.udf_prog = list(udf_prog) if udf_prog else None
        self.udf_env = dict(udf_env or {})
        self.extra_udfs = dict(extra_udfs or {})
        self.udf_timeout = udf_timeout
        self.snapshot_interval = snapshot_interval
        self.log_level = log_level
        self.binary = Path(kapacitord) if kapacitord else find_kapacitord()
        self.config_template = Path(config_template)
        self.startup_timeout = startup_timeout
        self.host = "127.0.0.1"
        self.port = free_port(self.host)
        self.config_path = self.dir / "kapacitor.conf"
        self.log_path = self.dir / "kapacitord.log"
        self._proc = ManagedProcess(
            "kapacitord",
            [str(self.binary), "-config", str(self.config_path)],
            self.log_path,
            cwd=self.dir,
            stop_timeout=STOP_TIMEOUT,
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc.running

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    def render(self) -> str:
        """The config text this server runs with."""
        data = self.dir / "data"
        settings: dict[str, object] = {
            "hostname": self.host,  # InfluxDB sends subscription writes to this host
            "data_dir": str(data),
            "http.bind-address": f"{self.host}:{self.port}",
            "storage.boltdb": str(data / "kapacitor.db"),
            "replay.dir": str(data / "replay"),
            "task.dir": str(data / "tasks"),
            "task.snapshot-interval": self.snapshot_interval,
            "load.enabled": False,
            "load.dir": str(data / "load"),
            "logging.file": "STDERR",
            "logging.level": self.log_level,
            "influxdb.enabled": self.influx_url is not None,
            "influxdb.urls": [self.influx_url or "http://127.0.0.1:8086"],
            "influxdb.disable-subscriptions": not self.subscriptions,
            "influxdb.startup-timeout": "30s",
        }
        drop = []
        for name, path in (("htm", self.udf_socket), ("htm_batch", self.udf_batch_socket)):
            if path is None:
                drop.append(f"udf.functions.{name}")
            else:
                settings[f"udf.functions.{name}.socket"] = str(path)
                settings[f"udf.functions.{name}.timeout"] = self.udf_timeout
        extra = ""
        if self.udf_prog:
            extra += udf_table("htm_process", prog=self.udf_prog, env=self.udf_env, timeout=self.udf_timeout)
        for name, spec in self.extra_udfs.items():
            extra += udf_table(name, **{"timeout": self.udf_timeout, **spec})
        return render_config(self.config_template.read_text(), settings, drop_tables=drop, append=extra)

    def start(self) -> KapacitorServer:
        """Start kapacitord (keeping any data from an earlier start) and wait until it answers ping."""
        if self.running:
            raise KapacitorError("kapacitord is already running")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.render())
        try:
            up = self._proc.start(self.ping, self.startup_timeout, interval=0.2)
        except TimeoutError:
            self.stop()
            raise KapacitorError(
                f"kapacitord did not answer ping within {self.startup_timeout}s:\n{self.log_tail()}"
            ) from None
        if not up:
            raise KapacitorError(f"kapacitord exited with {self._proc.returncode} during startup:\n{self.log_tail()}")
        log.info("kapacitord %s up at %s (log %s)", self.binary, self.url, self.log_path)
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL if it has not exited after `timeout` seconds."""
        self._proc.stop(timeout)

    def kill(self) -> None:
        """SIGKILL kapacitord (no clean shutdown)."""
        self._proc.kill()

    def restart(self) -> None:
        """Stop and start again with the same data dir (tasks and snapshots survive)."""
        self.stop()
        self.start()

    def __enter__(self) -> KapacitorServer:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop()
        if exc_type is not None:
            log.error("kapacitord log (%s):\n%s", self.log_path, self.log_tail())

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of kapacitord's log."""
        return self._proc.log_tail(lines)

    # ------------------------------------------------------------------------------------------
    # HTTP API

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        params: Mapping[str, str] | None = None,
        data: bytes | None = None,
        timeout: float = 60.0,
    ) -> Any:
        """Call /kapacitor/v1<path>; returns the decoded JSON answer (None when empty).

        Raises KapacitorError with Kapacitor's own error message on an HTTP error.
        """
        url = f"{self.url}/kapacitor/v1{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        if body is not None:
            data = json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                message = json.loads(raw).get("error", raw.decode(errors="replace"))
            except (ValueError, AttributeError):
                message = raw.decode(errors="replace")
            raise KapacitorError(f"{method} {path}: HTTP {err.code}: {message}") from None
        return json.loads(raw) if raw.strip() else None

    def ping(self) -> bool:
        """True when kapacitord answers /kapacitor/v1/ping."""
        try:
            with urllib.request.urlopen(f"{self.url}/kapacitor/v1/ping", timeout=2) as resp:
                return resp.status == 204
        except OSError:
            return False

    def define_task(
        self,
        task_id: str,
        script: str,
        *,
        type: str = "stream",
        dbrps: Sequence[tuple[str, str]] = (),
        vars: Mapping[str, object] | None = None,
        enabled: bool = True,
    ) -> dict:
        """Create a task from TICKscript text; `vars` are plain Python values (see task_vars())."""
        body: dict[str, object] = {
            "id": task_id,
            "type": type,
            "script": script,
            "status": "enabled" if enabled else "disabled",
        }
        if dbrps:
            body["dbrps"] = [{"db": db, "rp": rp} for db, rp in dbrps]
        if vars:
            body["vars"] = task_vars(vars)
        return self.request("POST", "/tasks", body)

    def define_template(self, template_id: str, script: str, *, type: str = "stream") -> dict:
        """Create a task template."""
        return self.request("POST", "/templates", {"id": template_id, "type": type, "script": script})

    def define_task_from_template(
        self,
        task_id: str,
        template_id: str,
        *,
        vars: Mapping[str, object],
        dbrps: Sequence[tuple[str, str]],
        enabled: bool = True,
    ) -> dict:
        """Create a task from a template and its vars."""
        return self.request(
            "POST",
            "/tasks",
            {
                "id": task_id,
                "template-id": template_id,
                "vars": task_vars(vars),
                "dbrps": [{"db": db, "rp": rp} for db, rp in dbrps],
                "status": "enabled" if enabled else "disabled",
            },
        )

    def enable_task(self, task_id: str) -> dict:
        return self.request("PATCH", f"/tasks/{task_id}", {"status": "enabled"})

    def disable_task(self, task_id: str) -> dict:
        return self.request("PATCH", f"/tasks/{task_id}", {"status": "disabled"})

    def delete_task(self, task_id: str) -> None:
        self.request("DELETE", f"/tasks/{task_id}")

    def task(self, task_id: str) -> dict:
        """GET /tasks/<id>: status, executing, error, dot, stats."""
        return self.request("GET", f"/tasks/{task_id}", params={"dot-view": "attributes"})

    def task_error(self, task_id: str) -> str:
        """The task's error message ('' when it runs fine)."""
        return self.task(task_id).get("error", "")

    def write(self, lines: str | Iterable[str], *, db: str, rp: str = "autogen", precision: str = "ns") -> None:
        """Write line-protocol points straight into Kapacitor (POST /kapacitor/v1/write)."""
        body = lines if isinstance(lines, str) else "\n".join(lines)
        self.request(
            "POST", "/write", params={"db": db, "rp": rp, "precision": precision}, data=body.encode(), timeout=600
        )


def task_vars(values: Mapping[str, object]) -> dict:
    """Kapacitor's typed vars JSON from plain values (str, bool, int, float; {'type':..,'value':..} kept)."""
    out = {}
    for name, value in values.items():
        if isinstance(value, Mapping):
            out[name] = dict(value)
        elif isinstance(value, bool):
            out[name] = {"type": "bool", "value": value}
        elif isinstance(value, int):
            out[name] = {"type": "int", "value": value}
        elif isinstance(value, float):
            out[name] = {"type": "float", "value": value}
        elif isinstance(value, str):
            out[name] = {"type": "string", "value": value}
        else:
            raise TypeError(f"var {name}: unsupported value {value!r}")
    return out
