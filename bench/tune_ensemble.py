"""How the ensemble's four constants were chosen, runnable (issue: a detector beyond every published NAB result).

1. Score every file of the corpus with both parts alone: the `numenta` detector's final score and ARTime's
   score (the engine's `Artime`, given the file's min, max and length as NAB gives every detector).
2. For every setting on a small grid (HTM alert level, ARTime alert level, quiet share of the probation after
   an HTM alert and after an ARTime alert), fuse the two as engine/src/ensemble.rs does and score the
   corpus at the fixed threshold 0.5 (standard profile: the operator's figure).
3. Choose the setting whose score, averaged with its grid neighbours' (one step along one axis), is highest:
   a plateau rather than a peak, because a peak can hang on a single window that one alert's quiet period
   happens to swallow or not.
4. Generalisation check: leave-one-category-out. For each NAB category, choose by the same rule on the other
   categories and score the held-out files with that choice; the concatenated held-out scores give the
   cross-validated figure (printed for the plain best setting too, for comparison).

Prints the chosen setting, the cross-validated figures and the shipped constants' figures
(`_engine.ENSEMBLE_SETTINGS`). One global setting for every series; no labels at run time.

    python -m bench.tune_ensemble [--data DIR] [--labels FILE]
"""

import argparse
import itertools
import sys
from pathlib import Path

from influxhtm import _engine
from influxhtm.detect import nab_detector, read_series
from influxhtm.htm.params import nab_probation
from influxhtm.nab import corpus_files
from influxhtm.nab_score import ScoredSeries, read_labels, rows_of_windows, score_corpus

NAB_FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "nab"
GRID = {
    "numenta_alert": (0.6, 0.7, 0.8, 0.9),
    "artime_alert": (0.2, 0.3, 0.4),
    "quiet_after_numenta": (0.1, 0.2, 0.3, 0.4),
    "quiet_after_artime": (0.05, 0.1, 0.2, 0.3),
}


def part_scores(data: Path) -> dict[str, tuple[list[float], list[float], list[str]]]:
    """Per file: the numenta detector's scores, ARTime's scores, the timestamps."""
    out = {}
    for category, name in corpus_files(str(data)):
        series = read_series(str(data / category / name))
        numenta = nab_detector(series)
        htm = [numenta.handle(t, v).anomaly_score for t, v in zip(series.times, series.values)]
        artime = _engine.Artime(min(series.values), max(series.values), len(series.values))
        out[f"{category}/{name}"] = (htm, artime.handle_many(series.values), series.timestamps)
    return out


def fuse(htm: list[float], artime: list[float], s: dict) -> list[float]:
    """The ensemble's score from its parts' scores under settings `s` (engine/src/ensemble.rs's rule)."""
    probation = nab_probation(len(htm))
    out, quiet_until = [], -1
    for i, (n, a) in enumerate(zip(htm, artime)):
        evidence = max(n / s["numenta_alert"], a / s["artime_alert"])
        if evidence >= 1 and i > quiet_until:
            above_n = (n - s["numenta_alert"]) / (1 - s["numenta_alert"]) if n >= s["numenta_alert"] else 0.0
            above_a = (a - s["artime_alert"]) / (1 - s["artime_alert"]) if a >= s["artime_alert"] else 0.0
            out.append(0.5 + 0.5 * min(1.0, max(above_n, above_a)))
            share = s["quiet_after_artime"] if a >= s["artime_alert"] else s["quiet_after_numenta"]
            quiet_until = i + int(share * probation)
        else:
            out.append(s["below_alert"] * min(evidence, 1.0))
    return out


def standard_at_half(scores: dict[str, list[float]], windows: dict, files: list[str]) -> float:
    series = [ScoredSeries(f, scores[f], windows[f]) for f in files]
    return score_corpus(series, threshold=0.5).results[0].normalised or 0.0


def neighbours(values: tuple) -> list[tuple]:
    """The grid settings one step away from `values` along one axis."""
    out = []
    for axis, options in enumerate(GRID.values()):
        at = options.index(values[axis])
        for step in (-1, 1):
            if 0 <= at + step < len(options):
                out.append(values[:axis] + (options[at + step],) + values[axis + 1 :])
    return out


def choose(score: dict[tuple, float], plateau: bool) -> tuple:
    """The best setting by its own score, or (plateau) by its score averaged with its neighbours'."""
    if not plateau:
        return max(score, key=score.__getitem__)

    def averaged(v: tuple) -> float:
        near = neighbours(v)
        return (score[v] + sum(score[n] for n in near)) / (1 + len(near))

    return max(score, key=averaged)


def table(scores: dict[str, list[float]], windows: dict, files: list[str]) -> str:
    """The three profiles at NAB's optimised threshold and at 0.5."""
    series = [ScoredSeries(f, scores[f], windows[f]) for f in files]
    pairs = zip(score_corpus(series).results, score_corpus(series, threshold=0.5).results)
    return ", ".join(f"{b.profile.name} {b.normalised:.2f} (at 0.5: {h.normalised:.2f})" for b, h in pairs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=NAB_FIXTURES / "data")
    parser.add_argument("--labels", type=Path)
    args = parser.parse_args()
    labels = read_labels(str(args.labels or args.data.parent / "combined_windows.json"))
    parts = part_scores(args.data)
    windows = {f: rows_of_windows(ts, labels.get(f, []), f) for f, (_, _, ts) in parts.items()}
    files = sorted(parts)
    shipped = dict(_engine.ENSEMBLE_SETTINGS)
    grid = list(itertools.product(*GRID.values()))
    fused = {v: {f: fuse(parts[f][0], parts[f][1], dict(shipped, **dict(zip(GRID, v)))) for f in files} for v in grid}
    print(f"grid of {len(grid)} settings {list(GRID)} on {len(files)} files")

    def held_out(plateau: bool) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for category in sorted({f.split("/")[0] for f in files}):
            train = [f for f in files if not f.startswith(category + "/")]
            chosen = choose({v: standard_at_half(fused[v], windows, train) for v in grid}, plateau)
            print(f"  without {category}: {list(chosen)}")
            out.update({f: fused[chosen][f] for f in files if f.startswith(category + "/")})
        return out

    for plateau, rule in ((False, "best setting"), (True, "plateau rule")):
        chosen = choose({v: standard_at_half(fused[v], windows, files) for v in grid}, plateau)
        print(f"{rule}: {list(chosen)} on all files: {table(fused[chosen], windows, files)}")
        print(f"{rule}, leave-one-category-out: {table(held_out(plateau), windows, files)}")

    mine = {f: fuse(parts[f][0], parts[f][1], shipped) for f in files}
    print(f"shipped {[shipped[g] for g in GRID]}: {table(mine, windows, files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
