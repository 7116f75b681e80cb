"""The one place the matcher talks to Redis: blocking index, records, children, merges.

Consistency: Engine.process holds `lock` (one Redis lock shared by every matcher) while it
reads candidates and commits, and commit() writes everything of one event, including its
stored result, in one MULTI/EXEC transaction. A crash leaves either all of an event or none.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import redis
from pydantic import BaseModel, ConfigDict

from services.matcher.keys import Keys
from services.matcher.standardise import Features

__all__ = ["ChildInfo", "Index", "PractitionerOnRecord", "StoredRecord"]

LOCK_TIMEOUT_S = 30.0  # a matcher that dies holding the lock frees it after this
LOCK_WAIT_S = 60.0
MAX_REDIRECT_HOPS = 64
BLOCK_TRIM = 2000  # members kept per blocking key; only the newest `cap` are read
TF_MIN_RECORDS = 500  # below this many records a frequency is noise: no TF adjustment
TRIM_EVERY = 64  # trim a key's set on one commit in this many: bounded, and cheap
STATS_KEEP_S = 2 * 3600  # dashboard counters: two hours of 10-second buckets
SCORES_KEPT = 5000  # newest best-candidate scores: enough to estimate the review load



class PractitionerOnRecord(BaseModel):
    """A practitioner's work contact as the matcher keeps it for a child."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str | None
    role: str | None
    email: str | None
    phone: str | None
    agency_id: str
    agency_kind: str
    lead: bool


@dataclass(frozen=True, slots=True)
class StoredRecord:
    features: Features
    child_id: str


@dataclass(frozen=True, slots=True)
class _ChildSets:
    records: set[str]
    agencies: dict[str, str]
    practitioners: dict[str, str]
    cannot: set[str]
    shielded: bool


@dataclass(frozen=True, slots=True)
class ChildInfo:
    child_id: str
    agencies: dict[str, str]
    practitioners: list[PractitionerOnRecord]
    shielded: bool


def keyed_digest(secret: bytes, material: str) -> str:
    """Keyed hash of key material: the index holds no readable names or record ids."""
    return hmac.new(secret, material.encode(), hashlib.sha256).hexdigest()[:32]


def record_material(agency_id: str, agency_record_id: str) -> str:
    """What is keyed-hashed to find a child by an agency's own record id."""
    return f"arec|{agency_id}|{agency_record_id}"


