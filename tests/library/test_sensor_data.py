"""Sensor reads and writes on a real InfluxDB: aggregation, first/last N, quoting, time zones, volume."""

import datetime
import math
import random
import time

import pytest

UTC = datetime.timezone.utc
START = datetime.datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def noisy(client):
    """A sensor with 1,000 irregular points over ~17 h, plus a neighbour that must never leak in."""
    rng = random.Random(7)
    sensor = client.get_sensor("power", "meter-1")
    points, t = [], START
    for _ in range(1000):
        t += datetime.timedelta(seconds=rng.randint(20, 100))
        points.append({"time": t, "value": rng.gauss(50, 10)})
    sensor.write(points)
    client.get_sensor("power", "meter-2").write([{"time": p["time"], "value": 1e6} for p in points])
    return sensor, points


METHODS = [
    "mean",
    "median",
    "mode",
    "min",
    "max",
    "sum",
    "count",
    "first",
    "last",
    "spread",
    "stddev",
    "percentile_95",
    "percentile_50",
]


def _hand_written(method: str) -> str:
    call = (
        'percentile("value", ' + method.split("_")[1] + ")" if method.startswith("percentile") else f'{method}("value")'
    )
    return call


@pytest.mark.parametrize("method", METHODS)
def test_aggregation_matches_hand_written_influxql(client, noisy, method):
    sensor, points = noisy
    since, until = points[100]["time"], points[900]["time"]
    got = sensor.get_data(since=since, until=until, aggregation={"method": method, "period": "1h"})
    since_text, until_text = (t.isoformat().replace("+00:00", "Z") for t in (since, until))
    q = (
        f'SELECT {_hand_written(method)} FROM "power" WHERE "component" = \'meter-1\' '
        f"AND time >= '{since_text}' AND time <= '{until_text}' GROUP BY time(1h) fill(none)"
    )
    expected = list(client.query(q).get_points())
    assert len(got) == len(expected) > 5
    for row, exp in zip(got, expected):
        assert row["time"] == datetime.datetime.fromisoformat(exp["time"].replace("Z", "+00:00"))
        assert row["value"] == pytest.approx(exp[next(k for k in exp if k != "time")])


def test_aggregation_values_are_right(noisy):
    sensor, points = noisy
    hour = [p["value"] for p in points if p["time"] < START + datetime.timedelta(hours=1)]
    first = sensor.get_data(aggregation={"method": "mean", "period": "1h"})[0]
    assert first["time"] == START and first["value"] == pytest.approx(sum(hour) / len(hour))
    whole = sensor.get_data(aggregation={"method": "count"})
    assert [r["value"] for r in whole] == [1000]
    assert sensor.get_data(aggregation={"method": "max"})[0]["value"] == pytest.approx(max(p["value"] for p in points))


def test_fill_and_bad_aggregations(client):
    sensor = client.get_sensor("gappy", "x")
    sensor.write([(START, 1.0), (START + datetime.timedelta(minutes=30), 3.0)])
    rows = sensor.get_data(aggregation={"method": "mean", "period": "10m"}, fill="previous")
    assert [r["value"] for r in rows] == [1.0, 1.0, 1.0, 3.0]
    assert [r["value"] for r in sensor.get_data(aggregation={"method": "mean", "period": "10m"})] == [1.0, 3.0]
    assert [r["value"] for r in sensor.get_data(aggregation={"method": "sum", "period": "10m"}, fill=0)] == [
        1.0,
        0.0,
        0.0,
        3.0,
    ]
    for bad in [
        {"method": "avg", "period": "1h"},
        {"method": "mean", "period": "1 hour"},
        {"method": "mean", "period": "1h; DROP DATABASE x"},
        {"method": "percentile_101"},
        {"period": "1h"},
        {"method": "mean", "every": "1h"},
        "mean",
    ]:
        with pytest.raises(ValueError):
            sensor.get_data(aggregation=bad)
    with pytest.raises(ValueError):
        sensor.get_data(aggregation={"method": "mean", "period": "1h"}, fill="sideways")
    with pytest.raises(ValueError):
        sensor.get_data(limit=0)
    with pytest.raises(ValueError, match="after"):
        sensor.get_data(since=START + datetime.timedelta(hours=1), until=START)


def test_first_and_last_n(noisy):
    sensor, points = noisy
    times = [p["time"] for p in points]
    assert [r["time"] for r in sensor.get_data(since=times[10], limit=5)] == times[10:15]
    assert [r["time"] for r in sensor.get_data(until=times[10], limit=5)] == times[6:11]
    assert [r["time"] for r in sensor.get_data(limit=3)] == times[:3]
    assert [r["time"] for r in sensor.get_data(since=times[3], until=times[8])] == times[3:9]
    assert [r["time"] for r in sensor.get_data(since=times[3], until=times[8], limit=2)] == times[3:5]
    assert len(sensor.get_data()) == 1000
    last_hours = sensor.get_data(until=times[-1], limit=2, aggregation={"method": "max", "period": "1h"})
    all_hours = sensor.get_data(aggregation={"method": "max", "period": "1h"})
    assert last_hours == all_hours[-2:]


