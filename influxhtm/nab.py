"""Runs the detector over a NAB-style corpus and writes NAB's results layout:
`DATA_DIR/<category>/<file>.csv` → `OUT/<NAME>/<category>/<NAME>_<file>.csv`."""

import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from influxhtm.detect import detect, nab_detector, read_series
from influxhtm.htm.params import DEFAULT_DETECTOR, DEFAULT_TAIL, DEFAULT_TM


def corpus_files(data_dir: str) -> list[tuple[str, str]]:
    """(category, file name) of every CSV one level below `data_dir`, sorted."""
    root = Path(data_dir)
    if not root.is_dir():
        raise ValueError(f"{data_dir}: not a directory")
    found = sorted((p.parent.name, p.name) for p in root.glob("*/*.csv"))
    if not found:
        raise ValueError(f"{data_dir}: no <category>/<file>.csv files")
    return found


def _run_one(job) -> tuple[str, int]:
    data_dir, out_dir, name, category, filename, tail, tm, detector = job
    series = read_series(os.path.join(data_dir, category, filename))
    target = Path(out_dir) / name / category
    target.mkdir(parents=True, exist_ok=True)
    detect(
        series,
        str(target / f"{name}_{filename}"),
        nab_detector(series, tail=tail, tm=tm, detector=detector),
        progress=False,
    )
    return f"{category}/{filename}", len(series.values)


def run_corpus(
    data_dir: str,
    out_dir: str,
    *,
    name: str = "influxhtm",
    jobs: int = 1,
    tail: str = DEFAULT_TAIL,
    tm: str = DEFAULT_TM,
    detector: str = DEFAULT_DETECTOR,
    cluster: str | None = None,
) -> int:
    """Scores every file (in `jobs` processes, or as one Ray task per file on the cluster at `cluster`,
    whose nodes must all reach `data_dir` and `out_dir`); returns the number of records scored."""
    files = corpus_files(data_dir)
    data_dir, out_dir = os.path.abspath(data_dir), os.path.abspath(out_dir)  # the same on every node
    work = [(data_dir, out_dir, name, c, f, tail, tm, detector) for c, f in files]
    total = 0
    # Largest files first so the workers stay busy to the end.
    work.sort(key=lambda j: -os.path.getsize(os.path.join(j[0], j[3], j[4])))
    if cluster:
        from influxhtm.cluster.tasks import spread

        finished = spread(cluster, _run_one, work)
    else:
        finished = _in_processes(jobs, work)
    for done, ((label, rows), node) in enumerate(finished, start=1):
        total += rows
        where = f" (node {node[:12]})" if node else ""
        print(f"[{done}/{len(work)}] {label}: {rows} records{where}", file=sys.stderr)
    return total


def _in_processes(jobs: int, work: list) -> Iterator[tuple[tuple[str, int], str]]:
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        for result in pool.map(_run_one, work):
            yield result, ""
