"""The one engine behind both the matcher service and `signpost match-file`.

Engine.process(event) -> Result: standardise, block, score, decide, commit, alert. Idempotent
by event_id: processing an event again returns the stored result unchanged.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from schemas import Alert, LinkDecision, LinkOutcome, StandardisedEvent
from services.matcher.alerts import AlertContext, build_alerts
from services.matcher.blocking import block_keys
from services.matcher.cluster import Candidate, Decision, decide
from services.matcher.compare import TF_VALUES
from services.matcher.index import LOCK_TIMEOUT_S, ChildFacts, Index, PractitionerOnRecord
from services.matcher.model import LinkageModel
from services.matcher.review import priority, review_item
from services.matcher.score import score_pair
from services.matcher.standardise import Features, features
from services.matcher.stats import stats_bucket

__all__ = ["Engine", "Result", "Thresholds"]

Thresholds = Callable[[], tuple[float, float]]  # (upper, lower), read per event
LOCK_RENEW_S = LOCK_TIMEOUT_S / 3  # exclusive() renews the lock's timeout this often
MAX_CONSTRAINT_ROUNDS = 8  # cannot-link re-decisions per event; each drops >= 1 child


class Result(BaseModel):
    """What one event produced: its decision and its alerts. Stored for idempotency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: LinkDecision
    alerts: list[Alert]


def new_child_id() -> str:
    """A pseudonymous child id: random, so it says nothing about the child."""
    return f"C{uuid.uuid4().hex[:20]}"


