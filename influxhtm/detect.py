"""Offline detection over a `timestamp,value` CSV: NAB's numenta detector per record, CSV out,
optional per-record trace in the golden-trace format (`tests/fixtures/golden/README.md`).

Time zones: by default the file's timestamps are wall-clock times and are encoded as they are written
(NAB's convention; an ISO time with an offset shows its own wall clock, as NuPIC's `timetuple()` does).
With a `timezone` (`influxhtm detect --timezone Europe/Berlin`) every timestamp is an instant — a naive
one is read as UTC, one with an offset as that instant — and the model encodes its wall clock in that
zone: the same rule as the UDF's `.timezone()` and the library's `timezone` option, so the same instants
get the same scores everywhere."""

import csv
import datetime
import gzip
import json
import logging
import math
import sys
from dataclasses import dataclass
from typing import Optional

from influxhtm.htm.detector import AnomalyDetector
from influxhtm.htm.params import (
    DEFAULT_DETECTOR,
    DEFAULT_TAIL,
    DEFAULT_TM,
    nab_encoder_range,
    nab_probation,
    nab_resolution,
)
from influxhtm.htm.timestamps import DEFAULT_TIMEZONE, parse_timestamp
from influxhtm.schema import CSV_STATUS_COLUMNS, NAB_COLUMNS, PREDICTION


class InputError(ValueError):
    """A bad input file or row; the message names the file and line."""


@dataclass
class Series:
    timestamps: list[str]  # as written in the file
    times: list[datetime.datetime]  # parsed
    values: list[float]


def read_series(path: str) -> Series:
    """Reads `timestamp,value` rows; every bad row is reported with its line number."""
    timestamps, times, values = [], [], []
    try:
        f = open(path, newline="")
    except OSError as e:
        raise InputError(f"{path}: cannot open: {e.strerror}") from None
    with f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise InputError(f"{path}: the file is empty")
        header = [h.strip() for h in header]
        if "timestamp" not in header or "value" not in header:
            raise InputError(f"{path}: line 1: the header must name 'timestamp' and 'value' columns, got {header}")
        ti, vi = header.index("timestamp"), header.index("value")
        previous, went_back = None, False
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) <= max(ti, vi):
                raise InputError(f"{path}: line {line}: expected {len(header)} columns, got {len(row)}")
            text = row[ti].strip()
            try:
                stamp = parse_timestamp(text)
            except ValueError as e:
                raise InputError(f"{path}: line {line}: {e}") from None
            try:
                value = float(row[vi])
            except ValueError:
                raise InputError(f"{path}: line {line}: value {row[vi]!r} is not a number") from None
            if not math.isfinite(value):
                raise InputError(f"{path}: line {line}: value {row[vi]!r} is not finite")
            if previous is not None and stamp < previous and not went_back:
                # NuPIC scores such records like any other (NAB's machine_temperature has one); say so once.
                logging.getLogger(__name__).warning(
                    "%s: line %d: timestamp %s goes back in time (previous %s); scored as it comes, as NuPIC does",
                    path,
                    line,
                    text,
                    previous,
                )
                went_back = True
            previous = stamp
            timestamps.append(text)
            times.append(stamp)
            values.append(value)
    if not values:
        raise InputError(f"{path}: no data rows")
    return Series(timestamps, times, values)


def nab_detector(
    series: Series,
    *,
    min_value=None,
    max_value=None,
    tail=DEFAULT_TAIL,
    tm=DEFAULT_TM,
    prediction_steps=0,
    timezone: Optional[str] = None,
    detector: str = DEFAULT_DETECTOR,
) -> AnomalyDetector:
    """A detector configured as NAB configures one for this file (whole-file range unless given, the
    file's length); with `timezone`, its date encoders see that zone's wall clock (see the module's doc)."""
    lo = min(series.values) if min_value is None else min_value
    hi = max(series.values) if max_value is None else max_value
    return AnomalyDetector(
        lo,
        hi,
        probation=nab_probation(len(series.values)),
        tail=tail,
        tm=tm,
        prediction_steps=prediction_steps,
        timezone=DEFAULT_TIMEZONE if timezone is None else timezone,
        detector=detector,
        length=len(series.values),
    )