class Index:
    def __init__(self, client: redis.Redis, prefix: str, blocking_secret: bytes,
                 cap_per_key: int) -> None:
        self.r = client
        self.k = Keys(prefix)
        self._secret = blocking_secret
        self.cap = cap_per_key

    def lock(self) -> Any:
        return self.r.lock(self.k.lock, timeout=LOCK_TIMEOUT_S, blocking_timeout=LOCK_WAIT_S)

    def digest(self, material: str) -> str:
        return keyed_digest(self._secret, material)

    def stored_result(self, event_id: str) -> str | None:
        value = self.r.get(self.k.event(event_id))
        return str(value) if value is not None else None

    def candidates(self, digests: list[str]) -> list[str]:
        """Record ids under any of the keys: the newest `cap` per key, so always bounded."""
        pipe = self.r.pipeline(transaction=False)
        for d in digests:
            pipe.zrevrange(self.k.block(d), 0, self.cap - 1)
        seen: dict[str, None] = {}
        for ids in pipe.execute():
            seen.update(dict.fromkeys(ids))
        return list(seen)

    def records(self, record_ids: list[str]) -> list[StoredRecord]:
        if not record_ids:
            return []
        raw = self.r.mget([self.k.record(i) for i in record_ids])
        loaded = [json.loads(v) for v in raw if v is not None]
        roots = self.resolve_many([d["child_id"] for d in loaded])
        return [StoredRecord(Features.from_dict(d["features"]), roots[d["child_id"]])
                for d in loaded]

    def resolve_many(self, child_ids: list[str]) -> dict[str, str]:
        """child id -> the child that now stands for it (after merges): one HMGET per hop."""
        out = {cid: cid for cid in set(child_ids)}
        pending = list(out)
        for _ in range(MAX_REDIRECT_HOPS):
            if not pending:
                break
            current = [out[cid] for cid in pending]
            targets = self.r.hmget(self.k.redirect, current)
            moved = []
            for cid, target in zip(pending, targets, strict=True):
                if target is not None:
                    out[cid] = str(target)
                    moved.append(cid)
            pending = moved
        return out

    def resolve(self, child_id: str) -> str:
        return self.resolve_many([child_id])[child_id]

    def child_info(self, child_id: str) -> ChildInfo:
        pipe = self.r.pipeline(transaction=False)
        pipe.hgetall(self.k.child_agencies(child_id))
        pipe.hvals(self.k.child_practitioners(child_id))
        pipe.hget(self.k.child(child_id), "shielded")
        agencies, pracs, shielded = pipe.execute()
        return ChildInfo(
            child_id=child_id,
            agencies=dict(agencies),
            practitioners=[PractitionerOnRecord.model_validate_json(p) for p in pracs],
            shielded=shielded == "1",
        )

    def created_seq(self, child_ids: list[str]) -> dict[str, int]:
        pipe = self.r.pipeline(transaction=False)
        for cid in child_ids:
            pipe.hget(self.k.child(cid), "created")
        return {cid: int(v or 0) for cid, v in zip(child_ids, pipe.execute(), strict=True)}

    def cannot_link(self, child_ids: list[str]) -> frozenset[str]:
        """Children that any of these must never be linked with."""
        pipe = self.r.pipeline(transaction=False)
        for cid in child_ids:
            pipe.smembers(self.k.cannot_link(cid))
        return frozenset(x for members in pipe.execute() for x in members)

    def term_frequencies(self, values: dict[str, str]) -> tuple[int, dict[str, float]]:
        """(stored records, comparison -> frequency of this value among them).

        Frequencies are left out until TF_MIN_RECORDS records are stored.
        """
        named = [(c, v) for c, v in values.items() if v]
        pipe = self.r.pipeline(transaction=False)
        pipe.get(self.k.tf_total)
        for comparison, value in named:
            pipe.get(self.k.tf(comparison, self.digest(value)))
        total, *counts = pipe.execute()
        total = int(total or 0)
        if total < TF_MIN_RECORDS:
            return total, {}
        return total, {c: int(n or 0) / total for (c, _), n in zip(named, counts, strict=True)}

    def next_seq(self) -> int:
        return int(self.r.incr(self.k.seq))

    def commit(
        self,
        *,
        features: Features,
        digests: list[str],
        child_id: str,
        new_child: bool,
        merge_from: list[str],
        practitioner: PractitionerOnRecord,
        shielded: bool,
        seq: int,
        result_json: str,
        tf_values: dict[str, str],
        outcome: str = "",
        review: tuple[str, str, float] | None = None,
        stats_bucket: int = 0,
        score: float | None = None,
    ) -> None:
        """Write one event's record, keys, child updates, merges, stored result, review item
        (id, JSON, priority) and dashboard count atomically."""
        k = self.k
        merged_data = [self._child_sets(loser) for loser in merge_from]
        pipe = self.r.pipeline(transaction=True)
        if new_child:
            pipe.hset(k.child(child_id), mapping={"created": seq, "shielded": "0"})
        for loser, sets in zip(merge_from, merged_data, strict=True):
            self._merge_into(pipe, child_id, loser, sets)
            shielded = shielded or sets.shielded
        record = {"features": features.to_dict(), "child_id": child_id, "seq": seq}
        pipe.set(k.record(features.event_id), json.dumps(record, separators=(",", ":")))
        for d in digests:
            pipe.zadd(k.block(d), {features.event_id: seq})
            if seq % TRIM_EVERY == 0:
                pipe.zremrangebyrank(k.block(d), 0, -BLOCK_TRIM - 1)
        pipe.incr(k.tf_total)
        for comparison, value in tf_values.items():
            if value:
                pipe.incr(k.tf(comparison, self.digest(value)))
        pipe.sadd(k.child_records(child_id), features.event_id)
        pipe.hsetnx(k.agency_records, self.digest(record_material(features.agency_id,
                                                                  features.agency_record_id)),
                    child_id)
        pipe.hset(k.child_agencies(child_id), features.agency_id, features.agency_kind)
        pipe.hset(k.child_practitioners(child_id), practitioner.id,
                  practitioner.model_dump_json())
        if shielded:
            pipe.hset(k.child(child_id), "shielded", "1")
        pipe.set(k.event(features.event_id), result_json)
        if review is not None:
            pipe.set(k.review_item(review[0]), review[1])
            pipe.zadd(k.review_queue, {review[0]: review[2]}, nx=True)
        if outcome:
            pipe.hincrby(k.stats(stats_bucket), outcome, 1)
            pipe.expire(k.stats(stats_bucket), STATS_KEEP_S)
            pipe.lpush(k.recent_scores, "" if score is None else f"{score:.4f}")
            pipe.ltrim(k.recent_scores, 0, SCORES_KEPT - 1)
        pipe.execute()

    def merge(self, *, winner: str, loser: str) -> None:
        """Move everything of `loser` onto `winner` in one transaction (an accepted review).

        The caller holds `lock`, so no event commits against either child meanwhile.
        """
        sets = self._child_sets(loser)
        pipe = self.r.pipeline(transaction=True)
        self._merge_into(pipe, winner, loser, sets)
        if sets.shielded:
            pipe.hset(self.k.child(winner), "shielded", "1")
        pipe.execute()

    def bar(self, a: str, b: str) -> None:
        """Record that children `a` and `b` must never be linked (both directions, at once)."""
        pipe = self.r.pipeline(transaction=True)
        pipe.sadd(self.k.cannot_link(a), b)
        pipe.sadd(self.k.cannot_link(b), a)
        pipe.execute()

    def record_ids(self, child_id: str) -> set[str]:
        """The ids of the records (events) on a child."""
        return {str(x) for x in self.r.smembers(self.k.child_records(child_id))}

    def recent_scores(self) -> list[float | None]:
        """The newest events' best-candidate scores, newest first (None: no candidate)."""
        return [float(v) if v else None for v in self.r.lrange(self.k.recent_scores, 0, -1)]

    def _child_sets(self, cid: str) -> _ChildSets:
        pipe = self.r.pipeline(transaction=False)
        pipe.smembers(self.k.child_records(cid))
        pipe.hgetall(self.k.child_agencies(cid))
        pipe.hgetall(self.k.child_practitioners(cid))
        pipe.smembers(self.k.cannot_link(cid))
        pipe.hget(self.k.child(cid), "shielded")
        recs, agencies, pracs, cannot, shielded = pipe.execute()
        return _ChildSets(set(recs), dict(agencies), dict(pracs), set(cannot), shielded == "1")

    def _merge_into(self, pipe: Any, winner: str, loser: str, sets: _ChildSets) -> None:
        """Queue, on a MULTI pipeline, the move of everything of `loser` onto `winner`."""
        k = self.k
        if sets.records:
            pipe.sadd(k.child_records(winner), *sets.records)
        if sets.agencies:
            pipe.hset(k.child_agencies(winner), mapping=sets.agencies)
        if sets.practitioners:
            pipe.hset(k.child_practitioners(winner), mapping=sets.practitioners)
        if sets.cannot:
            pipe.sadd(k.cannot_link(winner), *sets.cannot)
        pipe.hset(k.redirect, loser, winner)
        pipe.delete(k.child(loser), k.child_records(loser), k.child_agencies(loser),
                    k.child_practitioners(loser), k.cannot_link(loser))
