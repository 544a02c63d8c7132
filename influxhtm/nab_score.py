"""Scoring of anomaly-detector output by the rules of the Numenta Anomaly Benchmark (NAB v1.x).

The rules, as NAB defines them:

- **Corpus.** The files are the keys of NAB's label file (`combined_windows.json`: `"<category>/<file>.csv"`
  -> list of `[first, last]` timestamps, both ends inclusive). A detector's results are one CSV per data file,
  `<results>/<category>/<detector>_<file>.csv` (or `<category>/<file>.csv`), with a `timestamp` and an
  `anomaly_score` column and one row per data row. A record is a *detection* when its score >= threshold.
- **Probationary period.** The first `min(floor(0.15 * rows), 750)` records of a file are not scored at all.
  A label window lying wholly inside it is ignored; one that straddles its end is scored on its later rows.
- **Row weights** come from the sigmoid `sig(x) = 2 / (1 + e^(5x)) - 1` (`-1` for x > 3):
  inside a window of `W` rows `[a, b]`, row `i` sits at `x = -(b - i + 1) / W` (-1 on the first row) and a
  detection there earns `tp * sig(x) / sig(-1)`, so a detection on the first row of the window earns exactly
  `tp` and later ones less. After a window, up to the next one, row `i` sits at `x = (i - b) / (W - 1)`
  and a detection costs `fp * sig(x)` (a small penalty right after the window, the full `-fp` beyond three
  widths; after a one-row window the full `-fp`). Before a file's first window, and in a file without
  windows, a detection costs `-fp`.
- **File score.** Each window counts once, with the weight of its earliest detection, or `-fn` when it has
  none; every detection outside the windows adds its (negative) weight.
- **Profiles** (NAB's `config/profiles.json`): standard (tp 1, fp 0.11, fn 1), reward_low_FP_rate
  (fp 0.22), reward_low_FN_rate (fn 2).
- **Normalisation.** With G scored windows, the null detector (no detection) scores `-fn * G` and the
  perfect one (every window detected on its first row, nothing else) `tp * G`; the reported score is
  `100 * (S - null) / (perfect - null)`: 0 for the null detector, 100 for the perfect one. G counts the windows
  of the scored files only (on NAB's whole corpus that is NAB's own figure; on a subset NAB would still count
  every window of its label file).
- **Threshold.** NAB picks, for each profile separately, the one corpus-wide threshold that maximises the
  corpus score: every distinct score of a scored record is a candidate, plus "nothing flagged" (reported as
  1.1); on a tie the higher threshold wins. `threshold=` scores at a fixed threshold instead (the honest
  figure when the threshold was chosen without looking at the labels).

Entry points: `score_results` (files on disk, as the CLI uses it), `score_corpus` (in-memory `ScoredSeries`),
`format_report` / `report_dict` for printing.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from influxhtm.htm.params import nab_probation
from influxhtm.schema import ANOMALY_SCORE

__all__ = [
    "NOTHING_FLAGGED",
    "PROFILES",
    "FileResult",
    "Profile",
    "ProfileResult",
    "Report",
    "ScoredSeries",
    "find_labels",
    "format_report",
    "probationary_rows",
    "read_labels",
    "report_dict",
    "rows_of_windows",
    "score_corpus",
    "score_results",
    "sigmoid",
]


@dataclass(frozen=True)
class Profile:
    """An application profile: what a detected window earns and what a false or missed one costs."""

    name: str
    tp: float
    fp: float
    fn: float


PROFILES: tuple[Profile, ...] = (
    Profile("standard", tp=1.0, fp=0.11, fn=1.0),
    Profile("reward_low_FP_rate", tp=1.0, fp=0.22, fn=1.0),
    Profile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0),
)
SHORT_NAMES = {"standard": "standard", "reward_low_FP_rate": "low FP", "reward_low_FN_rate": "low FN"}

#: The threshold reported when flagging nothing is best (every score is at most 1).
NOTHING_FLAGGED = 1.1


def probationary_rows(rows: int) -> int:
    """Number of leading records of a `rows`-record file that NAB does not score."""
    return nab_probation(rows)


def sigmoid(x: float) -> float:
    """NAB's scaled sigmoid: +0.987 at x = -1, 0 at x = 0, -0.987 at x = 1, exactly -1 beyond x = 3."""
    if x > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


