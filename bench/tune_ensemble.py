"""How the ensemble's four constants were chosen, runnable (issue: a detector beyond every published NAB result).

1. Score every file of the corpus with both parts alone: the `numenta` detector's final score and ARTime's
   score (the engine's `Artime`, given the file's min, max and length as NAB gives every detector).
2. For every setting on a grid (HTM alert level, ARTime alert level, quiet period after an HTM alert and
   after an ARTime alert, both as shares of the series' length), fuse the two as engine/src/ensemble.rs does
   and score the corpus at the fixed threshold 0.5 (standard profile: the operator's figure).
3. Choose the setting whose score, averaged over the settings with the same alert levels whose two quiet
   periods each lie within 25 % of its own, is highest. A quiet period one step too long swallows the
   detection of the next window in some file and costs about two points at once; where those cliffs lie
   depends on where a corpus's windows happen to fall, so the expected score on other files is the
   smoothed one, and a setting at the edge of a cliff loses.
4. Generalisation check: leave-one-category-out. For each NAB category, choose by the same rule on the other
   categories and score the held-out files with that choice; the concatenated held-out scores give the
   cross-validated figure (printed for the plain best setting too, for comparison).

Prints the chosen setting, the cross-validated figures and the shipped constants' figures
(`_engine.ENSEMBLE_SETTINGS`). One global setting for every series; no labels at run time.

    python -m bench.tune_ensemble [--data DIR] [--labels FILE]
"""

import argparse
import itertools
import math
import sys
from collections.abc import Callable
from pathlib import Path

from influxhtm import _engine
from influxhtm.detect import nab_detector, read_series
from influxhtm.nab import corpus_files
from influxhtm.nab_score import ScoredSeries, read_labels, rows_of_windows, score_corpus

NAB_FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "nab"
ALERTS = {"numenta_alert": (0.7, 0.8, 0.9), "artime_alert": (0.2, 0.3, 0.4)}
QUIETS = {
    "quiet_after_numenta": tuple(round(0.015 + 0.005 * k, 4) for k in range(18)),  # 1.5 % .. 10 % of the length
    "quiet_after_artime": tuple(round(0.005 + 0.0025 * k, 4) for k in range(23)),  # 0.5 % .. 6 %
}
GRID = {**ALERTS, **QUIETS}
NEAR = math.log(1.25)  # "within 25 %": a ratio between 1/1.25 and 1.25

Setting = tuple[float, ...]


class Part:
    """One file: its two parts' scores, its label windows, and a cache of file scores by alert rows."""

    def __init__(self, name: str, htm: list[float], artime: list[float], windows: list[tuple[int, int]]):
        self.name, self.htm, self.artime, self.windows = name, htm, artime, windows
        self._scores: dict[tuple[int, ...], float] = {}
        self._candidates: dict[tuple[float, float], list[tuple[int, bool]]] = {}
        empty = score_corpus([ScoredSeries(name, [0.0] * len(htm), windows)], threshold=0.5).results[0]
        self.window_count = round((empty.perfect - empty.null) / 2)

    def alerts(self, s: dict) -> tuple[int, ...]:
        """The records at which the ensemble alerts under settings `s` (engine/src/ensemble.rs's rule)."""
        levels = (s["numenta_alert"], s["artime_alert"])
        if levels not in self._candidates:  # the records above either level, and whether ARTime's is one
            pairs = enumerate(zip(self.htm, self.artime))
            self._candidates[levels] = [(i, a >= levels[1]) for i, (n, a) in pairs if n >= levels[0] or a >= levels[1]]
        out, quiet_until, length = [], -1, len(self.htm)
        for i, by_artime in self._candidates[levels]:
            if i > quiet_until:
                out.append(i)
                quiet_until = i + int((s["quiet_after_artime"] if by_artime else s["quiet_after_numenta"]) * length)
        return tuple(out)

    def fused(self, s: dict) -> list[float]:
        """The ensemble's score of every record under settings `s`."""
        alerts = set(self.alerts(s))
        out = []
        for i, (n, a) in enumerate(zip(self.htm, self.artime)):
            evidence = max(n / s["numenta_alert"], a / s["artime_alert"])
            if i in alerts:
                above_n = (n - s["numenta_alert"]) / (1 - s["numenta_alert"]) if n >= s["numenta_alert"] else 0.0
                above_a = (a - s["artime_alert"]) / (1 - s["artime_alert"]) if a >= s["artime_alert"] else 0.0
                out.append(0.5 + 0.5 * min(1.0, max(above_n, above_a)))
            else:
                out.append(s["below_alert"] * min(evidence, 1.0))
        return out

    def standard_at_half(self, s: dict) -> float:
        """The file's raw NAB score (standard profile) at the threshold 0.5."""
        alerts = self.alerts(s)
        if alerts not in self._scores:
            flags = [0.0] * len(self.htm)
            for i in alerts:
                flags[i] = 1.0
            series = ScoredSeries(self.name, flags, self.windows)
            self._scores[alerts] = score_corpus([series], threshold=0.5).results[0].files[0].score
        return self._scores[alerts]


