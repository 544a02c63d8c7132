"""Timestamps as the engine sees them: naive wall-clock seconds since 1970-01-01 00:00:00.

NuPIC encodes `timestamp.timetuple()`: the wall-clock fields, with no time-zone arithmetic. A naive
datetime is used as it is; an aware one is encoded in its own zone's wall-clock time.
"""

import calendar
import datetime

_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)


def parse_timestamp(text: str) -> datetime.datetime:
    """Parses NAB-style `YYYY-MM-DD HH:MM:SS` (and ISO 8601 variants, optionally with an offset)."""
    text = text.strip()
    for fmt in _FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt)
        except ValueError:
            pass
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"unrecognised timestamp {text!r} (expected YYYY-MM-DD HH:MM:SS)") from None


def wall_clock_seconds(timestamp) -> int:
    """The engine's timestamp: wall-clock fields of `timestamp` read as if they were UTC."""
    if isinstance(timestamp, str):
        timestamp = parse_timestamp(timestamp)
    if isinstance(timestamp, datetime.datetime):
        return calendar.timegm(timestamp.timetuple())
    if isinstance(timestamp, datetime.date):
        return calendar.timegm(timestamp.timetuple())
    raise TypeError(f"timestamp must be a datetime, got {type(timestamp).__name__}")
