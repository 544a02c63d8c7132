"""Both detectors on a NAB corpus (issue: a detector beyond every published NAB result). Prints:
- the NAB table of `numenta` (NuPIC's, the default) and `ensemble`: standard, low FP and low FN at NAB's
  optimised thresholds, and all three at the fixed threshold 0.5 (the operator's alert level);
- records/s of one ensemble model on one core (machine_temperature_system_failure) beside numenta's;
- RSS per ensemble model after 20,000 records of that file, and its checkpoint size.

Default corpus: the repository's 31-file subset (tests/fixtures/nab); `--data DIR` for NAB's full corpus
(labels: combined_windows.json beside DIR unless `--labels`).

    python -m bench.bench_nab_detectors [--data DIR] [--labels FILE] [--jobs 2] [--skip-nab]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.procstat import models_rss
from influxhtm.detect import nab_detector, read_series
from influxhtm.htm.params import DETECTORS
from influxhtm.nab import run_corpus
from influxhtm.nab_score import score_results

NAB_FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "nab"
MACHINE = Path("realKnownCause") / "machine_temperature_system_failure.csv"
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")


def nab_table(data: Path, labels: Path, jobs: int) -> None:
    print("| detector | standard | low FP | low FN | standard @0.5 | low FP @0.5 | low FN @0.5 | wall |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for detector in DETECTORS:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            run_corpus(str(data), out, name=detector, jobs=jobs, detector=detector)
            wall = time.perf_counter() - start
            results = str(Path(out) / detector)
            best = score_results(str(data), str(labels), results, detector=detector).normalised()
            fixed = score_results(str(data), str(labels), results, detector=detector, threshold=0.5).normalised()
        cells = [f"{best[p]:.2f}" for p in PROFILES] + [f"{fixed[p]:.2f}" for p in PROFILES]
        print(f"| {detector} | {' | '.join(cells)} | {wall:.0f} s |", flush=True)


def speed(path: Path, detector: str) -> float:
    series = read_series(str(path))
    model = nab_detector(series, detector=detector)
    start = time.perf_counter()
    for t, v in zip(series.times, series.values):
        model.handle(t, v)
    return len(series.values) / (time.perf_counter() - start)


def memory(path: Path, models: int, records: int) -> None:
    series = read_series(str(path))
    points = list(zip(series.times[:records], series.values[:records]))
    m = models_rss(lambda: nab_detector(series, detector="ensemble"), points, lambda d, p: d.handle(*p), models)
    blob = m.models[0].save()
    print(
        f"memory: {models} ensemble models in one process after a first one: {m.grown:.2f} MB RSS per model after "
        f"{len(points)} records of {path.name}; checkpoint {len(blob) / 1e6:.2f} MB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=NAB_FIXTURES / "data", help="NAB data dir (<category>/<file>.csv)")
    parser.add_argument("--labels", type=Path, help="NAB label windows (default: combined_windows.json beside --data)")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the corpus runs")
    parser.add_argument("--models", type=int, default=4, help="models for the memory figure")
    parser.add_argument("--records", type=int, default=20000, help="records per model for the memory figure")
    parser.add_argument("--skip-nab", action="store_true", help="only speed and memory")
    parser.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    machine = args.data / MACHINE
    if args.memory_only:
        memory(machine, args.models, args.records)
        return 0
    if not args.skip_nab:
        print(f"NAB scores on {args.data} (normalised; 'standard' etc. at NAB's optimised threshold):")
        nab_table(args.data, args.labels or args.data.parent / "combined_windows.json", args.jobs)
    rates = {detector: speed(machine, detector) for detector in DETECTORS}
    print(
        f"speed: {machine.name}, one model, Python handle() per record: "
        + ", ".join(f"{d} {r:,.0f} records/s" for d, r in rates.items())
    )
    # a fresh process, so that memory freed by the runs above cannot hide the growth
    subprocess.run(
        [sys.executable, "-m", "bench.bench_nab_detectors", "--memory-only", "--data", str(args.data)]
        + ["--models", str(args.models), "--records", str(args.records)],
        check=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
