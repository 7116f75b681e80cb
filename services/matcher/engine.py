"""The one engine behind both the matcher service and `signpost match-file`.

Engine.process(event) -> Result: standardise, block, score, decide, commit, alert. Idempotent
by event_id: processing an event again returns the stored result unchanged.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis
from pydantic import BaseModel, ConfigDict
from redis.exceptions import LockError

from schemas import Alert, LinkDecision, LinkOutcome, StandardisedEvent
from services.matcher.alerts import AlertContext, build_alerts
from services.matcher.candidates import Ranked, merge_ranked, ranked_candidates
from services.matcher.cluster import Candidate, Decision, decide
from services.matcher.compare import TF_VALUES
from services.matcher.index import (
    MATCHER_LOCK_TIMEOUT_S,
    TF_MIN_RECORDS,
    ChildFacts,
    ChildInfo,
    Index,
    PractitionerOnRecord,
    Prefetched,
    PrefetchRequest,
    StoredRecord,
)
from services.matcher.model import LinkageModel
from services.matcher.poison import INFRASTRUCTURE
from services.matcher.review import priority, review_item
from services.matcher.score import ScoredPair, Scorer
from services.matcher.standardise import Features, features
from services.matcher.stats import stats_bucket

__all__ = ["Engine", "Result", "Thresholds"]

Thresholds = Callable[[], tuple[float, float]]  # (upper, lower), read per event
LOCK_RENEW_S = MATCHER_LOCK_TIMEOUT_S / 3  # exclusive() renews the lock's timeout this often
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
        self._token: str | None = None  # the held lock's token: commits are fenced on it
        self._stale: tuple[Any, str] | None = None  # (lock, its token) held when Redis went

    def process(self, std: StandardisedEvent) -> Result:
        """One event: `process_many` of one, raising what the engine raised on it."""
        out = self.process_many([std])[0]
        if isinstance(out, Exception):
            raise out
        return out

    def process_many(self, stds: Sequence[StandardisedEvent]) -> list[Result | Exception]:
        """Each event's result, in order, each exactly as if the events were processed one at
        a time (tests/integration/test_engine_batch.py): a batch only saves round trips.

        An event the engine raises on is given back as its exception, and the others are
        decided without it (the service dead-letters it); an infrastructure error (a server
        away) raises, and nothing of the batch is written."""
        if not stds:
            return []
        if not (self._holds() or not self.shared):
            ids = [str(s.event.event_id) for s in stds]
            stored = self.index.stored_results(ids)
            if all(i in stored for i in ids):  # all decided already: no lock needed
                return [Result.model_validate_json(stored[i]) for i in ids]
            with self.exclusive():
                return self.process_many(stds)  # checks again, under the lock
        self._keep_lock()
        out: list[Result | Exception] = []
        for segment in _segments(stds):
            out.extend(self._isolated(segment))
        return out

    def _isolated(self, stds: list[StandardisedEvent]) -> list[Result | Exception]:
        """A segment's results; if one event raises, nothing of the segment was written, and
        each event is decided again alone, so only the one that raises is lost to the DLQ."""
        try:
            return list(self._segment(stds))
        except INFRASTRUCTURE:
            raise
        except Exception as exc:
            if len(stds) == 1:
                return [exc]
            return [r for std in stds for r in self._isolated([std])]

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the matchers' shared lock for a run of events (a consumer's poll batch), so
        each event does not take and free it on its own; re-entrant. The lock's timeout is
        renewed as events go by, so a long batch never outlives it."""
        if self._holds() or not self.shared:
            yield
            return
        self._release_stale()
        lock, token = self.index.lock(MATCHER_LOCK_TIMEOUT_S), uuid.uuid4().hex
        if not lock.acquire(token=token):
            raise TimeoutError("matcher lock not acquired")
        self._held, self._holder, self._token = lock, threading.get_ident(), token
        self._renewed = time.monotonic()
        try:
            yield
        finally:
            self._held, self._holder, self._token = None, 0, None
            try:
                lock.release()
            except LockError:
                pass  # it lapsed: what this engine wrote meanwhile was fenced on it
            except redis.RedisError:
                self._stale = (lock, token)  # Redis went away meanwhile: freed when back
                raise

    def _release_stale(self) -> None:
        """Free the lock this engine held when Redis went away (kept on disk, it would
        otherwise stall every matcher, this one too, until it lapses: MATCHER_LOCK_TIMEOUT_S)."""
        if self._stale is None:
            return
        lock, token = self._stale
        with contextlib.suppress(LockError):  # lapsed, and perhaps taken by another since
            lock.do_release(token)  # only if it still holds our token (redis-py's script)
        self._stale = None

    def _holds(self) -> bool:
        return self._held is not None and self._holder == threading.get_ident()

    def _keep_lock(self) -> None:
        if self._holds() and time.monotonic() - self._renewed > LOCK_RENEW_S:
            self._held.reacquire()
            self._renewed = time.monotonic()

    def _segment(self, stds: list[StandardisedEvent]) -> list[Result]:
        """Events with no correction among them (or one correction alone), decided in order
        and written in one transaction. An event repeated in the segment is a replay of its
        first occurrence: the same result."""
        first: dict[str, int] = {}
        unique: list[StandardisedEvent] = []
        for std in stds:
            event_id = str(std.event.event_id)
            if event_id not in first:
                first[event_id] = len(unique)
                unique.append(std)
        results = self._decide_all([self._prepare(std) for std in unique])
        return [results[first[str(std.event.event_id)]] for std in stds]

    def _prepare(self, std: StandardisedEvent) -> _Event:
        f = features(std)
        tf_values = {c: TF_VALUES[c](f) for c in self.model.tf_comparisons}
        digests, caps = self.index.block_reads(f)
        return _Event(std, f, digests, caps, self.index.tf_keys(tf_values))

    def _prefetch(self, events: list[_Event]) -> tuple[dict[int, Result], list[int],
                                                       list[Prefetched]]:
        """(results of the events decided already, the others' positions, their prefetches).

        Each event reads from each blocking key only as many members as the batch's earlier
        events do not fill: one at a time, they would be the newest there."""
        replayed: dict[int, Result] = {}
        todo = list(range(len(events)))
        while True:
            seen: Counter[str] = Counter()
            requests = []
            for i in todo:
                e = events[i]
                requests.append(e.request([max(0, cap - seen[d])
                                           for d, cap in zip(e.digests, e.caps, strict=True)]))
                seen.update(e.digests)
            fetched = self.index.prefetch_many(requests)
            now = {i: p.stored for i, p in zip(todo, fetched, strict=True) if p.stored}
            if not now:
                return replayed, todo, fetched
            # Decided already (a replay): given back unchanged. The rest are asked again,
            # as the windows counted on these being written.
            replayed.update({i: Result.model_validate_json(v) for i, v in now.items()})
            todo = [i for i in todo if i not in now]
            if not todo:
                return replayed, [], []

    def _decide_all(self, events: list[_Event]) -> list[Result]:
        replayed, todo, fetched = self._prefetch(events)
        pending = [events[i] for i in todo]
        decided = self._decide_pending(pending, fetched) if pending else []
        results = dict(replayed)
        results.update(zip(todo, decided, strict=True))
        return [results[i] for i in range(len(events))]

    def _decide_pending(self, pending: list[_Event], fetched: list[Prefetched]) -> list[Result]:
        """Decide events none of which is decided yet, in order, against Redis's records and
        the batch's own earlier ones (`_Batch`), and write them all in one transaction."""
        ours = {e.f.event_id for e in pending}
        if len(pending) > 1 and any(rid in ours for p in fetched for rid, _, _ in p.ranked):
            # A record of this batch is stored already (an event decided again after its
            # stored result expired): one at a time is the exact order. Rare.
            return [r for e in pending for r in self._decide_pending(
                [e], self.index.prefetch_many([e.request(e.caps)]))]
        stored = {f.event_id: StoredRecord(f, child) for f, child in self.index.open_records(
            dict.fromkeys(value for p in fetched for value in p.records))}
        self.index.keystore.warm((e.f.agency_id, e.f.agency_record_id) for e in pending)
        view = _View(self.index)
        view.resolve([o.child_id for o in stored.values()])
        upper, lower = self.thresholds()
        scorers = [Scorer(e.f, self.model, *fr)
                   for e, fr in zip(pending, _batch_frequencies(pending, fetched), strict=True)]
        scored = [self._score_stored(e, p, score, stored, view)
                  for e, p, score in zip(pending, fetched, scorers, strict=True)]
        # The children an event may join (a pair at link band), read in one round trip.
        view.of([c for pairs in scored for _, c, s in pairs.values() if s.total >= upper])
        batch = _Batch()
        pipe = self.index.transaction(self._token if self._holds() else None)
        results = [self._decide_one(e, p, score, pairs, batch, view, pipe, upper, lower)
                   for e, p, score, pairs in zip(pending, fetched, scorers, scored,
                                                 strict=True)]
        pipe.execute()
        return results

    def _score_stored(self, e: _Event, p: Prefetched, score: Scorer,
                      stored: dict[str, StoredRecord], view: _View) -> dict[str, _Pair]:
        """record id -> (record, its child as Redis has it now, its score), for each of the
        event's candidates in Redis that can still be opened (a shredded one is skipped)."""
        out = {}
        for rid, _, _ in p.ranked:
            o = stored.get(rid)
            if o is not None and rid != e.f.event_id:
                out[rid] = (o.features, view.root(o.child_id), score(o.features))
        return out

    def _decide_one(self, e: _Event, p: Prefetched, score: Scorer,
                    pairs: dict[str, _Pair], batch: _Batch, view: _View, pipe: Any,
                    upper: float, lower: float) -> Result:
        """One event, decided against Redis's candidates and the batch's earlier events, as
        one at a time would; its writes queued on `pipe`, and the batch's view updated."""
        f, std = e.f, e.std
        candidates = []
        for rid, _, _ in merge_ranked(p.ranked, batch.ranked(e),
                                      self.index.max_candidates):
            if rid in pairs:
                record, child, s = pairs[rid]
            elif rid in batch.records:
                record, child = batch.records[rid]
                s = score(record)
            else:
                continue  # shredded
            candidates.append(Candidate(record, view.follow(child), s))
        # A correction is matched like any event (its old records vouch for its agency record)
        # and then replaces them: the wrong values are no longer held (DESIGN §7).
        superseded = self.index.superseded_by(f) if std.correction else []
        d = self._decide(f, candidates, upper, lower, view)
        child_id, merge_from = self._survivor(d, view)
        before = [view.of([c])[c].info for c in [child_id, *merge_from] if d.child_id]
        decision = self._link_decision(std, d, child_id, merge_from)
        practitioner = _practitioner(std)
        shielded = std.event.shielded or any(b.shielded for b in before)
        alerts = build_alerts(AlertContext(
            event_id=str(std.event.event_id), child_id=child_id, outcome=decision.outcome,
            discrepancies=d.discrepancies, agency_id=f.agency_id, agency_kind=f.agency_kind,
            practitioner=practitioner, before=tuple(before), shielded=shielded,
            now=decision.decided_at))
        result = Result(decision=decision, alerts=alerts)
        self.index.queue_commit(pipe, features=f, digests=e.digests, child_id=child_id,
                                new_child=d.child_id is None, merge_from=merge_from,
                                practitioner=practitioner, shielded=std.event.shielded,
                                seq=p.seq, result_json=result.model_dump_json(),
                                tf_keys=e.tf_keys, outcome=decision.outcome.value,
                                review=_review(decision, (upper, lower)),
                                stats_bucket=stats_bucket(decision.decided_at),
                                score=decision.score, superseded=superseded)
        view.joined(child_id, new=d.child_id is None, seq=p.seq, merge_from=merge_from,
                    agency=(f.agency_id, f.agency_kind), practitioner=practitioner,
                    shielded=std.event.shielded)
        batch.add(e, p.seq, child_id)
        return result

    def _decide(self, f: Features, candidates: list[Candidate], upper: float,
                lower: float, facts: _View) -> Decision:
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

    def _barred_by(self, child_ids: list[str], facts: _View) -> frozenset[str]:
        """Children these must never join, as they stand now (after later merges)."""
        raw = {x for f in facts.of(child_ids).values() for x in f.cannot}
        return frozenset(facts.resolve(list(raw)).values()) if raw else frozenset()

    def _without_barred_merges(self, d: Decision, facts: _View) -> Decision:
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

    def _survivor(self, d: Decision, facts: _View) -> tuple[str, list[str]]:
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


