"""The one place an event's candidates become a decision: link, merge, review or new child.

Pure. Each pair is banded by the two thresholds and capped by the rules (rules.py); a child's
band is its best record's band, except that one 'never' pair (twins) shuts the child out.
One child at link band: link. Several: merge them. Else the best at review band: review.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas import LinkOutcome
from services.matcher.rules import Band, can_merge, cap_of
from services.matcher.score import ScoredPair
from services.matcher.standardise import Features

__all__ = ["Band", "Candidate", "Decision", "band_of", "decide", "discrepancies"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One stored record, the child it now belongs to, and its score against the event."""

    record: Features
    child_id: str
    scored: ScoredPair


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: LinkOutcome
    child_id: str | None  # None: a new child is to be created
    best: Candidate | None = None
    merge_from: tuple[str, ...] = ()
    rule: str | None = None
    discrepancies: tuple[str, ...] = field(default=())


def band_of(
    event: Features, cand: Candidate, upper: float, lower: float
) -> tuple[Band, str | None]:
    """The pair's band from its score, capped by the rules."""
    total = cand.scored.total
    by_score = Band.link if total >= upper else Band.review if total >= lower else Band.none
    cap, rule = cap_of(event, cand.record, cand.scored)
    if cap < by_score:
        return cap, rule
    return by_score, None


def discrepancies(scored: ScoredPair) -> tuple[str, ...]:
    """Which identifying fields differ across a link (for identity_discrepancy alerts)."""
    out = []
    if scored.level("given_name") not in {"exact", "null"} or scored.level("family_name") not in {
        "exact", "null"
    }:
        out.append("name")
    if scored.level("date_of_birth") not in {"exact", "null"}:
        out.append("date_of_birth")
    if scored.level("address") not in {"exact", "null"}:
        out.append("address")
    return tuple(out)


def _best_per_child(
    event: Features, candidates: list[Candidate], upper: float, lower: float
) -> dict[str, tuple[Band, Candidate, str | None]]:
    """Per child: its best (band, record, rule); a child with any 'never' pair is 'never'."""
    best: dict[str, tuple[Band, Candidate, str | None]] = {}
    barred: dict[str, str | None] = {}
    for cand in candidates:
        band, rule = band_of(event, cand, upper, lower)
        if band is Band.never:
            barred[cand.child_id] = rule
        current = best.get(cand.child_id)
        if current is None or (band, cand.scored.total) > (current[0], current[1].scored.total):
            best[cand.child_id] = (band, cand, rule)
    for child_id, rule in barred.items():
        best[child_id] = (Band.never, best[child_id][1], rule)
    return best


def _several(linked: list[tuple[Band, Candidate, str | None]]) -> Decision:
    """Several children at link band: join the best the event really bridges, merge the rest.

    Only a pair that may bridge two children (rules.can_merge: identity evidence, or a clearly
    agreeing given name and the same birth date) may choose among them: the event joins the
    best such pair's child and merges the other such children. A pair on a placeholder,
    missing or mistyped given name cannot choose; if no pair can, the event is ambiguous
    (which twin is 'Baby Smith'?) and goes to review. A higher-scoring pair that cannot bridge
    (a typo of the name) does not stop an exact pair from linking: alone, that pair would link.
    """
    bridging = [t[1] for t in linked if can_merge(t[1].scored)]
    if not bridging:
        return Decision(LinkOutcome.review, None, linked[0][1], rule="ambiguous")
    cand = bridging[0]
    others = tuple(c.child_id for c in bridging[1:])
    outcome = LinkOutcome.merged if others else LinkOutcome.linked
    return Decision(outcome, cand.child_id, cand, merge_from=others,
                    discrepancies=discrepancies(cand.scored))


def decide(
    event: Features,
    candidates: list[Candidate],
    upper: float,
    lower: float,
    cannot_link: frozenset[str] = frozenset(),
) -> Decision:
    """Link to the one child above upper; merge several; else review or a new child."""
    per_child = _best_per_child(
        event, [c for c in candidates if c.child_id not in cannot_link], upper, lower
    )
    ranked = sorted(per_child.values(), key=lambda t: (t[0], t[1].scored.total), reverse=True)
    linked = [t for t in ranked if t[0] is Band.link]
    if len(linked) == 1:
        cand = linked[0][1]
        return Decision(LinkOutcome.linked, cand.child_id, cand,
                        discrepancies=discrepancies(cand.scored))
    if len(linked) > 1:
        return _several(linked)
    if ranked and ranked[0][0] is Band.review:
        _, cand, rule = ranked[0]
        return Decision(LinkOutcome.review, None, cand, rule=rule)
    best = ranked[0][1] if ranked else None
    rule = ranked[0][2] if ranked else None
    return Decision(LinkOutcome.new_child, None, best, rule=rule)
