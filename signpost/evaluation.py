"""The one place match quality is scored: predicted clusters against a truth file.

Pair counts come from cluster contingency counts, never from enumerating pairs: with
n(p, t) events in predicted cluster p and true child t, true positives are the sum of
C(n(p, t), 2), predicted pairs the sum over p of C(|p|, 2), true pairs the sum over t of
C(|t|, 2). Memory is O(events). A ratio whose denominator is zero (nothing claimed) is 1.0.

Predictions are `signpost match-file` lines, {"event_id", "child_id", ...}; a null child_id
is a rejected event: counted, not scored. Truth lines are either {"event_id", "child_id"}
(optionally "alias": true) or {"hard_negative": [child_a, child_b], "kind": "twin"}.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, computed_field

__all__ = [
    "AliasOutcome",
    "Evaluation",
    "HardNegativeOutcome",
    "PairCounts",
    "PrecisionRecall",
    "Truth",
    "evaluate",
    "evaluate_files",
    "format_report",
    "is_event_file",
    "read_predictions",
    "read_truth",
]

HARD_NEGATIVE_KINDS = ("twin", "sibling", "namesake")


def pairs(n: int) -> int:
    """C(n, 2): the number of unordered pairs among n items."""
    return n * (n - 1) // 2


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, 1.0 when nothing was claimed (denominator 0)."""
    return numerator / denominator if denominator else 1.0


def f1(precision: float, recall: float) -> float:
    """The harmonic mean of precision and recall; 0.0 when both are 0."""
    total = precision + recall
    return 2 * precision * recall / total if total else 0.0


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PrecisionRecall(_Frozen):
    precision: float
    recall: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def f1(self) -> float:
        return f1(self.precision, self.recall)


class PairCounts(_Frozen):
    """Pairwise counts: pairs in one predicted and one true cluster, in either, in both."""

    true_positive: int
    predicted: int
    true: int


class HardNegativeOutcome(_Frozen):
    """Hard-negative child pairs of one kind: how many ended with events in one cluster."""

    kind: str
    pairs: int
    merged: int
    unscored: int = 0  # pairs where a child has no scored event

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rate(self) -> float:
        return self.merged / self.pairs if self.pairs else 0.0


class AliasOutcome(_Frozen):
    """Alias events: linked = in one predicted cluster with an event of their child that is
    not itself an alias event (the alias record's own later events do not count)."""

    events: int
    linked: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def not_linked(self) -> int:
        return self.events - self.linked


class Evaluation(_Frozen):
    """Every figure of one scoring run; `pairwise` and `bcubed` are over scored events."""

    predictions: int  # lines read from the predictions file, after de-duplication
    rejected: int  # child_id null: counted, excluded from scoring
    scored: int  # in predictions (not rejected) and in truth
    not_in_truth: int  # predicted event ids the truth does not know
    missing: int  # truth event ids with no prediction line
    duplicate_predictions: int  # repeated event ids (the last line wins)
    true_clusters: int
    predicted_clusters: int
    pair_counts: PairCounts
    pairwise: PrecisionRecall
    bcubed: PrecisionRecall
    hard_negatives: list[HardNegativeOutcome]
    alias: AliasOutcome


@dataclass
class Truth:
    """The truth file in memory: each event's child, alias events, hard-negative pairs."""

    child_of: dict[str, str] = field(default_factory=dict)
    aliases: set[str] = field(default_factory=set)
    hard_negatives: list[tuple[str, str, str]] = field(default_factory=list)  # (a, b, kind)


