"""Per-model IANA time zone: the date encoders see the local wall clock, across daylight-saving changes."""

import csv
import datetime
import glob
import json
import os
import shutil

import pytest

from influxhtm.detect import Series, detect, nab_detector
from influxhtm.htm import AnomalyDetector, InvalidParams
from influxhtm.htm.timestamps import local_seconds, time_zone
from influxhtm.store import ModelStore

UTC = datetime.timezone.utc
BERLIN = "Europe/Berlin"
STEP = datetime.timedelta(minutes=10)
STATE_FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "state")


def window(start: datetime.datetime, hours: int) -> list[datetime.datetime]:
    return [start + i * STEP for i in range(hours * 6)]


# Europe/Berlin 2024: spring forward at 2024-03-31 01:00 UTC (02:00 -> 03:00 local), fall back at
# 2024-10-27 01:00 UTC (03:00 -> 02:00 local). A day on each side of both changes.
INSTANTS = window(datetime.datetime(2024, 3, 30, 0, 0, tzinfo=UTC), 48) + window(
    datetime.datetime(2024, 10, 26, 0, 0, tzinfo=UTC), 48
)


def value(i: int) -> float:
    return float((i * 7) % 23) + (5.0 if i % 36 < 6 else 0.0)


def epoch(t: datetime.datetime) -> int:
    return int(t.timestamp())


def local_naive(t: datetime.datetime) -> datetime.datetime:
    """The Berlin wall clock of an instant, as a naive datetime."""
    return t.astimezone(time_zone(BERLIN)).replace(tzinfo=None)


@pytest.mark.parametrize(
    "utc, local",
    [
        ("2024-03-31 00:30", "2024-03-31 01:30"),  # before spring forward: +1 h
        ("2024-03-31 01:30", "2024-03-31 03:30"),  # after: +2 h
        ("2024-10-27 00:30", "2024-10-27 02:30"),  # before fall back: +2 h
        ("2024-10-27 01:30", "2024-10-27 02:30"),  # after: +1 h (the local hour repeats)
    ],
)
def test_local_seconds_are_the_local_wall_clock(utc, local):
    instant = datetime.datetime.fromisoformat(utc).replace(tzinfo=UTC)
    wall = datetime.datetime.fromisoformat(local).replace(tzinfo=UTC)
    assert local_seconds(epoch(instant), time_zone(BERLIN)) == epoch(wall)
    assert local_seconds(epoch(instant), time_zone("UTC")) == epoch(instant)


def test_encoder_sees_the_local_hour_on_both_sides_of_both_dst_changes():
    zoned = AnomalyDetector(0, 30, probation=100, weekend=True, timezone=BERLIN)
    wall_clock = AnomalyDetector(0, 30, probation=100, weekend=True)  # UTC, fed the Berlin wall clock
    plain_utc = AnomalyDetector(0, 30, probation=100, weekend=True)  # UTC, fed the instants
    differs = 0
    for i, t in enumerate(INSTANTS):
        scores, trace = zoned.handle_traced(t, value(i))
        expected_scores, expected_trace = wall_clock.handle_traced(local_naive(t), value(i))
        _, utc_trace = plain_utc.handle_traced(t, value(i))
        assert trace["enc"] == expected_trace["enc"], f"record {i} at {t}"
        assert scores == expected_scores
        differs += trace["enc"] != utc_trace["enc"]
    assert differs > len(INSTANTS) // 2  # the zone really changed what the encoder saw


def test_epochs_and_aware_datetimes_give_the_same_scores():
    by_datetime = AnomalyDetector(0, 30, probation=100, timezone=BERLIN)
    by_epoch = AnomalyDetector(0, 30, probation=100, timezone=BERLIN)
    by_batch = AnomalyDetector(0, 30, probation=100, timezone=BERLIN)
    expected = [by_datetime.handle(t.astimezone(time_zone(BERLIN)), value(i)) for i, t in enumerate(INSTANTS)]
    assert [by_epoch.handle_epoch(epoch(t), value(i)) for i, t in enumerate(INSTANTS)] == expected
    assert by_batch.handle_epochs([epoch(t) for t in INSTANTS], [value(i) for i in range(len(INSTANTS))]) == expected