class Engine:
    def __init__(self, index: Index, model: LinkageModel, thresholds: Thresholds | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 shared: bool = True) -> None:
        """`shared=False` skips the cross-process lock: only for a private key prefix."""
        self.index = index
        self.model = model
        self.thresholds = thresholds or (lambda: (model.upper, model.lower))
        self.clock = clock
        self.shared = shared
        self._held: Any = None  # the shared lock, while exclusive() holds it
        self._holder = 0  # the thread that holds it: exclusive() is per thread
        self._renewed = 0.0

    def process(self, std: StandardisedEvent) -> Result:
        if self._holds() or not self.shared:
            # Inside exclusive() (or a private prefix): nobody else decides meanwhile.
            self._keep_lock()
            return self._process_locked(std)  # its prefetch returns a stored result
        stored = self.index.stored_result(str(std.event.event_id))
        if stored is not None:
            return Result.model_validate_json(stored)
        with self.exclusive():
            return self.process(std)  # checks again: another matcher may have, meanwhile

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the matchers' shared lock for a run of events (a consumer's poll batch), so
        each event does not take and free it on its own; re-entrant. The lock's timeout is
        renewed as events go by, so a long batch never outlives it."""
        if self._holds() or not self.shared:
            yield
            return
        lock = self.index.lock()
        if not lock.acquire():
            raise TimeoutError("matcher lock not acquired")
        self._held, self._holder = lock, threading.get_ident()
        self._renewed = time.monotonic()
        try:
            yield
        finally:
            self._held, self._holder = None, 0
            lock.release()

    def _holds(self) -> bool:
        return self._held is not None and self._holder == threading.get_ident()

    def _keep_lock(self) -> None:
        if self._holds() and time.monotonic() - self._renewed > LOCK_RENEW_S:
            self._held.reacquire()
            self._renewed = time.monotonic()

    def _candidates(self, f: Features, ids: list[str], tf: dict[str, float],
                    population: int) -> list[Candidate]:
        records = self.index.records(ids)
        return [Candidate(r.features, r.child_id,
                          score_pair(f, r.features, self.model, tf, population))
                for r in records if r.features.event_id != f.event_id]

    def _process_locked(self, std: StandardisedEvent) -> Result:
        f = features(std)
        digests = [self.index.digest(m) for m in block_keys(f)]
        tf_values = {c: TF_VALUES[c](f) for c in self.model.tf_comparisons}
        stored, ids, population, tf, seq = self.index.prefetch(f.event_id, digests, tf_values)
        if stored is not None:  # decided already (a replay): the same result, unchanged
            return Result.model_validate_json(stored)
        candidates = self._candidates(f, ids, tf, population)
        # A correction is matched like any event (its old records vouch for its agency record)
        # and then replaces them: the wrong values are no longer held (DESIGN §7).
        superseded = self.index.superseded_by(f) if std.correction else []
        upper, lower = self.thresholds()
        facts = _Facts(self.index)
        d = self._decide(f, candidates, upper, lower, facts)
        child_id, merge_from = self._survivor(d, facts)
        before = [facts.of([c])[c].info for c in [child_id, *merge_from] if d.child_id]
        decision = self._link_decision(std, d, child_id, merge_from)
        practitioner = _practitioner(std)
        shielded = std.event.shielded or any(b.shielded for b in before)
        alerts = build_alerts(AlertContext(
            event_id=str(std.event.event_id), child_id=child_id, outcome=decision.outcome,
            discrepancies=d.discrepancies, agency_id=f.agency_id, agency_kind=f.agency_kind,
            practitioner=practitioner, before=tuple(before), shielded=shielded,
            now=decision.decided_at))
        result = Result(decision=decision, alerts=alerts)
        self.index.commit(features=f, digests=digests, child_id=child_id,
                          new_child=d.child_id is None, merge_from=merge_from,
                          practitioner=practitioner, shielded=std.event.shielded,
                          seq=seq, result_json=result.model_dump_json(),
                          tf_values=tf_values, outcome=decision.outcome.value,
                          review=_review(decision, (upper, lower)),
                          stats_bucket=stats_bucket(decision.decided_at),
                          score=decision.score, superseded=superseded)
        return result

    def _decide(self, f: Features, candidates: list[Candidate], upper: float,
                lower: float, facts: _Facts) -> Decision:
        """decide(), honouring operators' cannot-link constraints (rejected reviews, splits).

        The child the event would join bars its cannot-link children, and the event is
        decided again without them, until nothing more is barred; then merge partners barred
        from one another are dropped, the weaker ones first.
        """
        barred: frozenset[str] = frozenset()
        d = decide(f, candidates, upper, lower)
        for _ in range(MAX_CONSTRAINT_ROUNDS):
            if d.child_id is None:
                return d
            facts.of([d.child_id, *d.merge_from])  # one round trip for all involved
            more = barred | self._barred_by([d.child_id], facts)
            if more == barred:
                break
            barred = more
            d = decide(f, candidates, upper, lower, cannot_link=barred)
        return self._without_barred_merges(d, facts)

    def _barred_by(self, child_ids: list[str], facts: _Facts) -> frozenset[str]:
        """Children these must never join, as they stand now (after later merges)."""
        raw = {x for f in facts.of(child_ids).values() for x in f.cannot}
        return frozenset(self.index.resolve_many(list(raw)).values()) if raw else frozenset()

    def _without_barred_merges(self, d: Decision, facts: _Facts) -> Decision:
        if not d.merge_from or d.child_id is None:
            return d
        kept = [d.child_id]
        for other in d.merge_from:
            if (not self._barred_by([other], facts) & set(kept)
                    and other not in self._barred_by(kept, facts)):
                kept.append(other)
        if len(kept) - 1 == len(d.merge_from):
            return d
        outcome = LinkOutcome.merged if len(kept) > 1 else LinkOutcome.linked
        return dataclasses.replace(d, outcome=outcome, merge_from=tuple(kept[1:]))

    def _survivor(self, d: Decision, facts: _Facts) -> tuple[str, list[str]]:
        """The child id the event joins, and the children merged into it (oldest id kept)."""
        if d.child_id is None:
            return new_child_id(), []
        involved = [d.child_id, *d.merge_from]
        known = facts.of(involved)
        winner = min(involved, key=lambda c: (known[c].created, c))
        return winner, [c for c in involved if c != winner]

    def _link_decision(self, std: StandardisedEvent, d: Decision, child_id: str,
                       merge_from: list[str]) -> LinkDecision:
        best = d.best
        return LinkDecision(
            event_id=std.event.event_id,
            child_id=child_id,
            outcome=d.outcome,
            score=best.scored.total if best else None,
            prior=best.scored.prior if best else None,
            explanation=list(best.scored.explanation) if best else [],
            candidate_child_id=best.child_id if best else None,
            merged_child_ids=merge_from,
            discrepancies=list(d.discrepancies),
            rule=d.rule,
            model_version=self.model.model_version,
            decided_at=self.clock(),
        )


class _Facts:
    """The candidate children's facts as one event's decision reads them: each child fetched
    once, and all the children a step needs in one round trip."""

    def __init__(self, index: Index) -> None:
        self._index = index
        self._known: dict[str, ChildFacts] = {}

    def of(self, child_ids: list[str]) -> dict[str, ChildFacts]:
        missing = [c for c in dict.fromkeys(child_ids) if c not in self._known]
        if missing:
            self._known.update(self._index.child_facts(missing))
        return {c: self._known[c] for c in child_ids}


def _review(decision: LinkDecision,
            thresholds: tuple[float, float]) -> tuple[str, str, float] | None:
    """(id, JSON, priority) of the review item a `review` decision queues; else None."""
    if decision.outcome is not LinkOutcome.review or decision.candidate_child_id is None:
        return None
    item = review_item(decision, thresholds)
    return item.review_id, item.model_dump_json(), priority(item)


def _practitioner(std: StandardisedEvent) -> PractitionerOnRecord:
    p = std.event.practitioner
    return PractitionerOnRecord(id=p.id, name=p.name, role=p.role, email=p.email, phone=p.phone,
                                agency_id=std.event.agency.id,
                                agency_kind=std.event.agency.kind.value,
                                lead=p.lead_professional)
