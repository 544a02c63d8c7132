"""PNG plot of HTM results: value, prediction, anomaly score and the points over a threshold."""

from __future__ import annotations

import os

from .schema import ANOMALY_SCORE, PREDICTION, VALUE

__all__ = ["plot_results"]


def plot_results(results, path: str | os.PathLike, *, threshold: float = 0.5, title: str | None = None) -> int:
    """Draw ``results`` (a list of :class:`HtmModelResults`) to a PNG at ``path``.

    Top panel: value, prediction (if any) and, in red, the points whose anomaly score is over
    ``threshold``; bottom panel: anomaly score and the threshold. Returns how many points were over it.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not results:
        raise ValueError("no results to plot (run backfill first, or widen --since/--until)")
    times = [r.time for r in results]
    flagged = [r for r in results if r.anomaly_score is not None and r.anomaly_score > threshold]

    figure = Figure(figsize=(12, 6), dpi=100)
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot(times, [r.value for r in results], lw=0.8, label=VALUE)
    if any(r.prediction is not None for r in results):
        top.plot(times, [r.prediction for r in results], lw=0.8, alpha=0.7, label=PREDICTION)
    if flagged:
        top.scatter(
            [r.time for r in flagged],
            [r.value for r in flagged],
            color="red",
            s=18,
            zorder=3,
            label=f"{ANOMALY_SCORE} > {threshold}",
        )
    top.legend(loc="upper left")
    top.set_ylabel(VALUE)
    if title:
        top.set_title(title)
    bottom.plot(times, [r.anomaly_score for r in results], lw=0.8, color="tab:purple", label=ANOMALY_SCORE)
    bottom.axhline(threshold, color="red", lw=0.8, ls="--")
    bottom.set_ylim(0, 1.05)
    bottom.set_ylabel(ANOMALY_SCORE)
    bottom.set_xlabel("time (UTC)")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(os.fspath(path), format="png")
    return len(flagged)
