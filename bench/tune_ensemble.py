"""How the ensemble's four constants were chosen, runnable (issue: a detector beyond every published NAB result).

1. Score every file of the corpus with both parts alone: the `numenta` detector's final score and ARTime's
   score (the engine's `Artime`, given the file's min, max and length as NAB gives every detector).
2. For every setting on a small grid (HTM alert level, ARTime alert level, quiet share of the probation after
   an HTM alert and after an ARTime alert), fuse the two as engine/src/ensemble.rs does and score the
   corpus at the fixed threshold 0.5 (standard profile: the operator's figure).
3. Generalisation check: leave-one-category-out. For each NAB category, pick the best setting on the other
   categories and score the held-out files with it; the concatenated held-out scores give the
   cross-validated figure. A setting that only fits the corpus shows up as a large gap here.

Prints the best settings on the whole corpus, the category-held-out figure, and the shipped constants'
figures (`_engine.ENSEMBLE_SETTINGS`). One global setting for every series; no labels at run time.

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
    settings = [dict(shipped, **dict(zip(GRID, values))) for values in itertools.product(*GRID.values())]
    fused = [{f: fuse(parts[f][0], parts[f][1], s) for f in files} for s in settings]

    ranked = sorted(range(len(settings)), key=lambda k: -standard_at_half(fused[k], windows, files))
    print(f"grid of {len(settings)} settings on {len(files)} files; best by standard at 0.5:")
    for k in ranked[:5]:
        print(f"  {standard_at_half(fused[k], windows, files):6.2f}  {[settings[k][g] for g in GRID]}")

    held_out: dict[str, list[float]] = {}
    for category in sorted({f.split("/")[0] for f in files}):
        train = [f for f in files if not f.startswith(category + "/")]
        best = max(range(len(settings)), key=lambda k: standard_at_half(fused[k], windows, train))
        print(f"  without {category}: {[settings[best][g] for g in GRID]}")
        held_out.update({f: fused[best][f] for f in files if f.startswith(category + "/")})
    print(f"leave-one-category-out standard at 0.5: {standard_at_half(held_out, windows, files):.2f}")

    mine = {f: fuse(parts[f][0], parts[f][1], shipped) for f in files}
    report = score_corpus([ScoredSeries(f, mine[f], windows[f]) for f in files])
    fixed = score_corpus([ScoredSeries(f, mine[f], windows[f]) for f in files], threshold=0.5)
    print(f"shipped {[shipped[g] for g in GRID]}:")
    for best, at_half in zip(report.results, fixed.results):
        print(f"  {best.profile.name}: {best.normalised:.2f} (at 0.5: {at_half.normalised:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
