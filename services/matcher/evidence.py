"""The one place threshold evidence is computed: P/R/F1 at every candidate threshold, review load.

Pure. Labelled pairs (score, match) come from operators' review verdicts (review.py) or from a
truth file scored with score.Scorer (`pairs_from_truth`). A pair is predicted a match when its
score reaches the threshold (upper). The expected review queue per day at a setting is the
share of events whose best candidate scores in [lower, upper), times events per day; the
share comes from a sample of events' best scores (the matcher keeps the newest, Index).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from services.matcher.blocking import block_keys
from services.matcher.model import LinkageModel
from services.matcher.review import LabelledPair
from services.matcher.score import Scorer
from services.matcher.standardise import Features
from signpost.evaluation import f1, ratio

__all__ = ["Evidence", "SweepRow", "build_evidence", "candidate_thresholds", "pairs_from_truth",
           "review_per_day", "sweep_row"]

THRESHOLD_STEP = 0.5  # candidate thresholds every half bit of match weight
MAX_CANDIDATES = 80
PAIRS_PER_KEY = 50  # as the engine: the newest records per blocking key


class SweepRow(BaseModel):
    """Figures at one threshold used as upper (lower held where it is)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float
    true_positive: int
    false_positive: int
    false_negative: int
    precision: float
    recall: float
    f1: float
    review_per_day: float


class Evidence(BaseModel):
    """Everything `signpost thresholds evaluate` prints and the console previews."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pairs: int
    matches: int
    upper: float
    lower: float
    events_per_day: float
    at_current: SweepRow
    rows: list[SweepRow]


def review_per_day(scores: Sequence[float | None], upper: float, lower: float,
                   events_per_day: float) -> float:
    """Events a day expected to wait for review: their best score is in [lower, upper)."""
    if not scores:
        return 0.0
    waiting = sum(1 for s in scores if s is not None and lower <= s < upper)
    return events_per_day * waiting / len(scores)


def sweep_row(pairs: Sequence[LabelledPair], threshold: float, lower: float,
              scores: Sequence[float | None], events_per_day: float) -> SweepRow:
    tp = sum(1 for p in pairs if p.match and p.score >= threshold)
    fp = sum(1 for p in pairs if not p.match and p.score >= threshold)
    fn = sum(1 for p in pairs if p.match and p.score < threshold)
    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    return SweepRow(threshold=threshold, true_positive=tp, false_positive=fp,
                    false_negative=fn, precision=precision, recall=recall,
                    f1=f1(precision, recall),
                    review_per_day=review_per_day(scores, threshold, min(lower, threshold),
                                                  events_per_day))


def candidate_thresholds(pairs: Sequence[LabelledPair], *extra: float) -> list[float]:
    """Every THRESHOLD_STEP from the lowest to the highest score (at most MAX_CANDIDATES)."""
    values = [p.score for p in pairs] + list(extra)
    if not values:
        return list(extra)
    low, high = min(values), max(values)
    step = max(THRESHOLD_STEP, (high - low) / MAX_CANDIDATES)
    count = int((high - low) / step) + 2
    return sorted({round(low + i * step, 2) for i in range(count)} | set(extra))


def build_evidence(pairs: Sequence[LabelledPair], upper: float, lower: float,
                   scores: Sequence[float | None], events_per_day: float) -> Evidence:
    """The sweep over candidate thresholds and the figures at the given setting."""
    rows = [sweep_row(pairs, t, lower, scores, events_per_day)
            for t in candidate_thresholds(pairs, upper)]
    return Evidence(pairs=len(pairs), matches=sum(p.match for p in pairs), upper=upper,
                    lower=lower, events_per_day=events_per_day,
                    at_current=sweep_row(pairs, upper, lower, scores, events_per_day),
                    rows=rows)


def pairs_from_truth(records: Iterable[Features], child_of: dict[str, str],
                     model: LinkageModel) -> tuple[list[LabelledPair], list[float | None]]:
    """Score, in arrival order, each record against earlier ones sharing a blocking key.

    Returns the labelled pairs (records the truth knows) and each record's best score.
    """
    seen: dict[str, list[Features]] = defaultdict(list)
    pairs: list[LabelledPair] = []
    best: list[float | None] = []
    for rec in records:
        others = {o.event_id: o for key in block_keys(rec) for o in seen[key][-PAIRS_PER_KEY:]}
        top: float | None = None
        score = Scorer(rec, model)
        for other in others.values():
            total = score(other).total
            top = total if top is None else max(top, total)
            if rec.event_id in child_of and other.event_id in child_of:
                pairs.append(LabelledPair(score=total, source="truth",
                                          match=child_of[rec.event_id] == child_of[other.event_id]))
        best.append(top)
        for key in block_keys(rec):
            seen[key].append(rec)
    return pairs, best
