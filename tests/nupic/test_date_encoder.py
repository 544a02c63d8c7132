"""NuPIC 1.0.5's DateEncoder (influxhtm.nupic.encoders.date): every part against expectations derived from
NuPIC's rules, and timeOfDay/weekend bit for bit against all 4391 records of NuPIC's one_gym run."""

from __future__ import annotations

import datetime
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from influxhtm._engine import InvalidParams
from influxhtm.nupic.encoders import DateEncoder

ONE_GYM = Path(__file__).resolve().parents[1] / "fixtures" / "golden" / "clients" / "one_gym.jsonl.gz"
TIME_OF_DAY = (21, 6.090344152692538)


def _bits(encoding: np.ndarray[Any, Any]) -> list[int]:
    return [int(i) for i in np.flatnonzero(encoding)]


def _one_gym() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with gzip.open(ONE_GYM, "rt") as f:
        lines = f.read().splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def test_one_gym_time_of_day_and_weekend_bit_for_bit() -> None:
    header, records = _one_gym()
    layout = {name: (offset, width) for name, _, offset, width, _ in header["encoderLayout"]}
    assert layout["timestamp_timeOfDay"] == (29, 83) and layout["timestamp_weekend"] == (112, 42)
    time_of_day = DateEncoder(timeOfDay=TIME_OF_DAY)
    weekend = DateEncoder(weekend=(21, 1))
    both = DateEncoder(weekend=(21, 1), timeOfDay=TIME_OF_DAY)
    assert (time_of_day.getWidth(), weekend.getWidth(), both.getWidth()) == (83, 42, 125)
    assert len(records) == header["rows"] == 4391
    for record in records:
        when = datetime.datetime.strptime(record["t"], "%m/%d/%y %H:%M")
        enc = record["enc"]
        tod_bits = [b + 29 for b in _bits(time_of_day.encode(when))]
        weekend_bits = [b + 112 for b in _bits(weekend.encode(when))]
        assert tod_bits == [b for b in enc if 29 <= b < 112], record["t"]
        assert weekend_bits == [b for b in enc if 112 <= b < 154], record["t"]
        combined = both.encode(when)
        assert np.array_equal(combined, np.concatenate([weekend.encode(when), time_of_day.encode(when)]))


def test_one_gym_first_record() -> None:
    when = datetime.datetime(2010, 7, 2, 0, 0)  # a Friday
    assert _bits(DateEncoder(timeOfDay=TIME_OF_DAY).encode(when)) == [*range(0, 11), *range(73, 83)]
    assert _bits(DateEncoder(weekend=(21, 1)).encode(when)) == list(range(21))
    assert _bits(DateEncoder(weekend=(21, 1)).encode(when.replace(hour=18, minute=1))) == list(range(21, 42))


@pytest.fixture
def nupic_test_encoder() -> DateEncoder:
    """NuPIC's own date encoder test: 3 bits of season, 1 of day of week, 1 of weekend, 5 of time of day."""
    return DateEncoder(season=3, dayOfWeek=1, weekend=1, timeOfDay=5)


NOV_4_2010 = datetime.datetime(2010, 11, 4, 14, 55)  # a Thursday
# Season: day 307 of 366 in 12 bits -> centre 10; day of week 3; not a weekend; 14:55 -> bit 18 of 30.
NUPIC_TEST_BITS = [9, 10, 11] + [12 + 3] + [19] + [21 + b for b in range(16, 21)]


def test_all_parts_layout_and_bits(nupic_test_encoder: DateEncoder) -> None:
    e = nupic_test_encoder
    assert e.getDescription() == [("season", 0), ("day of week", 12), ("weekend", 19), ("time of day", 21)]
    assert e.getWidth() == 51
    assert e.encode(NOV_4_2010).dtype == np.uint8
    assert _bits(e.encode(NOV_4_2010)) == NUPIC_TEST_BITS
    scalars = e.getScalars(NOV_4_2010)
    assert scalars.tolist() == [307, 3 + (14 + 55 / 60) / 24, 0, 14 + 55 / 60]
    assert e.getBucketIndices(NOV_4_2010) == [10, 3, 0, 18]
    assert e.getScalarNames() == ["season", "day of week", "weekend", "time of day"]
    assert e.getScalarNames("timestamp")[0] == "timestamp.season"
    assert [type(s).__name__ for _, s, _ in e.encoders] == ["ScalarEncoder"] * 4
    assert (e.seasonOffset, e.dayOfWeekOffset, e.weekendOffset, e.timeOfDayOffset) == (0, 12, 19, 21)
    assert e.holidayEncoder is None and e.customDaysEncoder is None
    out = np.ones(51, dtype=np.uint8)
    e.encodeIntoArray(NOV_4_2010, out)
    assert _bits(out) == NUPIC_TEST_BITS


