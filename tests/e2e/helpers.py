"""Helpers of the end-to-end tests: NAB data, line protocol, reading results back, the offline oracle."""

from __future__ import annotations

import calendar
import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

from influxdb import InfluxDBClient

from influxhtm.detect import read_series
from influxhtm.htm import AnomalyDetector
from influxhtm.htm.params import nab_probation
from influxhtm.influxql import quote_ident
from influxhtm.schema import ANOMALY_SCORE, result_measurement

REPO = Path(__file__).resolve().parents[2]
NAB_DATA = REPO / "tests" / "fixtures" / "nab" / "data"
TICKSCRIPTS = REPO / "tickscripts"
DB = "e2e"
RP = "autogen"


@dataclass
class Series:
    times: list[dt.datetime]
    values: list[float]

    def head(self, n: int) -> Series:
        return Series(self.times[:n], self.values[:n])


def nab_series(name: str, rows: int | None = None) -> Series:
    """A NAB data file (e.g. 'artificialWithAnomaly/art_daily_jumpsup.csv'), optionally its first rows."""
    data = read_series(str(NAB_DATA / name))
    series = Series(data.times, data.values)
    return series.head(rows) if rows else series


def epoch_ns(t: dt.datetime) -> int:
    """Naive NAB timestamps are written as UTC."""
    return calendar.timegm(t.timetuple()) * 1_000_000_000 + t.microsecond * 1000


def lines(measurement: str, tags: dict[str, str], series: Series, field: str = "value") -> list[str]:
    tag_text = "".join(f",{k}={v}" for k, v in sorted(tags.items()))
    return [f"{measurement}{tag_text} {field}={v!r} {epoch_ns(t)}" for t, v in zip(series.times, series.values)]


def interleave(*groups: list[str]) -> list[str]:
    """Line lists of equal-length series merged point by point (time order across groups)."""
    return [line for rows in zip(*groups) for line in rows]


def stream_vars(measurement: str, series: Series, *, group_by: list[str], **extra) -> dict:
    """Vars for tickscripts/htm_stream.tick with NAB's settings for `series` (whole-series range)."""
    values = {
        "database": DB,
        "retention_policy": RP,
        "measurement": measurement,
        "group_by": {"type": "list", "value": [{"type": "string", "value": g} for g in group_by]},
        "field": "value",
        "output_measurement": result_measurement(measurement),
        "min": float(min(series.values)),
        "max": float(max(series.values)),
        "probation": nab_probation(len(series.values)),
    }
    values.update(extra)
    return values


def offline_scores(
    series: Series, *, prediction_steps: int = 1, min_value=None, max_value=None, probation=None
) -> list:
    """The oracle: the same detector run in-process over the series (what `influxhtm detect` does)."""
    det = AnomalyDetector(
        min(series.values) if min_value is None else min_value,
        max(series.values) if max_value is None else max_value,
        probation=nab_probation(len(series.values)) if probation is None else probation,
        prediction_steps=prediction_steps,
    )
    return [det.handle(t, v) for t, v in zip(series.times, series.values)]


def query(client: InfluxDBClient, text: str) -> list[dict]:
    return list(client.query(text, epoch="ns").get_points())


def wait_count(
    client: InfluxDBClient,
    measurement: str,
    expected: int,
    *,
    where: str = "",
    kap=None,
    task_id: str | None = None,
    timeout: float = 300.0,
) -> int:
    """Wait until `expected` points of `measurement` are in InfluxDB; fail fast on a task error."""
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        rows = query(client, f"SELECT count({quote_ident(ANOMALY_SCORE)}) FROM {quote_ident(measurement)} {where}")
        count = rows[0]["count"] if rows else 0
        if count >= expected:
            return count
        if kap is not None and task_id is not None:
            error = kap.task_error(task_id)
            assert not error, f"task {task_id} failed: {error}"
        time.sleep(0.5)
    raise AssertionError(f"{count} of {expected} points of {measurement} {where} in InfluxDB after {timeout}s")


def assert_scores_equal(rows: list[dict], expected: list, series: Series) -> None:
    """Rows read back from InfluxDB (time order) carry exactly the oracle's values and scores."""
    assert len(rows) == len(expected) == len(series.values)
    for i, (row, want, t, v) in enumerate(zip(rows, expected, series.times, series.values)):
        where = f"point {i} ({t})"
        assert row["time"] == epoch_ns(t), where
        assert row["value"] == v, where
        assert row["raw_score"] == want.raw_score, where
        assert row["anomaly_likelihood"] == want.anomaly_likelihood, where
        assert row["anomaly_score"] == want.anomaly_score, where
        assert row.get("prediction") == want.prediction, where