def _json_lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            value = json.loads(line)
            if not isinstance(value, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object")
            yield value


def _add_truth_line(truth: Truth, row: Mapping[str, Any], where: str) -> None:
    if "hard_negative" in row:
        a, b = (str(x) for x in row["hard_negative"])
        truth.hard_negatives.append((a, b, str(row.get("kind", "other"))))
    elif "event_id" in row and row.get("child_id") is not None:
        event_id = str(row["event_id"])
        truth.child_of[event_id] = str(row["child_id"])
        if row.get("alias") is True:
            truth.aliases.add(event_id)
    else:
        raise ValueError(f"{where}: a truth line needs event_id and child_id, or hard_negative")


def read_truth(path: Path) -> Truth:
    """Read a truth JSONL file (event lines and hard-negative lines, in any order)."""
    truth = Truth()
    for number, row in enumerate(_json_lines(path), start=1):
        _add_truth_line(truth, row, f"{path}:{number}")
    return truth


def read_predictions(path: Path) -> Iterator[tuple[str, str | None]]:
    """(event_id, child_id or None) per `match-file` output line, in file order."""
    for number, row in enumerate(_json_lines(path), start=1):
        if "event_id" not in row or "child_id" not in row:
            raise ValueError(f"{path}:{number}: a prediction line needs event_id and child_id")
        child = row["child_id"]
        yield str(row["event_id"]), None if child is None else str(child)


def is_event_file(path: Path) -> bool:
    """True when the file's first line is a contact event rather than a prediction."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                return isinstance(row, dict) and "schema_version" in row
    return False


@dataclass
class _Tally:
    """Contingency counts of scored events: cell (predicted, true) and its margins."""

    cells: Counter[tuple[str, str]] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)
    true: Counter[str] = field(default_factory=Counter)

    def add(self, predicted: str, true: str) -> None:
        self.cells[predicted, true] += 1
        self.predicted[predicted] += 1
        self.true[true] += 1

    def pair_counts(self) -> PairCounts:
        return PairCounts(true_positive=sum(pairs(n) for n in self.cells.values()),
                          predicted=sum(pairs(n) for n in self.predicted.values()),
                          true=sum(pairs(n) for n in self.true.values()))

    def bcubed(self) -> PrecisionRecall:
        """Mean over events of |p ∩ t| / |p| and |p ∩ t| / |t|, summed per cell."""
        events = sum(self.cells.values())
        if not events:
            return PrecisionRecall(precision=1.0, recall=1.0)
        precision = sum(n * n / self.predicted[p] for (p, _), n in self.cells.items())
        recall = sum(n * n / self.true[t] for (_, t), n in self.cells.items())
        return PrecisionRecall(precision=precision / events, recall=recall / events)


def _dedupe(predictions: Iterable[tuple[str, str | None]]) -> tuple[dict[str, str | None], int]:
    latest: dict[str, str | None] = {}
    duplicates = 0
    for event_id, child_id in predictions:
        duplicates += event_id in latest
        latest[event_id] = child_id
    return latest, duplicates


def _pairwise(counts: PairCounts) -> PrecisionRecall:
    return PrecisionRecall(precision=ratio(counts.true_positive, counts.predicted),
                           recall=ratio(counts.true_positive, counts.true))


def _hard_negatives(truth: Truth, clusters_of: Mapping[str, set[str]]
                    ) -> list[HardNegativeOutcome]:
    tally: dict[str, list[int]] = {kind: [0, 0, 0] for kind in HARD_NEGATIVE_KINDS}
    for a, b, kind in truth.hard_negatives:
        counts = tally.setdefault(kind, [0, 0, 0])
        if a not in clusters_of or b not in clusters_of:
            counts[2] += 1
            continue
        counts[0] += 1
        counts[1] += bool(clusters_of[a] & clusters_of[b])
    return [HardNegativeOutcome(kind=k, pairs=c[0], merged=c[1], unscored=c[2])
            for k, c in tally.items()]


def _alias(truth: Truth, scored: Mapping[str, str]) -> AliasOutcome:
    plain: Counter[tuple[str, str]] = Counter(
        (predicted, truth.child_of[e]) for e, predicted in scored.items()
        if e not in truth.aliases)
    events = linked = 0
    for event_id in truth.aliases:
        if event_id in scored:
            events += 1
            linked += plain[scored[event_id], truth.child_of[event_id]] >= 1
    return AliasOutcome(events=events, linked=linked)


def evaluate(predictions: Iterable[tuple[str, str | None]], truth: Truth) -> Evaluation:
    """Score (event_id, child_id | None) predictions against the truth."""
    latest, duplicates = _dedupe(predictions)
    tally = _Tally()
    scored: dict[str, str] = {}
    clusters_of: defaultdict[str, set[str]] = defaultdict(set)
    rejected = not_in_truth = 0
    for event_id, child_id in latest.items():
        if child_id is None:
            rejected += 1
        elif event_id not in truth.child_of:
            not_in_truth += 1
        else:
            true_child = truth.child_of[event_id]
            tally.add(child_id, true_child)
            scored[event_id] = child_id
            clusters_of[true_child].add(child_id)
    counts = tally.pair_counts()
    return Evaluation(
        predictions=len(latest), rejected=rejected, scored=len(scored),
        not_in_truth=not_in_truth, missing=sum(e not in latest for e in truth.child_of),
        duplicate_predictions=duplicates, true_clusters=len(tally.true),
        predicted_clusters=len(tally.predicted), pair_counts=counts,
        pairwise=_pairwise(counts), bcubed=tally.bcubed(),
        hard_negatives=_hard_negatives(truth, clusters_of), alias=_alias(truth, scored))


def evaluate_files(predictions: Path, truth: Path) -> Evaluation:
    """Score a `match-file` output file against a truth file."""
    return evaluate(read_predictions(predictions), read_truth(truth))


def _events_lines(e: Evaluation) -> list[str]:
    lines = [f"events      {e.scored} scored, {e.rejected} rejected, {e.missing} missing, "
             f"{e.not_in_truth} not in truth",
             f"clusters    {e.true_clusters} true, {e.predicted_clusters} predicted"]
    if e.missing or e.not_in_truth or e.duplicate_predictions:
        lines.append(f"WARNING     predictions and truth disagree on events "
                     f"({e.duplicate_predictions} duplicate prediction lines)")
    return lines


def _metric_lines(e: Evaluation) -> list[str]:
    c = e.pair_counts
    rows = [f"{'':12}{'precision':>10}{'recall':>10}{'F1':>10}"]
    for name, m in (("pairwise", e.pairwise), ("B-cubed", e.bcubed)):
        rows.append(f"{name:12}{m.precision:>10.4f}{m.recall:>10.4f}{m.f1:>10.4f}")
    rows.append(f"pairs       {c.true_positive} correct of {c.predicted} predicted, "
                f"{c.true} true")
    return rows


def _risk_lines(e: Evaluation) -> list[str]:
    known = [h for h in e.hard_negatives if h.pairs or h.unscored]
    rows = [f"{'hard negatives':16}{'merged':>8}{'pairs':>8}{'rate':>9}"] if known else [
        "hard negatives  none in truth"]
    for h in known:
        unscored = f"  ({h.unscored} unscored)" if h.unscored else ""
        rows.append(f"  {h.kind:14}{h.merged:>8}{h.pairs:>8}{h.rate:>9.2%}{unscored}")
    a = e.alias
    rows.append(f"alias events    {a.linked} linked, {a.not_linked} not linked, of {a.events}"
                if a.events else "alias events    none in truth")
    return rows


def format_report(evaluation: Evaluation) -> str:
    """A compact, aligned table for the terminal."""
    return "\n".join([*_events_lines(evaluation), "", *_metric_lines(evaluation), "",
                      *_risk_lines(evaluation)])