def test_decoding(nupic_test_encoder: DateEncoder) -> None:
    e = nupic_test_encoder
    expected = [320.25, 3.5, 0.0, 14.8]
    top_down = e.topDownCompute(e.encode(NOV_4_2010))
    assert [r.value for r in top_down] == pytest.approx(expected)
    info = e.getBucketInfo(e.getBucketIndices(NOV_4_2010))
    assert [r.value for r in info] == pytest.approx(expected)
    assert _bits(np.concatenate([r.encoding for r in info])) == NUPIC_TEST_BITS
    assert e.getDecoderOutputFieldTypes() == ["float"] * 4


def test_season() -> None:
    e = DateEncoder(season=3)
    assert e.getWidth() == 12  # ceil(3 * 366 / 91.5)
    assert e.getScalars(datetime.datetime(2011, 1, 1)).tolist() == [0]
    assert _bits(e.encode(datetime.datetime(2011, 1, 1))) == [0, 1, 11]
    assert e.getScalars(datetime.datetime(2012, 12, 31, 23, 59)).tolist() == [365]
    assert _bits(e.encode(datetime.datetime(2012, 12, 31))) == [0, 10, 11]
    wide = DateEncoder(season=(5, 30))
    assert wide.getWidth() == 61
    # Day 59: centre int(59 * 61 / 366) = 9.
    assert _bits(wide.encode(datetime.datetime(2011, 3, 1))) == list(range(7, 12))


def test_day_of_week() -> None:
    e = DateEncoder(dayOfWeek=21)
    assert e.getWidth() == 147  # radius 1 day: 21 bits a day
    assert _bits(e.encode(datetime.datetime(2014, 4, 7))) == [*range(0, 11), *range(137, 147)]  # Monday 00:00
    assert _bits(e.encode(datetime.datetime(2014, 4, 10, 12))) == list(range(63, 84))  # Thursday noon: 3.5
    assert DateEncoder(dayOfWeek=(21, 3.5)).getWidth() == 42


def test_custom_days_match_weekend_evenings() -> None:
    """NuPIC's check: Saturday, Sunday and Friday as custom days equal the weekend part at 20:00."""
    custom = DateEncoder(customDays=(21, ["sat", "sun", "fri"]))
    weekend = DateEncoder(weekend=(21, 1))
    assert custom.getDescription() == [("customdays", 0)]
    assert custom.customDaysEncoder.name == "sat sun fri "
    day = datetime.datetime(1988, 5, 29, 20, 0)
    for _ in range(301):
        assert np.array_equal(custom.encode(day), weekend.encode(day))
        day += datetime.timedelta(days=1)
    monday = DateEncoder(customDays=(3, "Monday"))
    assert monday.customDaysEncoder.name == "Monday"
    assert monday.getWidth() == 6
    assert _bits(monday.encode(datetime.datetime(2014, 4, 7, 23, 59))) == [3, 4, 5]
    assert _bits(monday.encode(datetime.datetime(2014, 4, 8))) == [0, 1, 2]
    assert DateEncoder(customDays=(3, ["MON", "tuesday"])).getScalars(datetime.datetime(2014, 4, 8)).tolist() == [1]


def test_holiday_ramp() -> None:
    """NuPIC's holiday vectors: 1 on the day, a ramp over the day before and after, else 0."""
    e = DateEncoder(holiday=5)
    on, off, ramp = [5, 6, 7, 8, 9], [0, 1, 2, 3, 4], [3, 4, 5, 6, 7]
    assert e.getWidth() == 10
    assert _bits(e.encode(datetime.datetime(2010, 12, 25, 4, 55))) == on
    assert _bits(e.encode(datetime.datetime(2008, 12, 27, 4, 55))) == off
    assert _bits(e.encode(datetime.datetime(1999, 12, 26, 8, 0))) == ramp
    assert _bits(e.encode(datetime.datetime(2011, 12, 24, 16, 0))) == ramp
    scalar = lambda *when: e.getScalars(datetime.datetime(*when)).tolist()[0]  # noqa: E731
    assert scalar(2011, 12, 24, 16, 0) == 1.0 - 28800 / 86400
    assert scalar(1999, 12, 26, 8, 0) == 1.0 - 28800 / 86400
    assert scalar(2011, 12, 24, 0, 0) == 0  # a whole day before: not yet
    assert scalar(2011, 12, 24, 0, 0, 0, 1) == 1.0 - 86399 / 86400  # whole seconds of the gap
    assert scalar(2011, 12, 25, 0, 0) == 1.0
    assert scalar(2011, 12, 26, 23, 59, 59, 999999) == 1.0 - 86399 / 86400
    assert scalar(2011, 12, 27, 0, 0) == 0
    assert scalar(2012, 1, 1) == 0
    assert e.getScalars(datetime.datetime(2011, 6, 1)).dtype.kind == "i"


