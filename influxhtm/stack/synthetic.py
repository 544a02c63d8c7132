"""A labelled synthetic metric: 5-minute samples with daily and weekly seasonality, noise and injected anomalies.

The shape imitates a server metric (busy working hours, quiet nights, quieter weekends). Anomalies of
four kinds are placed after the first week so a model has learned the normal pattern first:
spike, flatline (the signal drops to a constant), changed daily pattern, level shift. Each gets a
label window in the style of NAB's combined_windows.json (10 % of the series length shared between
the anomalies, centred on the anomaly's start and stretched over the anomaly's span when it ends
before the series does). The same seed always gives the same series.
"""

from __future__ import annotations

import csv
import json
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

NAB_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
CSV_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
ANOMALY_KINDS = ("spike", "flatline", "pattern_change", "level_shift")


@dataclass(frozen=True)
class Anomaly:
    """One injected anomaly: its kind, the samples it changes [start, end) and its label window."""

    kind: str
    start: datetime
    end: datetime
    window: tuple[datetime, datetime]


@dataclass(frozen=True)
class SyntheticSeries:
    timestamps: list[datetime]
    values: list[float]
    anomalies: list[Anomaly]

    @property
    def windows(self) -> list[tuple[datetime, datetime]]:
        return [a.window for a in self.anomalies]

    @property
    def value_range(self) -> tuple[float, float]:
        return min(self.values), max(self.values)


def _normal_level(t: datetime) -> float:
    """The anomaly-free signal at time t (percent-like, roughly 10..80)."""
    hour = t.hour + t.minute / 60.0
    # Working-hours bump (peaks mid-afternoon) on top of a gentle day/night sine.
    daily = 0.5 * (1 - math.cos(2 * math.pi * hour / 24.0))
    bump = math.exp(-((hour - 14.0) ** 2) / (2 * 2.5**2))
    weekday = t.weekday() < 5
    scale = 1.0 if weekday else 0.45
    return 15.0 + scale * (20.0 * daily + 35.0 * bump)


def generate(
    *, seed: int = 7, start: datetime = datetime(2026, 1, 5), days: int = 21, interval: timedelta = timedelta(minutes=5)
) -> SyntheticSeries:
    """A deterministic labelled series of `days` days at `interval` (default 21 days = 6048 samples).

    Needs at least 14 days so that the anomalies come after a full normal week.
    """
    if days < 14:
        raise ValueError(f"days must be >= 14 (got {days}): the anomalies start after the first week")
    if interval <= timedelta(0):
        raise ValueError("interval must be positive")
    rng = random.Random(seed)
    count = int(timedelta(days=days) / interval)
    timestamps = [start + i * interval for i in range(count)]
    per_day = int(timedelta(days=1) / interval)
    noise = 0.0
    values = []
    for t in timestamps:
        noise = 0.7 * noise + rng.gauss(0.0, 1.2)  # AR(1): neighbouring samples are correlated
        values.append(_normal_level(t) + noise)

    # Anomaly positions: spread over the part after day 8, at random times of day.
    first = 8 * per_day
    slot = (count - first) // len(ANOMALY_KINDS)
    latest = max(per_day // 4 + 1, slot - per_day - per_day // 4)  # an anomaly ends before the next starts
    starts = [first + k * slot + rng.randrange(per_day // 4, latest) for k in range(len(ANOMALY_KINDS))]
    windows_len = max(1, int(0.10 * count / len(ANOMALY_KINDS)))
    anomalies = []
    for kind, i in zip(ANOMALY_KINDS, starts):
        if kind == "spike":
            end = i + 3
            for j in range(i, end):
                values[j] += 55.0 + rng.uniform(0.0, 10.0)
        elif kind == "flatline":
            end = i + per_day // 4  # six hours stuck at a low constant (e.g. a dead collector)
            for j in range(i, end):
                values[j] = 2.0
        elif kind == "pattern_change":
            end = i + per_day  # a day whose busy hours are shifted by eight hours
            for j in range(i, end):
                shifted = timestamps[j] + timedelta(hours=8)
                values[j] += _normal_level(shifted) - _normal_level(timestamps[j])
        else:  # level_shift: the level stays up until the end of the series
            end = count
            for j in range(i, end):
                values[j] += 30.0
        # NAB centres a window on the anomaly's start; a bounded anomaly's window also covers its span.
        lo = max(0, i - windows_len // 2)
        hi = min(count - 1, max(i + windows_len // 2, end + windows_len // 2 if end < count else 0))
        anomalies.append(Anomaly(kind, timestamps[i], timestamps[end - 1] + interval, (timestamps[lo], timestamps[hi])))
    return SyntheticSeries(timestamps, [round(v, 4) for v in values], anomalies)


def write_csv(series: SyntheticSeries, path: str | Path) -> None:
    """Write `timestamp,value` rows (NAB's CSV layout)."""
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["timestamp", "value"])
        for t, v in zip(series.timestamps, series.values):
            writer.writerow([t.strftime(CSV_TIME_FORMAT), repr(v)])


def write_windows(series: SyntheticSeries, path: str | Path, name: str) -> None:
    """Write the label windows as NAB's combined_windows.json does: {name: [[start, end], ...]}."""
    windows = [[a.strftime(NAB_TIME_FORMAT), b.strftime(NAB_TIME_FORMAT)] for a, b in series.windows]
    Path(path).write_text(json.dumps({name: windows}, indent=4) + "\n")


def read_windows(path: str | Path, name: str | None = None) -> list[tuple[datetime, datetime]]:
    """Read label windows from a combined_windows.json-style file (the only entry, or the one named)."""
    data = json.loads(Path(path).read_text())
    if name is None:
        if len(data) != 1:
            raise ValueError(f"{path} has {len(data)} entries; name the series to use")
        name = next(iter(data))
    matches = [k for k in data if k == name or k.endswith("/" + name)]
    if len(matches) != 1:
        raise KeyError(f"{path}: no single entry for {name!r}")
    return [(datetime.strptime(a, NAB_TIME_FORMAT), datetime.strptime(b, NAB_TIME_FORMAT)) for a, b in data[matches[0]]]