def part_scores(data: Path, labels: dict) -> list[Part]:
    """Every file's two part scores: the numenta detector's final score and ARTime's."""
    out = []
    for category, name in corpus_files(str(data)):
        series = read_series(str(data / category / name))
        numenta = nab_detector(series)
        htm = [numenta.handle(t, v).anomaly_score for t, v in zip(series.times, series.values)]
        artime = _engine.Artime(min(series.values), max(series.values), len(series.values))
        key = f"{category}/{name}"
        windows = rows_of_windows(series.timestamps, labels.get(key, []), key)
        out.append(Part(key, htm, artime.handle_many(series.values), windows))
    return out


def normalised(file_scores: list[float], parts: list[Part]) -> float:
    """NAB's normalised standard score of files from their raw scores (null -G, perfect +G)."""
    windows = sum(p.window_count for p in parts)
    return 100.0 * (sum(file_scores) + windows) / (2 * windows)


def smoothed(score: dict[Setting, float]) -> dict[Setting, float]:
    """Each setting's score averaged over the settings with its alert levels and quiet periods within 25 %."""
    out = {}
    for v in score:
        near = [u for u in score if u[:2] == v[:2] and all(abs(math.log(u[k] / v[k])) <= NEAR + 1e-9 for k in (2, 3))]
        out[v] = sum(score[u] for u in near) / len(near)
    return out


def table(scores: dict[str, list[float]], parts: list[Part]) -> str:
    """The three profiles at NAB's optimised threshold and at 0.5."""
    series = [ScoredSeries(p.name, scores[p.name], p.windows) for p in parts]
    pairs = zip(score_corpus(series).results, score_corpus(series, threshold=0.5).results)
    return ", ".join(f"{b.profile.name} {b.normalised:.2f} (at 0.5: {h.normalised:.2f})" for b, h in pairs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=NAB_FIXTURES / "data")
    parser.add_argument("--labels", type=Path)
    args = parser.parse_args()
    labels = read_labels(str(args.labels or args.data.parent / "combined_windows.json"))
    parts = part_scores(args.data, labels)
    shipped = dict(_engine.ENSEMBLE_SETTINGS)
    grid = list(itertools.product(*GRID.values()))
    print(f"grid of {len(grid)} settings {list(GRID)} on {len(parts)} files")
    file_score = {v: [p.standard_at_half(dict(zip(GRID, v))) for p in parts] for v in grid}

    def choose(files: list[int], rule: Callable[[dict], dict]) -> Setting:
        score = rule({v: normalised([file_score[v][k] for k in files], [parts[k] for k in files]) for v in grid})
        return max(grid, key=score.__getitem__)

    def scores_of(v: Setting, chosen_parts: list[Part]) -> dict[str, list[float]]:
        return {p.name: p.fused(dict(shipped, **dict(zip(GRID, v)))) for p in chosen_parts}

    everything = list(range(len(parts)))
    for rule, name in ((lambda s: s, "best setting"), (smoothed, "smoothed rule")):
        chosen = choose(everything, rule)
        print(f"{name}: {list(chosen)} on all files: {table(scores_of(chosen, parts), parts)}")
        held: dict[str, list[float]] = {}
        for category in sorted({p.name.split("/")[0] for p in parts}):
            train = [k for k, p in enumerate(parts) if not p.name.startswith(category + "/")]
            pick = choose(train, rule)
            print(f"  without {category}: {list(pick)}")
            held.update(scores_of(pick, [p for p in parts if p.name.startswith(category + "/")]))
        print(f"{name}, leave-one-category-out: {table(held, parts)}")

    mine = {p.name: p.fused(shipped) for p in parts}
    print(f"shipped {[shipped[g] for g in GRID]}: {table(mine, parts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