_FIRST_ROW = sigmoid(-1.0)  # window weights are divided by this: the first row of a window earns exactly tp


@dataclass
class ScoredSeries:
    """One data file: the detector's scores (one per record) and its label windows as inclusive row ranges."""

    name: str
    scores: Sequence[float]
    windows: Sequence[tuple[int, int]] = ()


@dataclass
class FileResult:
    """One file's score and record counts (scored records only) at a profile's threshold."""

    name: str
    score: float
    tp: int
    fp: int
    fn: int
    tn: int
    windows_detected: int
    windows: int


@dataclass
class ProfileResult:
    profile: Profile
    threshold: float
    raw: float  # the corpus score: sum of the file scores
    null: float
    perfect: float
    files: list[FileResult]

    @property
    def normalised(self) -> Optional[float]:
        """0 = null detector, 100 = perfect; None when the corpus has no scored window."""
        if self.perfect == self.null:
            return None
        return 100.0 * (self.raw - self.null) / (self.perfect - self.null)

    def total(self, key: str) -> int:
        return sum(getattr(f, key) for f in self.files)


@dataclass
class Report:
    detector: str
    fixed_threshold: Optional[float]
    results: list[ProfileResult]
    rows: int  # records of the scored files
    scored_rows: int  # after the probationary periods
    windows: int  # label windows with at least one scored record
    notes: list[str] = field(default_factory=list)

    def normalised(self) -> dict[str, Optional[float]]:
        return {r.profile.name: r.normalised for r in self.results}


