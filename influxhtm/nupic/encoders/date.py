"""``nupic.encoders.date``: NuPIC 1.0.5's DateEncoder (the arithmetic runs in the Rust engine).

Input is a ``datetime.datetime`` read through its wall-clock fields, as NuPIC's ``timetuple()`` does;
an aware datetime is encoded by its local fields, its offset ignored (NuPIC's holiday comparison
would raise for it).
"""

from __future__ import annotations

import datetime
import operator
from collections.abc import Sequence
from typing import Any, Optional, Union

import numpy as np
import numpy.typing as npt

from influxhtm._engine import NupicDateEncoder
from influxhtm.nupic.encoders._util import dense
from influxhtm.nupic.encoders.base import EncoderResult
from influxhtm.nupic.encoders.scalar import ScalarEncoder

Part = Union[int, Sequence[Any]]

# Attribute prefix of each sub-encoder (``seasonEncoder``, ``seasonOffset``, ...) by description name.
_ATTRIBUTES = {
    "season": "season",
    "day of week": "dayOfWeek",
    "weekend": "weekend",
    "customdays": "customDays",
    "holiday": "holiday",
    "time of day": "timeOfDay",
}


def _width_radius(part: Part, default_radius: float) -> tuple[int, float]:
    """NuPIC's ``w`` or ``(w, radius)`` form of a part."""
    if isinstance(part, Sequence):
        return operator.index(part[0]), float(part[1])
    return operator.index(part), default_radius


def _holiday(h: Any) -> list[int]:
    """A ``(month, day)`` or ``(year, month, day)`` holiday as NuPIC reads it (a 3-tuple is dated)."""
    if not hasattr(h, "__getitem__") and len(h) in (2, 3):
        raise ValueError("Holidays must be an iterable of length 2 or 3")
    return [operator.index(x) for x in (h[:3] if len(h) == 3 else h[:2])]


def _fields(d: datetime.datetime) -> tuple[int, int, int, int, int, int, int]:
    return (d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond)


class DateEncoder:
    """Encodes the enabled aspects of a date, concatenated in the order season (day of year - 1,
    radius 91.5 days), dayOfWeek (Monday = 0, radius 1 day), weekend, customDays (``(w, day name or
    list of names)``), holiday (``w``; 1 on a day of ``holidays``, ramping over the days around it) and
    timeOfDay (hours, radius 4). Each part is ``w`` or ``(w, radius)``; 0 leaves it out."""

    def __init__(
        self,
        season: Part = 0,
        dayOfWeek: Part = 0,
        weekend: Part = 0,
        holiday: int = 0,
        timeOfDay: Part = 0,
        customDays: Any = 0,
        name: str = "",
        forced: bool = True,
        holidays: Sequence[Any] = ((12, 25),),
    ) -> None:
        custom: Optional[tuple[int, Any]] = None
        if customDays != 0:
            if len(customDays) != 2:
                raise AssertionError("Please provide a w and the desired days")
            days = customDays[1]
            if not isinstance(days, (list, str)):
                raise AssertionError("You must provide either a list of days or a single day")
            for day in [days] if isinstance(days, str) else days:
                if not isinstance(day, str):
                    raise AttributeError(f"'{type(day).__name__}' object has no attribute 'lower'")
            custom = (operator.index(customDays[0]), days)
        self._engine = NupicDateEncoder(
            season=_width_radius(season, 91.5) if season != 0 else None,
            day_of_week=_width_radius(dayOfWeek, 1.0) if dayOfWeek != 0 else None,
            weekend=_width_radius(weekend, 1.0) if weekend != 0 else None,
            custom_days=custom,
            holiday=operator.index(holiday) if holiday != 0 else None,
            time_of_day=_width_radius(timeOfDay, 4.0) if timeOfDay != 0 else None,
            forced=bool(forced),
            holidays=[_holiday(h) for h in holidays] if holiday != 0 else None,
        )
        self.name = name
        self.width: int = self._engine.n
        self.encoders: list[tuple[str, ScalarEncoder, int]] = []
        self.description: list[tuple[str, int]] = []
        for prefix in _ATTRIBUTES.values():
            setattr(self, prefix + "Encoder", None)
        for label, engine, offset in self._engine.fields:
            sub = ScalarEncoder._wrap(engine, forced=bool(forced))
            self.encoders.append((label, sub, offset))
            self.description.append((label, offset))
            setattr(self, _ATTRIBUTES[label] + "Encoder", sub)
            setattr(self, _ATTRIBUTES[label] + "Offset", offset)
        if holiday != 0:
            self.holidays = holidays

    def getWidth(self) -> int:
        return self.width

    def getDescription(self) -> list[tuple[str, int]]:
        return self.description

    def getDecoderOutputFieldTypes(self) -> list[str]:
        return ["float" for _ in self.encoders]

    def getScalarNames(self, parentFieldName: str = "") -> list[str]:
        """The sub-encoders' names, in NuPIC's order (custom days before weekend)."""
        order = ["season", "day of week", "customdays", "weekend", "holiday", "time of day"]
        subs = sorted(self.encoders, key=lambda e: order.index(e[0]))
        return [f"{parentFieldName}.{s.name}" if parentFieldName else s.name for _, s, _ in subs]

    def getEncodedValues(self, input: Optional[datetime.datetime]) -> Any:
        """One scalar per enabled part: day of year - 1, weekday + hours / 24, 0 or 1, 0 or 1, the
        holiday ramp, hour + minute / 60 (ints where NuPIC has ints); ``array([None])`` for None."""
        if input is None:
            return np.array([None])
        assert isinstance(input, datetime.datetime)
        values: list[float] = []
        for (label, _, _), v in zip(self.encoders, self._engine.scalars(_fields(input))):
            floating = label in ("day of week", "time of day") or (label == "holiday" and v != int(v))
            values.append(v if floating else int(v))
        return values

    def getScalars(self, input: Optional[datetime.datetime]) -> npt.NDArray[Any]:
        return np.array(self.getEncodedValues(input))

    def getBucketIndices(self, input: Optional[datetime.datetime]) -> list[Optional[int]]:
        if input is None:
            return [None] * len(self.encoders)
        assert isinstance(input, datetime.datetime)
        return list(self._engine.bucket_indices(_fields(input)))

    def encodeIntoArray(self, input: Optional[datetime.datetime], output: npt.NDArray[Any]) -> None:
        if input is None:
            output[0:] = 0
            return
        if not isinstance(input, datetime.datetime):
            raise ValueError(f"Input is type {type(input)}, expected datetime. Value: {input}")
        output[: self.width] = dense(self._engine.encode_bits(_fields(input)), self.width)

    def encode(self, input: Optional[datetime.datetime]) -> npt.NDArray[np.uint8]:
        output = np.zeros(self.width, dtype=np.uint8)
        self.encodeIntoArray(input, output)
        return output

    def getBucketInfo(self, buckets: Sequence[int]) -> list[EncoderResult]:
        """Each part's bucket ``buckets[i]``, decoded by its sub-encoder."""
        return [sub.getBucketInfo([b])[0] for (_, sub, _), b in zip(self.encoders, buckets)]

    def topDownCompute(self, encoded: npt.ArrayLike) -> list[EncoderResult]:
        """Each part's best-matching bucket for its slice of ``encoded``."""
        bits = np.asarray(encoded)
        ends = [offset for _, _, offset in self.encoders[1:]] + [self.width]
        return [sub.topDownCompute(bits[offset:end])[0] for (_, sub, offset), end in zip(self.encoders, ends)]
