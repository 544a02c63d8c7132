"""Re-enable the Kapacitor tasks that use this UDF after the socket server (re)starts.

Kapacitor never reconnects to a socket UDF: when the server dies, every task with a node of this UDF
fails and stays failed (`status` enabled, `executing` false) until it is disabled and enabled again.
`TaskHealer` does exactly that through Kapacitor's HTTP API once the socket listens: it pages through
GET /kapacitor/v1/tasks, picks the enabled tasks whose TICKscript has a `@NAME()` node, and PATCHes each
to disabled, then enabled. Tasks an operator disabled stay disabled. Kapacitor may come up after the UDF,
so a background thread retries with backoff for a bounded time; it never blocks or stops the UDF server.

Standard library only (urllib): the UDF server must start without heavy imports.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import socket
import stat
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Callable

log = logging.getLogger("influxhtm.udf.task_healer")

USER_ENV = "INFLUXHTM_KAPACITOR_USER"
PASSWORD_ENV = "INFLUXHTM_KAPACITOR_PASSWORD"
PAGE_SIZE = 100
DEFAULT_TIMEOUT = 300.0  # seconds to keep trying to reach Kapacitor
FIRST_DELAY = 0.5
MAX_DELAY = 15.0
REQUEST_TIMEOUT = 30.0


class CredentialsError(ValueError):
    """The credentials file cannot be used (missing, unreadable, world-readable or malformed)."""


class KapacitorUnavailable(RuntimeError):
    """Kapacitor cannot be reached or answered 5xx: worth another try later."""


class KapacitorRefused(RuntimeError):
    """Kapacitor answered with a 4xx error (bad credentials, no permission, ...): retrying will not help."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------------------------------
# Which tasks use the UDF


def _code_only(script: str) -> str:
    """The TICKscript with comments, string literals and regex literals blanked out (same positions)."""
    out = []
    i, n = 0, len(script)
    last_operator = ""  # the previous non-blank token character(s), to tell a regex literal from a division
    while i < n:
        ch = script[i]
        if script.startswith("//", i):
            end = script.find("\n", i)
            end = n if end < 0 else end
        elif script.startswith("'''", i):
            end = script.find("'''", i + 3)
            end = n if end < 0 else end + 3
        elif ch in "'\"" or (ch == "/" and last_operator in ("=~", "!~")):
            end = i + 1
            while end < n and script[end] != ch:
                end += 2 if script[end] == "\\" else 1
            end = min(end + 1, n)
        else:
            out.append(ch)
            if not ch.isspace():
                last_operator = (last_operator + ch)[-2:]
            i += 1
            continue
        out.append(" " * (end - i))
        last_operator = ""
        i = end
    return "".join(out)


def uses_udf(script: str, udf_name: str) -> bool:
    """True when the TICKscript has a `@udf_name(...)` node (not in a comment or string; `@htm_batch(`
    does not count as `htm`)."""
    pattern = re.compile(r"@\s*" + re.escape(udf_name) + r"\s*\(")
    return pattern.search(_code_only(script)) is not None


# ---------------------------------------------------------------------------------------------------
# Credentials


def read_credentials_file(path: str) -> tuple[str, str]:
    """(user, password) from a file holding `user:password`; refuses a world-readable file."""
    try:
        with open(path, encoding="utf-8") as f:
            mode = os.fstat(f.fileno()).st_mode
            text = f.read()
    except OSError as exc:
        raise CredentialsError(f"cannot read the Kapacitor credentials file {path}: {exc.strerror or exc}") from None
    if mode & stat.S_IROTH:
        raise CredentialsError(
            f"the Kapacitor credentials file {path} is readable by everyone (mode {stat.S_IMODE(mode):04o}); "
            f"restrict it, e.g. chmod 600 {path}"
        )
    line = text.strip("\r\n")
    user, sep, password = line.partition(":")
    if not sep or not user or "\n" in line:
        raise CredentialsError(f"the Kapacitor credentials file {path} must hold one line `user:password`")
    return user, password


def resolve_credentials(path: str | None, environ=os.environ) -> tuple[str, str] | None:
    """The file's credentials if a path is given, else INFLUXHTM_KAPACITOR_USER/_PASSWORD, else None."""
    if path:
        return read_credentials_file(path)
    user = environ.get(USER_ENV)
    if user:
        return user, environ.get(PASSWORD_ENV, "")
    return None


# ---------------------------------------------------------------------------------------------------
# The HTTP API