def as_instant(when: datetime.datetime) -> datetime.datetime:
    """A file's timestamp as an instant in UTC: a naive one is UTC, one with an offset is converted."""
    if when.utcoffset() is None:
        return when.replace(tzinfo=datetime.timezone.utc)
    return when.astimezone(datetime.timezone.utc)


def _number(x: float) -> str:
    return repr(float(x))


def trace_header(series: Series, detector: AnomalyDetector, source: str) -> dict:
    s = detector.settings
    lo, hi = nab_encoder_range(s["min_value"], s["max_value"])
    return {
        "format": "influxhtm-golden-1",
        "source": "influxhtm",
        "file": source,
        "rows": len(series.values),
        "tail": s["tail"],
        "tmImplementation": "cpp" if s["tm"] == "backtracking" else "tm_cpp",
        "probationaryPeriod": s["probation"],
        "inputMin": s["min_value"],
        "inputMax": s["max_value"],
        "encoderMinVal": lo,
        "encoderMaxVal": hi,
        "resolution": nab_resolution(lo, hi),
    }


def detect(
    series: Series,
    out_path: str,
    detector: AnomalyDetector,
    *,
    trace_path: Optional[str] = None,
    source: str = "",
    progress: bool = True,
    instants: bool = False,
) -> None:
    """Scores every record and writes `timestamp,value,anomaly_score,raw_score,anomaly_likelihood`
    (+ `prediction` when the detector predicts) + `learning,records_seen` (NAB's scorer reads its columns
    by name, so the last two do not disturb it). `instants`: the timestamps are instants (naive = UTC)
    whose wall clock in the detector's zone is encoded (`detect --timezone`); else wall clocks as written."""
    from tqdm import tqdm  # progress bars only where a file is scored, not in the UDF

    predicting = detector.settings["prediction_steps"] > 0
    one_sided = detector.settings["tail"] == "one-sided"
    trace = gzip.open(trace_path, "wt") if trace_path else None
    try:
        if trace:
            trace.write(json.dumps(trace_header(series, detector, source)) + "\n")
        with open(out_path, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow([*NAB_COLUMNS, *([PREDICTION] if predicting else []), *CSV_STATUS_COLUMNS])
            rows = zip(series.timestamps, series.times, series.values)
            for i, (stamp, when, value) in enumerate(
                tqdm(
                    rows,
                    total=len(series.values),
                    disable=not progress,
                    file=sys.stderr,
                    unit="rec",
                    desc=source or None,
                )
            ):
                if instants:
                    when = as_instant(when)
                if trace:
                    scores, internals = detector.handle_traced(when, value)
                    record = {
                        "i": i,
                        "t": stamp,
                        "v": value,
                        "b": internals["b"],
                        "enc": internals["enc"],
                        "sp": internals["sp"],
                        "pc": internals["pc"],
                        "raw": scores.raw_score,
                        ("L1" if one_sided else "L2"): scores.anomaly_likelihood,
                        ("F1" if one_sided else "F2"): scores.anomaly_score,
                        "sp_anom": internals["sp_anom"],
                        "segs": internals["segs"],
                        "syns": internals["syns"],
                    }
                    trace.write(json.dumps(record) + "\n")
                else:
                    scores = detector.handle(when, value)
                row = [
                    stamp,
                    _number(value),
                    _number(scores.anomaly_score),
                    _number(scores.raw_score),
                    _number(scores.anomaly_likelihood),
                ]
                if predicting:
                    row.append("" if scores.prediction is None else _number(scores.prediction))
                row += ["true" if scores.learning else "false", str(scores.records_seen)]
                writer.writerow(row)
    finally:
        if trace:
            trace.close()