def test_default_is_utc_and_unchanged():
    default, explicit = AnomalyDetector(0, 30), AnomalyDetector(0, 30, timezone="UTC")
    assert default.timezone == explicit.timezone == "UTC"
    assert default.settings == explicit.settings
    for i, t in enumerate(INSTANTS[:200]):
        assert default.handle_epoch(epoch(t), value(i)) == explicit.handle_epoch(epoch(t), value(i))


def test_save_load_keeps_the_zone_and_continues_exactly():
    uninterrupted = AnomalyDetector(0, 30, probation=100, timezone=BERLIN)
    first = AnomalyDetector(0, 30, probation=100, timezone=BERLIN)
    split = 300
    expected = [uninterrupted.handle_epoch(epoch(t), value(i)) for i, t in enumerate(INSTANTS)]
    for i, t in enumerate(INSTANTS[:split]):
        first.handle_epoch(epoch(t), value(i))
    restored = AnomalyDetector.load(first.save())
    assert restored.timezone == BERLIN
    assert restored.settings == first.settings
    resumed = [restored.handle_epoch(epoch(t), value(i)) for i, t in enumerate(INSTANTS) if i >= split]
    assert resumed == expected[split:]
    copied = restored.copy()
    assert copied.timezone == BERLIN


# the fixtures with a checkpoint (a warm-up fixture has only a journal: no detector state to load)
CHECKPOINTED = sorted(
    os.path.join(os.path.dirname(os.path.dirname(path)), "expected.json")
    for path in glob.glob(os.path.join(STATE_FIXTURES, "*", "model", "checkpoint.bin"))
)


@pytest.mark.parametrize("name", CHECKPOINTED)
def test_states_saved_before_zones_existed_load_as_utc(name, tmp_path):
    fixture = os.path.dirname(name)
    with open(name) as f:
        model_id = json.load(f)["model_id"]
    shutil.copytree(os.path.join(fixture, "model"), tmp_path / "models" / model_id)
    stored = ModelStore(str(tmp_path)).load(model_id)
    detector = AnomalyDetector.load(stored.blob)
    assert detector.timezone == "UTC"
    assert detector.settings["timezone"] == "UTC"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "Europe/Nowhere", "", "../etc/passwd"])
def test_unknown_zone_is_refused_naming_it(zone):
    with pytest.raises(InvalidParams, match=r"time ?zone") as info:
        AnomalyDetector(0, 10, timezone=zone)
    assert repr(zone) in str(info.value)


def test_learning_and_records_seen_follow_the_probation():
    detector = AnomalyDetector(0, 30, probation=20)
    scores = [detector.handle_epoch(epoch(t), value(i)) for i, t in enumerate(INSTANTS[:30])]
    assert [s.records_seen for s in scores] == list(range(1, 31))
    assert [s.learning for s in scores] == [True] * 20 + [False] * 10
    assert detector.is_learning(20) and not detector.is_learning(21)
    batch = detector.handle_epochs([epoch(t) for t in INSTANTS[30:33]], [1.0, 2.0, 3.0])
    assert [s.records_seen for s in batch] == [31, 32, 33]
    assert not any(s.learning for s in batch)


def test_detect_with_timezone_reads_naive_times_as_utc_instants(tmp_path):
    """`influxhtm detect --timezone Z`: the scores of the library/UDF for the same instants."""
    instants = INSTANTS[:400]
    series = Series(
        [t.strftime("%Y-%m-%d %H:%M:%S") for t in instants],
        [t.replace(tzinfo=None) for t in instants],
        [value(i) for i in range(len(instants))],
    )
    out = tmp_path / "out.csv"
    detector = nab_detector(series, timezone=BERLIN)
    detect(series, str(out), detector, progress=False, instants=True)
    with open(out) as f:
        rows = list(csv.DictReader(f))
    reference = nab_detector(series, timezone=BERLIN)
    expected = [reference.handle_epoch(epoch(t), value(i)) for i, t in enumerate(instants)]
    assert [float(r["anomaly_score"]) for r in rows] == [s.anomaly_score for s in expected]
    assert [float(r["raw_score"]) for r in rows] == [s.raw_score for s in expected]
    assert [int(r["records_seen"]) for r in rows] == [s.records_seen for s in expected]
    assert [r["learning"] == "true" for r in rows] == [s.learning for s in expected]
