"""The live view's web server: one page, its static files, plotly.min.js and three JSON endpoints.

Standard library only (``http.server.ThreadingHTTPServer``) plus the InfluxDB client; plotly's bundled
``plotly.min.js`` is served from the installed ``plotly`` package (nothing is fetched from a CDN).

- ``GET /`` the page (``static/index.html``; ``/static/app.js``, ``/static/style.css``);
- ``GET /static/plotly.min.js`` the charting library;
- ``GET /api/config`` database, threshold, poll interval;
- ``GET /api/series`` the result series (models) and their state at their last point (:func:`list_series`);
- ``GET /api/points?series=ID[&after=NS]`` a series' points after the cursor ``NS`` (:func:`read_points`).
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from .alerts import ALERT_THRESHOLD
from .data import HISTORY, MAX_POINTS, ResultSeries, list_series, read_points

__all__ = ["DashboardServer", "parse_listen", "serve_in_thread"]

log = logging.getLogger("influxhtm.dashboard")

DEFAULT_LISTEN = "127.0.0.1:8050"
POLL_MS = 1500  # how often the page asks for new points
STATIC_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}


def parse_listen(listen: str) -> tuple[str, int]:
    """``"host:port"`` (``":port"`` = 127.0.0.1; port 0 = any free one) -> ``(host, port)``."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--listen must be HOST:PORT, got {listen!r}")
    return (host.strip("[]") or "127.0.0.1"), int(port)