HOSTILE = [
    'it\'s "odd"; DROP',
    "back\\slash",
    "a,b=c d",
    "Robert'); DROP DATABASE x;--",
    "ünï ∞",
    '"',
    "'",
    "$tag0",
    "/regex/",
    "\\\\x",
    "a\\b\\c",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_just_names(client, name):
    sensor = client.get_sensor(name, name, tag_key=name, field=name)
    other = client.get_sensor(name, "other", tag_key=name, field=name)
    sensor.write([(START, 1.5), (START + datetime.timedelta(minutes=1), 2.5)])
    other.write([(START, 99.0)])
    assert [r["value"] for r in sensor.get_data()] == [1.5, 2.5]
    assert sensor.get_time_bounds() == (START, START + datetime.timedelta(minutes=1))
    assert sensor.get_data(aggregation={"method": "sum", "period": "1h"})[0]["value"] == 4.0
    client.tag_key, client.field = name, name
    assert set(client.list_sensors()) == {sensor, other}
    assert [d["name"] for d in client.get_list_database()].count(client.database) == 1


def test_unwritable_names_are_refused(client):
    for name in ["line\nbreak", "ends with backslash\\", "x\\,y", "x\\ y", "x\\=y"]:
        with pytest.raises(ValueError, match="line"):
            client.get_sensor("m", name).write([(START, 1.0)])
    with pytest.raises(ValueError, match="backslash"):
        client.get_sensor('x\\"y', "c").write([(START, 1.0)])
    client.get_sensor("m", 'x\\"y').write([(START, 1.0)])  # fine in a tag value
    assert client.get_sensor("m", 'x\\"y').get_data()[0]["value"] == 1.0
    with pytest.raises(ValueError):
        client.get_sensor("m", "c").write([(START, math.nan)])


def test_time_zones(client):
    sensor = client.get_sensor("tz", "c")
    plus2 = datetime.timezone(datetime.timedelta(hours=2))
    sensor.write(
        [
            {"time": datetime.datetime(2024, 6, 1, 12, 0), "value": 1.0},  # naive = UTC
            {"time": datetime.datetime(2024, 6, 1, 14, 1, tzinfo=plus2), "value": 2.0},  # 12:01 UTC
            {"time": "2024-06-01T12:02:00Z", "value": 3.0},
            {"time": "2024-06-01T07:03:00-05:00", "value": 4.0},  # 12:03 UTC
            {"time": datetime.datetime(2024, 6, 1, 12, 4, tzinfo=UTC).timestamp(), "value": 5.0},  # epoch s
        ]
    )
    rows = sensor.get_data()
    assert [r["time"] for r in rows] == [datetime.datetime(2024, 6, 1, 12, m, tzinfo=UTC) for m in range(5)]
    assert all(r["time"].utcoffset() == datetime.timedelta(0) for r in rows)
    # bounds given in another zone select the same instants
    minus4 = datetime.timezone(datetime.timedelta(hours=-4))
    got = sensor.get_data(
        since=datetime.datetime(2024, 6, 1, 14, 1, tzinfo=plus2),
        until=datetime.datetime(2024, 6, 1, 8, 3, tzinfo=minus4),
    )
    assert [r["value"] for r in got] == [2.0, 3.0, 4.0]
    assert sensor.get_data(since=datetime.datetime(2024, 6, 1, 12, 3)) == rows[3:]
    with pytest.raises(ValueError):
        sensor.get_data(since="yesterday-ish")


def test_100k_points_write_and_read(client):
    sensor = client.get_sensor("bulk", "s1")
    n = 100_000
    base = int(START.timestamp())
    t0 = time.monotonic()
    written = sensor.write((base + i * 10, (i % 1000) * 0.5) for i in range(n))
    t_write = time.monotonic() - t0
    assert written == n
    t0 = time.monotonic()
    rows = sensor.get_data()
    t_read = time.monotonic() - t0
    assert len(rows) == n
    assert rows[0] == {"time": START, "value": 0.0}
    assert rows[-1]["time"] == START + datetime.timedelta(seconds=(n - 1) * 10)
    assert rows[12345]["value"] == (12345 % 1000) * 0.5
    assert sensor.get_data(aggregation={"method": "count"})[0]["value"] == n
    print(f"100k points: write {t_write:.2f} s, read {t_read:.2f} s")