_Pair = tuple[Features, str, ScoredPair]  # a stored candidate: record, child, score
_Frequencies = tuple[dict[str, float], int]  # a Scorer's term frequencies and population


@dataclass(frozen=True, slots=True)
class _Event:
    """An event as the engine works on it: its features, its blocking keys (digests) and its
    (comparison, term-frequency key) pairs."""

    std: StandardisedEvent
    f: Features
    digests: list[str]
    caps: list[int]  # per blocking key, the newest members it reads (Index.block_reads)
    tf_keys: list[tuple[str, str]]

    def request(self, caps: list[int]) -> PrefetchRequest:
        """What it asks of Index.prefetch_many, reading `caps` members of its blocking keys."""
        return PrefetchRequest(self.f.event_id, self.digests, [k for _, k in self.tf_keys], caps)


class _Batch:
    """The records a batch has decided but not yet written: to each later event of the batch
    they are what Redis would hold had they been written one at a time (the newest members of
    their blocking keys)."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[Features, str]] = {}  # record id -> (record, child)
        self._by_key: dict[str, list[tuple[str, int]]] = {}  # digest -> (id, seq), oldest first

    def ranked(self, e: _Event) -> list[Ranked]:
        """The batch's records among an event's candidates, ranked (candidates.py): from each
        of its blocking keys the newest it reads (`_Event.caps`), as from Redis."""
        return ranked_candidates(
            (self._by_key[d][-cap:][::-1] for d, cap in zip(e.digests, e.caps, strict=True)
             if d in self._by_key), sum(e.caps))

    def add(self, e: _Event, seq: int, child_id: str) -> None:
        self.records[e.f.event_id] = (e.f, child_id)
        for d in e.digests:
            self._by_key.setdefault(d, []).append((e.f.event_id, seq))


class _View:
    """The children as the batch's decisions read them: Redis's facts and merge redirects,
    each read once (many children in one round trip), with what the batch's earlier events
    did to them applied (`joined`)."""

    def __init__(self, index: Index) -> None:
        self._index = index
        self._known: dict[str, ChildFacts] = {}
        self._roots: dict[str, str] = {}  # child id -> what Redis's redirects make of it
        self._merged: dict[str, str] = {}  # merged in this batch: loser -> winner

    def of(self, child_ids: list[str]) -> dict[str, ChildFacts]:
        missing = [c for c in dict.fromkeys(child_ids) if c not in self._known]
        if missing:
            self._known.update(self._index.child_facts(missing))
        return {c: self._known[c] for c in child_ids}

    def resolve(self, child_ids: list[str]) -> dict[str, str]:
        """child id -> the child that stands for it now, after Redis's and the batch's
        merges (Redis asked once, for those not asked before)."""
        missing = [c for c in dict.fromkeys(child_ids) if c not in self._roots]
        if missing:
            self._roots.update(self._index.resolve_many(missing))
        return {c: self.follow(self._roots[c]) for c in child_ids}

    def root(self, child_id: str) -> str:
        """A child as Redis's redirects resolve it (`resolve` asked for it before)."""
        return self._roots[child_id]

    def follow(self, child_id: str) -> str:
        """A child (as Redis resolves it) after the batch's merges."""
        while child_id in self._merged:
            child_id = self._merged[child_id]
        return child_id

    def joined(self, child_id: str, *, new: bool, seq: int, merge_from: list[str],
               agency: tuple[str, str], practitioner: PractitionerOnRecord,
               shielded: bool) -> None:
        """An event joined `child_id` (new: created by it), merging `merge_from` into it: the
        child's facts as its commit leaves them in Redis (Index.queue_commit)."""
        if new:
            self._known[child_id] = ChildFacts(created=seq, cannot=frozenset(),
                                               info=ChildInfo(child_id, {}, [], False))
        facts = [self._known[child_id], *(self._known.pop(c) for c in merge_from)]
        agencies: dict[str, str] = {}
        practitioners: dict[str, PractitionerOnRecord] = {}
        for f in facts:
            agencies.update(f.info.agencies)
            practitioners.update((p.id, p) for p in f.info.practitioners)
        agencies[agency[0]] = agency[1]
        practitioners[practitioner.id] = practitioner
        self._merged.update((c, child_id) for c in merge_from)
        self._known[child_id] = ChildFacts(
            created=facts[0].created, cannot=frozenset().union(*(f.cannot for f in facts)),
            info=ChildInfo(child_id, agencies, list(practitioners.values()),
                           shielded or any(f.info.shielded for f in facts)))


def _segments(stds: Sequence[StandardisedEvent]) -> Iterator[list[StandardisedEvent]]:
    """Runs of events, each correction alone: a correction reads and removes its agency
    record's stored records (Index.superseded_by), which must all be written before it."""
    run: list[StandardisedEvent] = []
    for std in stds:
        if std.correction:
            if run:
                yield run
                run = []
            yield [std]
        else:
            run.append(std)
    if run:
        yield run


def _batch_frequencies(pending: list[_Event], fetched: list[Prefetched]) -> list[_Frequencies]:
    """Each event's term frequencies and record count (its Scorer's), counting the batch's
    earlier events as written: each adds one record and one to each of its values' counts."""
    added: Counter[str] = Counter()
    out: list[_Frequencies] = []
    for i, (e, p) in enumerate(zip(pending, fetched, strict=True)):
        total = p.total + i
        if total < TF_MIN_RECORDS:  # below this a frequency is noise: no TF adjustment
            out.append(({}, total))
        else:
            out.append(({c: (n + added[key]) / total
                         for (c, key), n in zip(e.tf_keys, p.counts, strict=True)}, total))
        added.update(key for _, key in e.tf_keys)
    return out


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
