"""The one place threshold charts are drawn (matplotlib, Agg backend: no display, PNG bytes).

Three charts from an Evidence and its labelled pairs: the precision-recall curve, score
histograms of true matches and non-matches with the thresholds marked, and the expected review
queue per day at each candidate upper threshold.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from services.matcher.evidence import Evidence
from services.matcher.review import LabelledPair

__all__ = ["CHARTS", "all_charts_png", "histogram_png", "pr_curve_png", "review_load_png"]

DPI = 90
SIZE_IN = (6.0, 3.6)
BINS = 40


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return buf.getvalue()


def _pr(ax: Axes, ev: Evidence) -> None:
    ax.plot([r.recall for r in ev.rows], [r.precision for r in ev.rows], marker=".")
    cur = ev.at_current
    ax.scatter([cur.recall], [cur.precision], color="#b00", zorder=3,
               label=f"upper {ev.upper:g}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall over thresholds",
           xlim=(0, 1.02), ylim=(0, 1.02))
    ax.legend(loc="lower left")


def _hist(ax: Axes, ev: Evidence, pairs: Sequence[LabelledPair]) -> None:
    matches = [p.score for p in pairs if p.match]
    non = [p.score for p in pairs if not p.match]
    ax.hist([non, matches], bins=BINS, label=["non-matches", "matches"],
            color=["#888", "#06c"], stacked=False)
    ax.axvline(ev.upper, color="#b00", linestyle="--", label=f"upper {ev.upper:g}")
    ax.axvline(ev.lower, color="#e80", linestyle=":", label=f"lower {ev.lower:g}")
    ax.set(xlabel="match weight", ylabel="pairs", title="Scores of labelled pairs")
    ax.legend()


def _load(ax: Axes, ev: Evidence) -> None:
    ax.plot([r.threshold for r in ev.rows], [r.review_per_day for r in ev.rows], marker=".")
    ax.axvline(ev.upper, color="#b00", linestyle="--", label=f"upper {ev.upper:g}")
    ax.set(xlabel="upper threshold", ylabel="items per day",
           title=f"Expected review queue (lower {ev.lower:g}, {ev.events_per_day:g} events/day)")
    ax.legend()


def _one(draw: str, ev: Evidence, pairs: Sequence[LabelledPair]) -> bytes:
    fig = Figure(figsize=SIZE_IN)
    ax = fig.subplots()
    if draw == "pr":
        _pr(ax, ev)
    elif draw == "histogram":
        _hist(ax, ev, pairs)
    else:
        _load(ax, ev)
    return _png(fig)


def pr_curve_png(ev: Evidence) -> bytes:
    return _one("pr", ev, [])


def histogram_png(ev: Evidence, pairs: Sequence[LabelledPair]) -> bytes:
    return _one("histogram", ev, pairs)


def review_load_png(ev: Evidence) -> bytes:
    return _one("load", ev, [])


def _pr_of(ev: Evidence, pairs: Sequence[LabelledPair]) -> bytes:
    return pr_curve_png(ev)


def _load_of(ev: Evidence, pairs: Sequence[LabelledPair]) -> bytes:
    return review_load_png(ev)


#: file name -> how to draw it, for `signpost thresholds evaluate --charts DIR`.
CHARTS: dict[str, Callable[[Evidence, Sequence[LabelledPair]], bytes]] = {
    "precision_recall.png": _pr_of, "score_histogram.png": histogram_png,
    "review_queue_per_day.png": _load_of}


def all_charts_png(ev: Evidence, pairs: Sequence[LabelledPair]) -> bytes:
    """The three charts side by side, for the console's thresholds page."""
    fig = Figure(figsize=(SIZE_IN[0] * 3, SIZE_IN[1]))
    pr, hist, load = fig.subplots(1, 3)
    _pr(pr, ev)
    _hist(hist, ev, pairs)
    _load(load, ev)
    return _png(fig)