def test_holidays_list() -> None:
    e = DateEncoder(holiday=5, holidays=[(12, 25), (2018, 4, 1), (2017, 4, 16)])
    on, off = [5, 6, 7, 8, 9], [0, 1, 2, 3, 4]
    assert _bits(e.encode(datetime.datetime(2011, 12, 25, 4, 55))) == on
    assert _bits(e.encode(datetime.datetime(2007, 12, 2, 4, 55))) == off
    assert _bits(e.encode(datetime.datetime(2018, 4, 1, 16, 10))) == on
    assert _bits(e.encode(datetime.datetime(2017, 4, 16, 16, 10))) == on
    assert _bits(e.encode(datetime.datetime(2019, 4, 1, 16, 10))) == off  # a one-off holiday
    assert e.getScalars(datetime.datetime(2017, 4, 17, 6)).tolist() == [0.75]
    assert _bits(DateEncoder(holiday=5, holidays=[]).encode(datetime.datetime(2010, 12, 25))) == on
    assert _bits(DateEncoder(holiday=5, holidays=[(7, 4)]).encode(datetime.datetime(2010, 12, 25))) == off
    leap = DateEncoder(holiday=5, holidays=[(2, 29)])
    assert _bits(leap.encode(datetime.datetime(2012, 2, 29, 12))) == on
    with pytest.raises(InvalidParams, match=r"^day is out of range for month$"):
        leap.encode(datetime.datetime(2013, 3, 1))
    with pytest.raises(ValueError, match=r"^Holidays must be an iterable of length 2 or 3$"):
        DateEncoder(holiday=5, holidays=[{12, 25}])


def test_naive_wall_clock() -> None:
    """Wall-clock fields only: no DST gaps, an aware datetime encodes as its local fields."""
    e = DateEncoder(season=3, dayOfWeek=3, weekend=3, holiday=3, timeOfDay=5)
    gap = datetime.datetime(2021, 3, 14, 2, 30)  # does not exist in US zones
    assert e.getScalars(gap).tolist()[-1] == 2.5
    aware = gap.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=-5)))
    assert np.array_equal(e.encode(aware), e.encode(gap))
    assert e.getBucketIndices(aware) == e.getBucketIndices(gap)


def test_missing_and_wrong_input(nupic_test_encoder: DateEncoder) -> None:
    e = nupic_test_encoder
    assert e.encode(None).sum() == 0 and len(e.encode(None)) == 51
    assert e.getBucketIndices(None) == [None] * 4
    assert e.getScalars(None).tolist() == [None]
    out = np.ones(51, dtype=np.uint8)
    e.encodeIntoArray(None, out)
    assert out.sum() == 0
    with pytest.raises(ValueError, match=r"^Input is type <class 'datetime\.date'>, expected datetime"):
        e.encode(datetime.date(2010, 1, 1))  # type: ignore[arg-type]


def test_constructor_errors() -> None:
    with pytest.raises(InvalidParams, match=r"^Width must be an odd number \(4.000000\)$"):
        DateEncoder(timeOfDay=4)
    with pytest.raises(InvalidParams, match=r"^Number of bits in the SDR \(3\) must be >= 21 \(use forced"):
        DateEncoder(season=3, forced=False)
    assert DateEncoder(season=21, forced=False).getWidth() == 84
    with pytest.raises(InvalidParams, match=r"^One of n, radius, resolution must be specified"):
        DateEncoder(dayOfWeek=(21, 0))
    with pytest.raises(AssertionError, match=r"^Please provide a w and the desired days$"):
        DateEncoder(customDays=(21, "mon", "tue"))
    with pytest.raises(AssertionError, match=r"^You must provide either a list of days or a single day$"):
        DateEncoder(customDays=(21, ("mon",)))
    with pytest.raises(AssertionError, match=r"^Unable to understand moonday as a day of week$"):
        DateEncoder(customDays=(21, ["mon", "moonday"]))
    assert DateEncoder().getWidth() == 0