class _Corpus:
    """The scored records of every file, flattened in file and time order, with what the weights need."""

    def __init__(self, series: Sequence[ScoredSeries]):
        self.names = [s.name for s in series]
        self.score: list[float] = []
        self.window: list[int] = []  # corpus-wide window id, -1 outside windows
        self.curve: list[float] = []  # sigmoid at the record's position (window or after-window position)
        self.file: list[int] = []
        self.window_file: list[int] = []  # window id -> file index, only windows with scored records
        self.rows = 0
        for index, s in enumerate(series):
            self._add(index, s)
        self._descending: Optional[list[int]] = None

    def _add(self, index: int, s: ScoredSeries) -> None:
        n = len(s.scores)
        self.rows += n
        windows = sorted((int(a), int(b)) for a, b in s.windows)
        for k, (a, b) in enumerate(windows):
            if not 0 <= a <= b < n:
                raise ValueError(f"{s.name}: window rows {a}-{b} outside the file's {n} rows")
            if k and a <= windows[k - 1][1]:
                raise ValueError(f"{s.name}: label windows overlap (rows {windows[k - 1]} and {(a, b)})")
        start = probationary_rows(n)
        # Position of every row relative to the window it is in or follows (None: before the first window).
        ids: list[int] = [-1] * n
        curve = [-1.0] * n
        for k, (a, b) in enumerate(windows):
            width = b - a + 1
            wid = -1
            if b >= start:
                wid = len(self.window_file)
                self.window_file.append(index)
            for i in range(a, b + 1):
                ids[i] = wid
                curve[i] = sigmoid(-(b - i + 1) / width)
            end = windows[k + 1][0] if k + 1 < len(windows) else n
            for i in range(b + 1, end):
                curve[i] = sigmoid((i - b) / (width - 1)) if width > 1 else -1.0
        for i in range(start, n):
            value = float(s.scores[i])
            if not (0.0 <= value <= 1.0):
                raise ValueError(f"{s.name}: record {i}: anomaly score {value!r} is not a number in [0, 1]")
            self.score.append(value)
            self.window.append(ids[i])
            self.curve.append(curve[i])
            self.file.append(index)

    def weights(self, profile: Profile) -> list[float]:
        """What flagging each record is worth: its window reward if it is the window's earliest detection,
        else its false-positive cost."""
        tp, fp = profile.tp / _FIRST_ROW, profile.fp
        return [tp * c if w >= 0 else fp * c for c, w in zip(self.curve, self.window)]

    def best_threshold(self, profile: Profile) -> float:
        """The threshold NAB's sweep picks: lower it one distinct score at a time (records in descending
        score order), keeping the corpus score up to date, and keep the best (the first, i.e. highest, on ties)."""
        if self._descending is None:
            self._descending = sorted(range(len(self.score)), key=self.score.__getitem__, reverse=True)
        order, score, window = self._descending, self.score, self.window
        weight = self.weights(profile)
        earliest: dict[int, int] = {}
        total = -profile.fn * len(self.window_file)
        best, best_total = NOTHING_FLAGGED, total
        for position, row in enumerate(order):
            wid = window[row]
            if wid < 0:
                total += weight[row]
            else:
                current = earliest.get(wid)
                if current is None:
                    total += weight[row] + profile.fn
                    earliest[wid] = row
                elif row < current:
                    total += weight[row] - weight[current]
                    earliest[wid] = row
            if total > best_total and (position + 1 == len(order) or score[order[position + 1]] != score[row]):
                best, best_total = score[row], total
        return best

    def evaluate(self, profile: Profile, threshold: float) -> list[FileResult]:
        nfiles = len(self.names)
        weight = self.weights(profile)
        score = [0.0] * nfiles
        counts = [[0, 0, 0, 0] for _ in range(nfiles)]  # tp, fp, fn, tn records
        first_hit: dict[int, int] = {}
        for row, value in enumerate(self.score):
            f, wid, flagged = self.file[row], self.window[row], value >= threshold
            if wid >= 0:
                counts[f][0 if flagged else 2] += 1
                if flagged and wid not in first_hit:
                    first_hit[wid] = row  # rows run in time order: the first one seen is the earliest
            else:
                counts[f][1 if flagged else 3] += 1
                if flagged:
                    score[f] += weight[row]
        detected = [0] * nfiles
        windows = [0] * nfiles
        for wid, f in enumerate(self.window_file):
            windows[f] += 1
            if wid in first_hit:
                detected[f] += 1
                score[f] += weight[first_hit[wid]]
            else:
                score[f] -= profile.fn
        return [
            FileResult(
                name,
                score[f],
                tp=counts[f][0],
                fp=counts[f][1],
                fn=counts[f][2],
                tn=counts[f][3],
                windows_detected=detected[f],
                windows=windows[f],
            )
            for f, name in enumerate(self.names)
        ]


def score_corpus(
    series: Sequence[ScoredSeries],
    *,
    threshold: Optional[float] = None,
    profiles: Sequence[Profile] = PROFILES,
    detector: str = "detector",
) -> Report:
    """Scores in-memory series for every profile, at NAB's optimised threshold or at `threshold`."""
    if threshold is not None and not math.isfinite(threshold):
        raise ValueError("the threshold must be a finite number")
    corpus = _Corpus(series)
    windows = len(corpus.window_file)
    results = []
    for profile in profiles:
        chosen = corpus.best_threshold(profile) if threshold is None else float(threshold)
        files = corpus.evaluate(profile, chosen)
        results.append(
            ProfileResult(
                profile, chosen, math.fsum(f.score for f in files), -profile.fn * windows, profile.tp * windows, files
            )
        )
    report = Report(detector, threshold, results, corpus.rows, len(corpus.score), windows)
    if windows == 0:
        report.notes.append("the scored files have no label window: the normalised score is undefined")
    return report


# ---- files on disk ------------------------------------------------------------------------------------


def _instant(text: str, where: str) -> datetime.datetime:
    """A timestamp as naive wall-clock time (`YYYY-MM-DD HH:MM:SS`, ISO 8601 variants, an offset is dropped)."""
    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{where}: cannot read timestamp {text!r}") from None
    return moment if moment.tzinfo is None else moment.replace(tzinfo=None)


