"""The one place an event's candidates become a decision: link, merge, review or new child.

Pure. Pairs are banded by the two thresholds, then the rules of DESIGN §5 cap the band:
- twins: two records at one agency, different record ids, same birth date, given names that
  disagree with no explanation: never the same child;
- siblings: given name and birth date both disagree and no NHS number agrees: not a link;
- alias: a given name that disagrees with no explanation (not a typo, nickname,
  transliteration, middle or other name, or placeholder) while the rest agrees: review,
  never an automatic link.
An agreeing NHS number overrides all three.
A child's band is the best band among its records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from schemas import LinkOutcome
from services.matcher.score import ScoredPair
from services.matcher.standardise import Features

__all__ = ["Band", "Candidate", "Decision", "band_of", "decide", "discrepancies"]

_GIVEN_DISAGREES = {"else"}  # every other level explains a difference (typo, nickname, ...)
_DOB_AGREES = {"exact", "day_month_swapped"}


class Band(IntEnum):
    never = 0
    none = 1
    review = 2
    link = 3


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


def _rule(event: Features, cand: Candidate) -> tuple[Band, str | None]:
    """The band cap a rule puts on this pair, and the rule's name."""
    s = cand.scored
    given, dob = s.level("given_name"), s.level("date_of_birth")
    nhs_agrees = s.level("nhs_number") == "exact"
    if given in _GIVEN_DISAGREES and not nhs_agrees:
        if (dob == "exact" and event.agency_id == cand.record.agency_id
                and event.agency_record_id != cand.record.agency_record_id):
            return Band.never, "twins"
        if dob not in _DOB_AGREES:
            return Band.none, "siblings"
        return Band.review, "alias"
    return Band.link, None


def band_of(
    event: Features, cand: Candidate, upper: float, lower: float
) -> tuple[Band, str | None]:
    """The pair's band from its score, capped by the rules."""
    total = cand.scored.total
    by_score = Band.link if total >= upper else Band.review if total >= lower else Band.none
    cap, rule = _rule(event, cand)
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
    best: dict[str, tuple[Band, Candidate, str | None]] = {}
    for cand in candidates:
        band, rule = band_of(event, cand, upper, lower)
        current = best.get(cand.child_id)
        if current is None or (band, cand.scored.total) > (current[0], current[1].scored.total):
            best[cand.child_id] = (band, cand, rule)
    # A child with any 'never' pair (twins at one agency) cannot take this event.
    for cand in candidates:
        if band_of(event, cand, upper, lower)[0] is Band.never:
            best[cand.child_id] = (Band.never, best[cand.child_id][1], "twins")
    return best


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
        cand = linked[0][1]
        others = tuple(t[1].child_id for t in linked[1:])
        return Decision(LinkOutcome.merged, cand.child_id, cand, merge_from=others,
                        discrepancies=discrepancies(cand.scored))
    if ranked and ranked[0][0] is Band.review:
        _, cand, rule = ranked[0]
        return Decision(LinkOutcome.review, None, cand, rule=rule)
    best = ranked[0][1] if ranked else None
    rule = ranked[0][2] if ranked else None
    return Decision(LinkOutcome.new_child, None, best, rule=rule)