def plotly_js() -> bytes:
    """The ``plotly.min.js`` bundled in the ``plotly`` package (the ``dashboard`` extra)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the live view needs the plotly package: pip install 'influxhtm[dashboard]'")
    for location in spec.submodule_search_locations:
        path = Path(location) / "package_data" / "plotly.min.js"
        if path.is_file():
            return path.read_bytes()
    from plotly.offline import get_plotlyjs  # the file moved: ask plotly for it

    return get_plotlyjs().encode()


def _static(name: str) -> bytes:
    return (importlib.resources.files("influxhtm.dashboard") / "static" / name).read_bytes()


class DashboardServer(ThreadingHTTPServer):
    """The live view of the HTM results in one database; ``client_factory()`` makes an InfluxHtmClient.

    Each request thread gets its own client (``requests`` sessions are not shared across threads).
    """

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        client_factory: Callable,
        *,
        database: str,
        influx_url: str,
        threshold: float = ALERT_THRESHOLD,
        retention_policy: str | None = None,
        poll_ms: int = POLL_MS,
        history: int = HISTORY,
    ):
        if history < 1:
            raise ValueError(f"history must be at least 1 point, got {history}")
        self.history = history
        self.client_factory = client_factory
        self.database = database
        self.influx_url = influx_url
        self.threshold = threshold
        self.retention_policy = retention_policy
        self.poll_ms = poll_ms
        self._local = threading.local()
        self._plotly: bytes | None = None
        self._plotly_lock = threading.Lock()
        if importlib.util.find_spec("plotly") is None:  # fail at start, not at the first page load
            raise RuntimeError("the live view needs the plotly package: pip install 'influxhtm[dashboard]'")
        super().__init__(address, DashboardHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = host if isinstance(host, str) and host not in ("0.0.0.0", "") else "127.0.0.1"
        if ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{port}/"

    def client(self):
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self.client_factory()
        return client

    def plotly(self) -> bytes:
        with self._plotly_lock:
            if self._plotly is None:
                self._plotly = plotly_js()
            return self._plotly

    def config(self) -> dict:
        return {
            "database": self.database,
            "influx_url": self.influx_url,
            "threshold": self.threshold,
            "poll_ms": self.poll_ms,
            "history": self.history,
            "retention_policy": self.retention_policy,
        }


class DashboardHandler(BaseHTTPRequestHandler):
    server: DashboardServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self):
        url = urlsplit(self.path)
        path = url.path
        try:
            if path in ("/", "/index.html"):
                self._send(_static("index.html"), STATIC_FILES["index.html"])
            elif path == "/static/plotly.min.js":
                self._send(self.server.plotly(), "text/javascript; charset=utf-8", cache=True)
            elif path.startswith("/static/") and path[len("/static/") :] in STATIC_FILES:
                name = path[len("/static/") :]
                self._send(_static(name), STATIC_FILES[name])
            elif path == "/api/config":
                self._json(self.server.config())
            elif path == "/api/series":
                server = self.server
                self._json(
                    {
                        "series": list_series(
                            server.client(), retention_policy=server.retention_policy, threshold=server.threshold
                        )
                    }
                )
            elif path == "/api/points":
                self._points(parse_qs(url.query))
            else:
                self._json({"error": f"not found: {path}"}, HTTPStatus.NOT_FOUND)
        except ValueError as e:
            self._json({"error": str(e)}, HTTPStatus.BAD_REQUEST)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # InfluxDB down or refusing: the page shows it and keeps polling
            log.warning("%s: %s", path, e)
            self._json({"error": f"{type(e).__name__}: {e}"}, HTTPStatus.BAD_GATEWAY)

    def _points(self, query: dict) -> None:
        (series_id,) = query.get("series") or [""]
        series = ResultSeries.from_id(series_id)
        after = (query.get("after") or [""])[0]
        if after and not after.lstrip("-").isdigit():
            raise ValueError(f"after must be a nanosecond time, got {after!r}")
        limit = int((query.get("limit") or [str(MAX_POINTS)])[0])
        if not 0 < limit <= MAX_POINTS:
            raise ValueError(f"limit must be 1..{MAX_POINTS}")
        server = self.server
        points = read_points(
            server.client(),
            series,
            after_ns=int(after) if after else None,
            threshold=server.threshold,
            limit=limit,
            history=server.history,
            retention_policy=server.retention_policy,
        )
        self._json(points)

    def _json(self, body, status=HTTPStatus.OK) -> None:
        self._send(json.dumps(body, allow_nan=False).encode(), "application/json", status=status)

    def _send(self, data: bytes, content_type: str, *, status=HTTPStatus.OK, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
        self.end_headers()
        self.wfile.write(data)


def _client_factory(influx_url: str, database: str, username: str, password: str, retry_timeout: float) -> Callable:
    split = urlsplit(influx_url if "://" in influx_url else f"http://{influx_url}")
    if split.scheme not in ("http", "https") or not split.hostname:
        raise ValueError(f"--influx-url must be http(s)://HOST[:PORT], got {influx_url!r}")
    ssl = split.scheme == "https"
    port = split.port or 8086
    path = split.path.strip("/")

    def make():
        from influxhtm.client import InfluxHtmClient

        kwargs: dict[str, Any] = {"path": path} if path else {}
        return InfluxHtmClient(
            host=split.hostname,
            port=port,
            username=split.username or username,
            password=split.password or password,
            database=database,
            ssl=ssl,
            verify_ssl=ssl,
            retry_timeout=retry_timeout,
            timeout=10.0,
            **kwargs,
        )

    return make


def make_server(
    influx_url: str,
    database: str,
    listen: str = DEFAULT_LISTEN,
    *,
    threshold: float = ALERT_THRESHOLD,
    retention_policy: str | None = None,
    username: str = "root",
    password: str = "root",
    retry_timeout: float = 5.0,
    poll_ms: int = POLL_MS,
    history: int = HISTORY,
) -> DashboardServer:
    """A :class:`DashboardServer` bound to ``listen`` (not yet serving)."""
    factory = _client_factory(influx_url, database, username, password, retry_timeout)
    return DashboardServer(
        parse_listen(listen),
        factory,
        database=database,
        influx_url=influx_url,
        threshold=threshold,
        retention_policy=retention_policy,
        poll_ms=poll_ms,
        history=history,
    )


def serve_in_thread(influx_url: str, database: str, listen: str = "127.0.0.1:0", **options) -> tuple[str, Callable]:
    """Start the live view in a daemon thread; returns ``(url, stop)`` (``stop()`` shuts it down).

    ``options`` are :func:`make_server`'s (``threshold``, ``retention_policy``, ``username``, ...).
    """
    server = make_server(influx_url, database, listen, **options)
    thread = threading.Thread(target=server.serve_forever, name="influxhtm-dashboard", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

    return server.url, stop