def _columns(path: str, wanted: Sequence[str]) -> dict[str, list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        missing = [w for w in wanted if w not in header]
        if missing:
            raise ValueError(f"{path}: no {', '.join(missing)} column (header: {','.join(header)})")
        rows = [row for row in reader if row]
    at = [header.index(w) for w in wanted]
    widest = max(at)
    for line, row in enumerate(rows, start=2):
        if len(row) <= widest:
            raise ValueError(f"{path}: line {line} has too few fields")
    return {w: [row[j] for row in rows] for w, j in zip(wanted, at)}


def read_labels(path: str) -> dict[str, list[tuple[str, str]]]:
    """NAB's label windows file: `{"<category>/<file>.csv": [[first, last], ...]}`."""
    with open(path) as f:
        raw = json.load(f)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object of '<category>/<file>.csv' keys")
    labels = {}
    for name, windows in raw.items():
        name = name.replace("\\", "/")
        if name.count("/") != 1:
            raise ValueError(f"{path}: key {name!r} is not '<category>/<file>.csv'")
        pairs = []
        for w in windows or []:
            if not (isinstance(w, (list, tuple)) and len(w) == 2):
                raise ValueError(f"{path}: {name}: a window must be [first, last], got {w!r}")
            pairs.append((str(w[0]), str(w[1])))
        labels[name] = pairs
    return labels


def find_labels(data_dir: str) -> str:
    """`combined_windows.json` beside the data directory (NAB's and the fixtures' layout) or inside it."""
    for candidate in (
        os.path.join(os.path.dirname(os.path.normpath(data_dir)), "combined_windows.json"),
        os.path.join(data_dir, "combined_windows.json"),
    ):
        if os.path.isfile(candidate):
            return candidate
    raise ValueError(f"no combined_windows.json beside or in {data_dir}: pass --labels")


def rows_of_windows(timestamps: Sequence[str], windows: Sequence[tuple[str, str]], where: str) -> list[tuple[int, int]]:
    """Label windows (timestamp pairs) as inclusive row ranges of a file with these timestamps. Each label
    timestamp must name exactly one row."""
    if not windows:
        return []
    rows: dict[datetime.datetime, list[int]] = {}
    for i, t in enumerate(timestamps):
        rows.setdefault(_instant(t, where), []).append(i)
    out = []
    for first, last in windows:
        ends = []
        for t in (first, last):
            hits = rows.get(_instant(t, where), [])
            if len(hits) != 1:
                raise ValueError(f"{where}: label timestamp {t!r} matches {len(hits)} data rows (needs exactly 1)")
            ends.append(hits[0])
        if ends[1] < ends[0]:
            raise ValueError(f"{where}: label window {first} .. {last} ends before it starts")
        out.append((ends[0], ends[1]))
    return out


def _results_file(results_dir: str, name: str, detector: str) -> Optional[str]:
    category, filename = name.split("/")
    for candidate in (f"{detector}_{filename}", filename):
        path = os.path.join(results_dir, category, candidate)
        if os.path.isfile(path):
            return path
    return None


def _read_results(path: str, data_times: list[str]) -> list[float]:
    cols = _columns(path, ["timestamp", ANOMALY_SCORE])
    times, texts = cols["timestamp"], cols[ANOMALY_SCORE]
    if len(texts) != len(data_times):
        raise ValueError(f"{path}: {len(texts)} rows, the data file has {len(data_times)}")
    if times != data_times:
        for line, (ours, theirs) in enumerate(zip(times, data_times), start=2):
            if ours != theirs and _instant(ours, path) != _instant(theirs, path):
                raise ValueError(f"{path}: line {line}: timestamp {ours!r}, the data file has {theirs!r}")
    scores = []
    for line, text in enumerate(texts, start=2):
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{path}: line {line}: anomaly_score {text!r} is not a number") from None
        if not (0.0 <= value <= 1.0):
            raise ValueError(f"{path}: line {line}: anomaly_score {text!r} is not in [0, 1]")
        scores.append(value)
    return scores


def score_results(
    data_dir: str,
    labels_path: str,
    results_dir: str,
    *,
    detector: Optional[str] = None,
    threshold: Optional[float] = None,
    profiles: Sequence[Profile] = PROFILES,
) -> Report:
    """Scores a detector's results directory (NAB's layout) against the labelled files of `data_dir`.
    Labelled files without a results file are left out (with a note)."""
    if not os.path.isdir(results_dir):
        raise ValueError(f"{results_dir}: results directory not found")
    if not os.path.isdir(data_dir):
        raise ValueError(f"{data_dir}: data directory not found")
    labels = read_labels(labels_path)
    name = detector or os.path.basename(os.path.normpath(results_dir))
    series, absent = [], []
    for key in sorted(labels):
        path = _results_file(results_dir, key, name)
        if path is None:
            absent.append(key)
            continue
        data_path = os.path.join(data_dir, key)
        if not os.path.isfile(data_path):
            raise ValueError(f"{path}: no data file {data_path}")
        times = _columns(data_path, ["timestamp"])["timestamp"]
        scores = _read_results(path, times)
        series.append(ScoredSeries(key, scores, rows_of_windows(times, labels[key], f"{labels_path}: {key}")))
    if not series:
        raise ValueError(
            f"{results_dir}: no results for any file of {labels_path} (expected <category>/{name}_<file>.csv)"
        )
    report = score_corpus(series, threshold=threshold, profiles=profiles, detector=name)
    if absent:
        report.notes.insert(
            0,
            f"{len(absent)} of {len(labels)} labelled files have no results and are not scored "
            f"(e.g. {', '.join(absent[:3])})",
        )
    return report


# ---- output ---------------------------------------------------------------------------------------------


def _fmt(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def format_report(report: Report, *, per_file: bool = False) -> str:
    """A table per profile, and a last line with the three normalised scores."""
    mode = "optimised per profile" if report.fixed_threshold is None else f"fixed at {report.fixed_threshold:g}"
    lines = [
        f"NAB score of {report.detector}: {len(report.results[0].files)} files, {report.scored_rows} scored "
        f"records, {report.windows} label windows; threshold {mode}",
        f"{'profile':<20} {'threshold':>13} {'raw':>9} {'score':>7} {'TP':>6} {'FP':>6} {'FN':>7} {'TN':>8} "
        f"{'windows':>8}",
    ]
    for r in report.results:
        lines.append(
            f"{r.profile.name:<20} {r.threshold:>13.10g} {r.raw:>9.4f} {_fmt(r.normalised):>7} "
            f"{r.total('tp'):>6} {r.total('fp'):>6} {r.total('fn'):>7} {r.total('tn'):>8} "
            f"{r.total('windows_detected'):>4}/{r.total('windows')}"
        )
    lines.append("(TP/FP/FN/TN: scored records; windows: label windows with a detection)")
    if per_file:
        for r in report.results:
            lines.append(f"\n{r.profile.name} per file (threshold {r.threshold:.10g}):")
            lines += [
                f"  {f.name:<58} {f.score:>9.4f}  windows {f.windows_detected}/{f.windows}  FP {f.fp}" for f in r.files
            ]
    lines.append(
        "NAB score: "
        + " / ".join(f"{SHORT_NAMES.get(r.profile.name, r.profile.name)} {_fmt(r.normalised)}" for r in report.results)
    )
    return "\n".join(lines)


def report_dict(report: Report, *, per_file: bool = False) -> dict:
    """The report as plain data (for JSON)."""
    profiles: dict[str, Any] = {}
    for r in report.results:
        entry: dict[str, Any] = {
            "weights": {"tp": r.profile.tp, "fp": r.profile.fp, "fn": r.profile.fn},
            "threshold": r.threshold,
            "raw": r.raw,
            "null": r.null,
            "perfect": r.perfect,
            "score": r.normalised,
            **{k: r.total(k) for k in ("tp", "fp", "fn", "tn", "windows_detected", "windows")},
        }
        if per_file:
            entry["files"] = [vars(f).copy() for f in r.files]
        profiles[r.profile.name] = entry
    return {
        "detector": report.detector,
        "threshold": "optimised" if report.fixed_threshold is None else "fixed",
        "rows": report.rows,
        "scored_rows": report.scored_rows,
        "windows": report.windows,
        "scores": report.normalised(),
        "profiles": profiles,
        "notes": list(report.notes),
    }