class KapacitorClient:
    """The few calls of Kapacitor's HTTP API (base URL such as http://127.0.0.1:9092) the healer needs."""

    def __init__(
        self, url: str, credentials: tuple[str, str] | None = None, *, request_timeout: float = REQUEST_TIMEOUT
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--kapacitor-url must be an http(s) URL such as http://127.0.0.1:9092, got {url!r}")
        self.base = url.rstrip("/") + "/kapacitor/v1"
        self.request_timeout = request_timeout
        self._auth = None
        if credentials is not None:
            token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode("ascii")
            self._auth = f"Basic {token}"

    def _call(self, method: str, path: str, body: dict | None = None, query: list | None = None):
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self._auth:
            req.add_header("Authorization", self._auth)
        try:
            with urllib.request.urlopen(req, timeout=self.request_timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            detail = _error_text(err)
            if err.code >= 500:
                raise KapacitorUnavailable(f"{method} {path}: HTTP {err.code}: {detail}") from None
            raise KapacitorRefused(f"{method} {path}: HTTP {err.code}: {detail}", err.code) from None
        except (OSError, socket.timeout) as exc:  # URLError, refused, reset, timeout
            reason = getattr(exc, "reason", exc)
            raise KapacitorUnavailable(f"{method} {self.base}{path}: {reason}") from None
        return json.loads(raw) if raw.strip() else None

    def tasks(self) -> Iterator[dict]:
        """Every task (id, status, executing, script), page by page."""
        offset = 0
        while True:
            query = [("fields", f) for f in ("status", "executing", "script")]
            query += [("script-format", "raw"), ("offset", str(offset)), ("limit", str(PAGE_SIZE))]
            page = (self._call("GET", "/tasks", query=query) or {}).get("tasks") or []
            yield from page
            if len(page) < PAGE_SIZE:
                return
            offset += len(page)

    def set_status(self, task_id: str, status: str) -> None:
        """PATCH the task's status ('enabled' or 'disabled')."""
        self._call("PATCH", "/tasks/" + urllib.parse.quote(task_id, safe=""), {"status": status})


def _error_text(err: urllib.error.HTTPError) -> str:
    try:
        raw = err.read()
    except OSError:
        return str(err.reason)
    try:
        return str(json.loads(raw).get("error", ""))[:300] or str(err.reason)
    except (ValueError, AttributeError):
        return raw.decode(errors="replace")[:300] or str(err.reason)


# ---------------------------------------------------------------------------------------------------
# The healer


class TaskHealer:
    """Disables and re-enables every enabled Kapacitor task that uses `udf_name`, once, in a thread.

    ready(): true once the UDF socket accepts connections (the healer waits for it first).
    on_reenabled(task_id): called for each task re-enabled (e.g. a metrics counter).
    timeout: seconds to keep retrying while Kapacitor is unreachable (or answers 5xx).
    """

    def __init__(
        self,
        client: KapacitorClient,
        udf_name: str,
        *,
        ready: Callable[[], bool] = lambda: True,
        on_reenabled: Callable[[str], None] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        first_delay: float = FIRST_DELAY,
        max_delay: float = MAX_DELAY,
    ) -> None:
        self.client = client
        self.udf_name = udf_name
        self.ready = ready
        self.on_reenabled = on_reenabled
        self.timeout = timeout
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.reenabled: list[str] = []
        self.done = threading.Event()
        self._stop = threading.Event()
        self._pending_enable: set[str] = set()  # disabled by us, not yet enabled again
        self._thread: threading.Thread | None = None

    def start(self) -> TaskHealer:
        """Run in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="kapacitor-task-healer", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop at its next wait (a task it disabled is enabled again first)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def run(self) -> bool:
        """Wait for the socket, then heal, retrying with backoff until done or timed out; True if done."""
        deadline = time.monotonic() + self.timeout
        try:
            while not self.ready():
                if self._stop.wait(0.1) or time.monotonic() > deadline:
                    return False
            delay = self.first_delay
            while True:
                try:
                    self.heal_once()
                    return True
                except KapacitorRefused as exc:
                    log.error("Kapacitor refused to list or re-enable the tasks of @%s(): %s", self.udf_name, exc)
                    return False
                except KapacitorUnavailable as exc:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        log.error(
                            "gave up re-enabling the tasks of @%s() after %.0fs: %s", self.udf_name, self.timeout, exc
                        )
                        return False
                    log.info("Kapacitor not reachable yet (%s); retrying in %.1fs", exc, min(delay, left))
                    if self._stop.wait(min(delay, left)):
                        return False
                    delay = min(delay * 2, self.max_delay)
        finally:
            for task_id in sorted(self._pending_enable):
                log.error("task %s was disabled to restart it but could not be enabled again", task_id)
            self.done.set()

    def heal_once(self) -> list[str]:
        """One pass: re-enable (disable, enable) every enabled task using the UDF; returns their ids."""
        for task_id in sorted(self._pending_enable):  # left disabled by a failed earlier pass
            self._enable(task_id)
        wanted = [
            str(task["id"])
            for task in self.client.tasks()
            if task.get("status") == "enabled" and uses_udf(task.get("script") or "", self.udf_name)
        ]
        log.info("%d enabled Kapacitor task(s) use @%s(): %s", len(wanted), self.udf_name, ", ".join(wanted) or "-")
        for task_id in wanted:
            if task_id in self.reenabled:
                continue
            try:
                self.client.set_status(task_id, "disabled")
            except KapacitorRefused as exc:
                if exc.code == 404:  # deleted meanwhile
                    continue
                raise
            self._pending_enable.add(task_id)
            self._enable(task_id)
        return list(self.reenabled)

    def _enable(self, task_id: str) -> None:
        self.client.set_status(task_id, "enabled")
        self._pending_enable.discard(task_id)
        self.reenabled.append(task_id)
        log.info("re-enabled Kapacitor task %s (uses @%s())", task_id, self.udf_name)
        if self.on_reenabled is not None:
            self.on_reenabled(task_id)


def socket_accepts(path: str) -> bool:
    """True when a unix socket at path accepts a connection (the UDF server is listening)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2.0)
        try:
            probe.connect(path)
        except OSError:
            return False
    return True
