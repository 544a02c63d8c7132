"""Alerts as Kapacitor sends them, and a small receiver for them (`influxhtm alert-receiver`).

Kapacitor's alert node writes one JSON object per event to its log handler and POSTs the same object
to its post handler: ``id``, ``message``, ``time`` (RFC 3339, UTC), ``level`` (OK, INFO, WARNING,
CRITICAL), ``previousLevel``, ``duration`` and ``data`` (the series that triggered it). `AlertEvent`
reads that object; `AlertReceiver` is an HTTP endpoint for the post handler that keeps the events,
logs each one and can append them to a file, one JSON object per line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_LISTEN", "AlertEvent", "AlertReceiver", "read_alert_log"]

log = logging.getLogger("influxhtm.alerts")

#: where `influxhtm alert-receiver` listens by default; htm_alert.tick's `alert_url` points here
DEFAULT_LISTEN = "127.0.0.1:9095"
#: the largest alert body the receiver accepts
MAX_BODY = 1 << 20


@dataclass(frozen=True)
class AlertEvent:
    """One alert event: its level, when (naive UTC), the message and the tags of the series it is about."""

    id: str
    level: str
    time: dt.datetime
    message: str
    previous_level: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, event: Mapping[str, Any]) -> AlertEvent:
        """Reads Kapacitor's alert JSON; raises ValueError when a required key is missing or malformed."""
        try:
            when = dt.datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
            level = str(event["level"])
            ident = str(event["id"])
        except (KeyError, ValueError) as err:
            raise ValueError(f"not a Kapacitor alert event ({err}): {dict(event)!r:.200}") from None
        if when.tzinfo is not None:
            when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
        series = (event.get("data") or {}).get("series") or [{}]
        return cls(
            id=ident,
            level=level,
            time=when,
            message=str(event.get("message", "")),
            previous_level=str(event.get("previousLevel", "")),
            tags=dict(series[0].get("tags") or {}),
        )

    @property
    def critical(self) -> bool:
        return self.level == "CRITICAL"


def read_alert_log(path: Path) -> list[AlertEvent]:
    """The events of an alert log file (Kapacitor's log handler, or the receiver's --out): one JSON per line."""
    if not path.exists():
        return []
    return [AlertEvent.from_json(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


class AlertReceiver:
    """An HTTP endpoint for Kapacitor's post handler: every POSTed alert is kept, logged and optionally
    appended to ``out`` (one JSON object per line). Any path is accepted. Use as a context manager or
    call start()/stop(); ``url`` is the address to give Kapacitor."""

    def __init__(self, listen: str = DEFAULT_LISTEN, out: Path | None = None):
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"listen must be HOST:PORT, got {listen!r}")
        self._out = out
        self._lock = threading.Lock()
        self._events: list[AlertEvent] = []
        self._server = ThreadingHTTPServer((host, int(port)), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.socket.getsockname()[:2]
        return f"http://{host}:{port}/alerts"

    @property
    def events(self) -> list[AlertEvent]:
        """The events received so far, in arrival order."""
        with self._lock:
            return list(self._events)

    def start(self) -> AlertReceiver:
        self._thread = threading.Thread(target=self._server.serve_forever, name="alert-receiver", daemon=True)
        self._thread.start()
        log.info("alert receiver listening on %s", self.url)
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        log.info("alert receiver listening on %s", self.url)
        self._server.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> AlertReceiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _receive(self, body: bytes) -> AlertEvent:
        raw = json.loads(body)
        if not isinstance(raw, dict):
            raise ValueError("an alert must be a JSON object")
        event = AlertEvent.from_json(raw)
        with self._lock:
            self._events.append(event)
            if self._out is not None:
                with open(self._out, "a") as out:
                    out.write(json.dumps(raw, separators=(",", ":")) + "\n")
        log.warning("alert %s", event.message or f"{event.level} {event.id}")
        return event

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 < length <= MAX_BODY:
                    self._reply(400, f"expected a JSON body of 1..{MAX_BODY} bytes")
                    return
                try:
                    receiver._receive(self.rfile.read(length))
                except ValueError as err:  # json.JSONDecodeError is a ValueError
                    self._reply(400, str(err))
                    return
                self._reply(204, "")

            def _reply(self, status: int, text: str) -> None:
                body = text.encode()
                self.send_response(status)
                if body:
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s " + format, self.address_string(), *args)

        return Handler


def register(subparsers) -> None:
    """Add the `alert-receiver` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "alert-receiver",
        help="receive Kapacitor's alerts over HTTP and print them",
        description="An HTTP endpoint for Kapacitor's .post() alert handler (htm_alert.tick's alert_url): "
        "prints every alert it receives to stderr and, with --out, appends its JSON to a file.",
    )
    parser.add_argument("--listen", default=DEFAULT_LISTEN, help=f"HOST:PORT to listen on (default {DEFAULT_LISTEN})")
    parser.add_argument("--out", type=Path, help="append each alert's JSON to this file (one per line)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        receiver = AlertReceiver(args.listen, args.out)
    except OSError as err:
        print(f"alert-receiver: cannot listen on {args.listen}: {err}", file=sys.stderr)
        return 1
    try:
        receiver.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        receiver.stop()
    return 0
