"""``RetryPolicy``: how the InfluxDB client rides out a server that restarts or refuses requests for a while.

Transient faults (connection refused or reset, a timeout, HTTP 5xx, 408, 429) are retried with a
bounded exponential backoff until a total deadline; anything else (HTTP 4xx: a missing database, bad
credentials, a field type conflict, a malformed query) is permanent and raised at once.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

import requests
from influxdb.exceptions import InfluxDBClientError, InfluxDBServerError

__all__ = ["InfluxPermanentError", "InfluxUnavailableError", "RetryPolicy", "is_transient"]

log = logging.getLogger("influxhtm.retry")

T = TypeVar("T")

#: HTTP statuses below 500 that mean "later", not "never"
TRANSIENT_4XX = frozenset({408, 429})

_NETWORK_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    ConnectionError,
    TimeoutError,
)


class InfluxUnavailableError(InfluxDBServerError):
    """InfluxDB stayed unreachable (or kept failing) until the retry deadline passed."""


class InfluxPermanentError(InfluxDBClientError):
    """InfluxDB refused a request for a reason retrying cannot fix (HTTP 4xx); ``code`` is the status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message, code)
        self.args = (message,)  # the message names the status already


def is_transient(exc: BaseException) -> bool:
    """True for faults that may pass: network errors, timeouts, HTTP 5xx, 408 and 429."""
    if isinstance(exc, InfluxUnavailableError):
        return False
    if isinstance(exc, (*_NETWORK_ERRORS, InfluxDBServerError)):
        return True
    if isinstance(exc, InfluxDBClientError):
        return exc.code in TRANSIENT_4XX
    return False


def describe_error(exc: BaseException) -> str:
    """A one-line cause: ``connection refused``, ``HTTP 503: ...``, ``timeout`` (not urllib3's essay)."""
    if isinstance(exc, InfluxDBClientError):
        return f"HTTP {exc.code}: {_server_message(exc.content)}"
    if isinstance(exc, InfluxDBServerError):
        return f"HTTP 5xx: {_server_message(exc.args[0] if exc.args else '')}"
    text = str(exc)
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno:
        return errno.group(1).strip().lower()
    if isinstance(exc, (requests.exceptions.Timeout, TimeoutError)):
        return "timed out"
    for known in ("RemoteDisconnected", "Connection aborted", "Connection reset", "Connection refused"):
        if known in text:
            return {"RemoteDisconnected": "server closed the connection"}.get(known, known.lower())
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{type(exc).__name__}: {text}"


def _server_message(content) -> str:
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    text = str(content).strip()
    found = re.fullmatch(r'\{\s*"error"\s*:\s*"(.*)"\s*\}', text, re.S)
    if found:
        text = found.group(1).replace('\\"', '"')
    return text


@dataclass
class RetryPolicy:
    """Bounded exponential backoff with a total deadline.

    The first retry waits ``initial`` seconds, each next one ``multiplier`` times longer, at most
    ``max_delay``; once ``deadline`` seconds have passed since the first failure of an operation the
    policy gives up with :class:`InfluxUnavailableError`. ``deadline=0`` means a single attempt (no
    retries). Every retry is logged once (WARNING, logger ``influxhtm.retry``; stderr by default) with
    its cause.
    """

    initial: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0
    deadline: float = 300.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.max_delay < self.initial or self.multiplier < 1:
            raise ValueError(f"retry delays must satisfy 0 < initial <= max_delay and multiplier >= 1, got {self!r}")
        if self.deadline < 0:
            raise ValueError(f"retry deadline must be >= 0 seconds, got {self.deadline!r}")

    def delays(self):
        """The waits between attempts, before the deadline cuts them off: 0.5, 1, 2, 4, ... max_delay."""
        delay = self.initial
        while True:
            yield delay
            delay = min(delay * self.multiplier, self.max_delay)

    def call(self, func: Callable[[], T], what: str, where: str = "InfluxDB") -> T:
        """``func()``, retried on transient faults until the deadline.

        ``what`` names the operation and ``where`` the server in messages. A permanent fault raises
        :class:`InfluxPermanentError` (an ``InfluxDBClientError``, same ``code``) at once; the deadline
        raises :class:`InfluxUnavailableError` (an ``InfluxDBServerError``) chained to the last fault.
        """
        started = None
        attempt = 0
        delays = self.delays()
        while True:
            try:
                result = func()
            except Exception as exc:
                if not is_transient(exc):
                    if (
                        isinstance(exc, InfluxDBClientError)
                        and not isinstance(exc, InfluxPermanentError)
                        and exc.code is not None
                    ):
                        raise InfluxPermanentError(
                            f"{where} refused {what} (permanent, not retried): {describe_error(exc)}", exc.code
                        ) from exc
                    raise
                now = self.clock()
                if started is None:
                    started = now
                attempt += 1
                elapsed = now - started
                left = self.deadline - elapsed
                if left <= 0:
                    raise InfluxUnavailableError(
                        f"{where} unavailable: gave up on {what} after {attempt} attempt"
                        f"{'s' if attempt != 1 else ''} over {elapsed:.1f} s (retry deadline "
                        f"{self.deadline:g} s); last error: {describe_error(exc)}"
                    ) from exc
                delay = min(next(delays), left)
                log.warning(
                    "%s unavailable (%s) during %s; retry %d in %.1f s (giving up in %.0f s)",
                    where,
                    describe_error(exc),
                    what,
                    attempt,
                    delay,
                    left,
                )
                self.sleep(delay)
            else:
                if attempt:
                    log.info("%s is back: %s succeeded after %d retries", where, what, attempt)
                return result
