"""Timestamps as the engine sees them: naive wall-clock seconds since 1970-01-01 00:00:00.

NuPIC encodes `timestamp.timetuple()`: the wall-clock fields, with no time-zone arithmetic. A naive
datetime is used as it is; an aware one is encoded in its own zone's wall-clock time.

A model with a time zone (`AnomalyDetector(timezone=...)`, an IANA name) gets instants (epoch seconds,
aware datetimes) and shows the engine their wall clock in that zone: epoch + the UTC offset of that
instant (`local_seconds`), so the hour of day is the local one on both sides of a daylight-saving change.
"""

import calendar
import datetime
import zoneinfo
from typing import Optional

#: the default zone: the engine sees UTC wall-clock time (epoch seconds unchanged)
DEFAULT_TIMEZONE = "UTC"

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


_NAIVE_EPOCH = datetime.datetime(1970, 1, 1)


def wall_clock_seconds(timestamp) -> int:
    """The engine's timestamp: wall-clock fields of `timestamp` read as if they were UTC (whole seconds, as
    NuPIC's `timetuple()` gives them)."""
    if isinstance(timestamp, str):
        timestamp = parse_timestamp(timestamp)
    if isinstance(timestamp, datetime.datetime):
        since = (timestamp if timestamp.tzinfo is None else timestamp.replace(tzinfo=None)) - _NAIVE_EPOCH
        return since.days * 86_400 + since.seconds
    if isinstance(timestamp, datetime.date):
        return calendar.timegm(timestamp.timetuple())
    raise TypeError(f"timestamp must be a datetime, got {type(timestamp).__name__}")


def time_zone(name: str) -> Optional[zoneinfo.ZoneInfo]:
    """The zone of an IANA name; None for UTC (no offset arithmetic). Raises ValueError naming the zone."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"timezone must be an IANA time zone name such as 'Europe/Berlin', got {name!r}")
    if name == DEFAULT_TIMEZONE:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {name!r} (expected an IANA name such as 'Europe/Berlin' or 'UTC')"
        ) from None


def local_seconds(seconds: int, zone: Optional[zoneinfo.ZoneInfo]) -> int:
    """Wall-clock seconds in `zone` of the instant `seconds` since the epoch (UTC when zone is None)."""
    if zone is None:
        return seconds
    try:
        offset = datetime.datetime.fromtimestamp(seconds, zone).utcoffset()
    except (OverflowError, OSError, ValueError):  # beyond datetime's years: no offset is known there
        return seconds
    return seconds + (0 if offset is None else int(offset.total_seconds()))


def instant_seconds(timestamp: datetime.datetime) -> int:
    """Whole seconds since the epoch of an aware datetime."""
    return calendar.timegm(timestamp.utctimetuple())


def engine_seconds(timestamp, zone: Optional[zoneinfo.ZoneInfo]) -> int:
    """What the engine sees for `timestamp` in a model of `zone`: a naive datetime (or string) is already a
    wall clock and is used as it is. An aware one is an instant shown in `zone`; in a UTC model (zone None)
    NuPIC's rule stays: its own wall clock (the same as UTC's for the UTC datetimes the library passes)."""
    if isinstance(timestamp, str):
        timestamp = parse_timestamp(timestamp)
    if zone is not None and isinstance(timestamp, datetime.datetime) and timestamp.utcoffset() is not None:
        return local_seconds(instant_seconds(timestamp), zone)
    return wall_clock_seconds(timestamp)
