"""The one place the matcher talks to Redis: blocking index, records, children, merges.

Personal data at rest: each record's features are sealed (AES-256-GCM) with the data key of
its agency record (signpost/crypto.py); the key store lives in another Redis. Blocking keys,
term-frequency keys and the agency-record index are keyed hashes. `forget_child` deletes a
child's records, index entries and data keys: what is left anywhere of its bytes is noise.

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

from services.matcher.blocking import block_keys
from services.matcher.keys import Keys
from services.matcher.standardise import Features
from signpost.crypto import KeyStore, b64, open_sealed, seal, unb64

__all__ = ["ChildFacts", "ChildInfo", "Forgotten", "Index", "PractitionerOnRecord", "StoredRecord",
           "Superseded"]

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
class Superseded:
    """A record a correction replaces: removed from the index in the correction's commit."""

    record_id: str
    child_id: str
    arec: str
    digests: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What `forget_child` deleted, by count only (audited so: never by name)."""

    child_id: str
    records: int
    keys: int


@dataclass(frozen=True, slots=True)
class ChildInfo:
    child_id: str
    agencies: dict[str, str]
    practitioners: list[PractitionerOnRecord]
    shielded: bool


@dataclass(frozen=True, slots=True)
class ChildFacts:
    """What the engine reads of a candidate child to decide: its age (creation sequence), the
    children it must never join, and its agencies, practitioners and shielding."""

    created: int
    cannot: frozenset[str]
    info: ChildInfo


def keyed_digest(secret: bytes, material: str) -> str:
    """Keyed hash of key material: the index holds no readable names or record ids."""
    return hmac.new(secret, material.encode(), hashlib.sha256).hexdigest()[:32]


def record_material(agency_id: str, agency_record_id: str) -> str:
    """What is keyed-hashed to find a child by an agency's own record id."""
    return f"arec|{agency_id}|{agency_record_id}"


class Index:
    def __init__(self, client: redis.Redis, prefix: str, blocking_secret: bytes,
                 cap_per_key: int, keystore: KeyStore) -> None:
        self.r = client
        self.k = Keys(prefix)
        self._secret = blocking_secret
        self.cap = cap_per_key
        self.keystore = keystore

    @classmethod
    def private(cls, client: redis.Redis, prefix: str, blocking_secret: bytes = b"private",
                cap_per_key: int = 50, master: bytes = b"private-master-key") -> Index:
        """An index whose data keys live in the same Redis under its own prefix: for runs that
        are thrown away whole (tests, benchmarks), never for a service."""
        return cls(client, prefix, blocking_secret, cap_per_key,
                   KeyStore(client, prefix, master))

    # --- sealed records -------------------------------------------------------------------

    def seal_record(self, features: Features, child_id: str, seq: int) -> str:
        """The stored form of a record: ids in clear, every personal field sealed."""
        key_id, key = self.keystore.for_record(features.agency_id, features.agency_record_id,
                                               reuse_cached=True)
        plain = json.dumps(features.to_dict(), separators=(",", ":")).encode()
        blob = seal(key, _aad(features.event_id, key_id), plain)
        return json.dumps({"child_id": child_id, "seq": seq, "agency_id": features.agency_id,
                           "agency_kind": features.agency_kind, "key_id": key_id,
                           "sealed": b64(blob)}, separators=(",", ":"))

    def open_records(self, record_ids: list[str]) -> list[tuple[Features, str]]:
        """(features, child id as stored) of each record that exists and can still be opened;
        a record whose data key was deleted is skipped (it is shredded)."""
        return [(f, str(d["child_id"])) for f, d in self._opened(self._stored(record_ids))]

    def _stored(self, record_ids: list[str]) -> list[tuple[str, dict[str, Any]]]:
        """(id, stored form) of each record that exists: one MGET."""
        if not record_ids:
            return []
        raw = self.r.mget([self.k.record(i) for i in record_ids])
        return [(rid, json.loads(v)) for rid, v in zip(record_ids, raw, strict=True)
                if v is not None]

    def _opened(self, stored: list[tuple[str, dict[str, Any]]]
                ) -> list[tuple[Features, dict[str, Any]]]:
        """The stored records whose data key still exists, opened, beside their stored form."""
        keys = self.keystore.get_many(d["key_id"] for _, d in stored)
        out = []
        for rid, d in stored:
            key = keys.get(d["key_id"])
            if key is not None:
                plain = open_sealed(key, _aad(rid, d["key_id"]), unb64(d["sealed"]))
                out.append((Features.from_dict(json.loads(plain)), d))
        return out

    def lock(self) -> Any:
        return self.r.lock(self.k.lock, timeout=LOCK_TIMEOUT_S, blocking_timeout=LOCK_WAIT_S)

    def digest(self, material: str) -> str:
        return keyed_digest(self._secret, material)

    def stored_result(self, event_id: str) -> str | None:
        value = self.r.get(self.k.event(event_id))
        return str(value) if value is not None else None

    def records(self, record_ids: list[str]) -> list[StoredRecord]:
        opened = self.open_records(record_ids)
        roots = self.resolve_many([cid for _, cid in opened])
        return [StoredRecord(f, roots[cid]) for f, cid in opened]

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
        return self.child_facts([child_id])[child_id].info

    def child_facts(self, child_ids: list[str]) -> dict[str, ChildFacts]:
        """Everything a decision reads of these children, in one round trip."""
        pipe = self.r.pipeline(transaction=False)
        for cid in child_ids:
            pipe.hmget(self.k.child(cid), ["created", "shielded"])
            pipe.smembers(self.k.cannot_link(cid))
            pipe.hgetall(self.k.child_agencies(cid))
            pipe.hvals(self.k.child_practitioners(cid))
        replies = pipe.execute()
        out = {}
        for i, cid in enumerate(child_ids):
            (created, shielded), cannot, agencies, pracs = replies[4 * i:4 * i + 4]
            out[cid] = ChildFacts(
                created=int(created or 0), cannot=frozenset(cannot),
                info=ChildInfo(child_id=cid, agencies=dict(agencies),
                               practitioners=[PractitionerOnRecord.model_validate_json(p)
                                              for p in pracs],
                               shielded=shielded == "1"))
        return out

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

    def prefetch(self, digests: list[str], tf_values: dict[str, str]
                 ) -> tuple[list[str], int, dict[str, float], int]:
        """One round trip for what every event needs before scoring: (candidate record ids,
        stored records, term frequencies, this event's sequence number)."""
        named = [(c, v) for c, v in tf_values.items() if v]
        pipe = self.r.pipeline(transaction=False)
        for d in digests:
            pipe.zrevrange(self.k.block(d), 0, self.cap - 1)
        pipe.get(self.k.tf_total)
        for comparison, value in named:
            pipe.get(self.k.tf(comparison, self.digest(value)))
        pipe.incr(self.k.seq)
        replies = pipe.execute()
        seen: dict[str, None] = {}
        for ids in replies[:len(digests)]:
            seen.update(dict.fromkeys(ids))
        total, *counts = replies[len(digests):-1]
        return list(seen), *_frequencies(int(total or 0), named, counts), int(replies[-1])

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
        superseded: list[Superseded] | None = None,
    ) -> None:
        """Write one event's record, keys, child updates, merges, stored result, review item
        (id, JSON, priority), dashboard count and the removal of records a correction
        supersedes, atomically."""
        k = self.k
        merged_data = [self._child_sets(loser) for loser in merge_from]
        pipe = self.r.pipeline(transaction=True)
        for old in superseded or ():
            for d in old.digests:
                pipe.zrem(k.block(d), old.record_id)
            pipe.delete(k.record(old.record_id))
            pipe.srem(k.child_records(old.child_id), old.record_id)
            pipe.srem(k.agency_record_events(old.arec), old.record_id)
        if new_child:
            pipe.hset(k.child(child_id), mapping={"created": seq, "shielded": "0"})
        for loser, sets in zip(merge_from, merged_data, strict=True):
            self._merge_into(pipe, child_id, loser, sets)
            shielded = shielded or sets.shielded
        pipe.set(k.record(features.event_id), self.seal_record(features, child_id, seq))
        for d in digests:
            pipe.zadd(k.block(d), {features.event_id: seq})
            if seq % TRIM_EVERY == 0:
                pipe.zremrangebyrank(k.block(d), 0, -BLOCK_TRIM - 1)
        pipe.incr(k.tf_total)
        for comparison, value in tf_values.items():
            if value:
                pipe.incr(k.tf(comparison, self.digest(value)))
        pipe.sadd(k.child_records(child_id), features.event_id)
        arec = self.digest(record_material(features.agency_id, features.agency_record_id))
        pipe.hsetnx(k.agency_records, arec, child_id)
        pipe.sadd(k.agency_record_events(arec), features.event_id)
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

    # --- deletion, retention and subject access (DESIGN §7) ------------------------------

    def superseded_by(self, correction: Features) -> list[Superseded]:
        """The earlier records of the correcting event's agency record (the caller holds
        `lock`): what the correction replaces."""
        arec = self.digest(record_material(correction.agency_id, correction.agency_record_id))
        ids = sorted(str(x) for x in self.r.smembers(self.k.agency_record_events(arec))
                     if x != correction.event_id)
        return [Superseded(record_id=f.event_id, child_id=self.resolve(cid), arec=arec,
                           digests=tuple(self.digest(m) for m in block_keys(f)))
                for f, cid in self.open_records(ids)]

    def child_features(self, child_id: str) -> list[Features]:
        """Every record held on a child (resolved through merges), opened; oldest first."""
        opened = self._opened(self._stored(sorted(self.record_ids(self.resolve(child_id)))))
        return [f for f, _ in sorted(opened, key=lambda fd: int(fd[1]["seq"]))]

    def child_ids(self) -> list[str]:
        """Every live child id (a SCAN: for retention runs and reports, not per event)."""
        head = self.k.child("")
        out = []
        for key in self.r.scan_iter(match=f"{head}*", count=1000):
            rest = str(key)[len(head):]
            if rest and ":" not in rest:
                out.append(rest)
        return sorted(out)

    def exists(self, child_id: str) -> bool:
        return bool(self.r.exists(self.k.child(self.resolve(child_id))))

    def set_consent(self, child_id: str, consent: bool) -> str:
        """Record (or withdraw) the young person's consent to be kept past 18; returns the
        child id it was recorded on (after merges)."""
        cid = self.resolve(child_id)
        self.r.hset(self.k.child(cid), "consent", "1" if consent else "0")
        return cid

    def has_consent(self, child_id: str) -> bool:
        return self.r.hget(self.k.child(self.resolve(child_id)), "consent") == "1"

    def forget_child(self, child_id: str) -> Forgotten:
        """Delete a child: its records, their blocking and agency-record index entries, its
        stored results, its sets, and the data keys of its agency records (crypto-shredding).

        The caller holds `lock`. Copies of the sealed bytes elsewhere (a Redis dump, the
        events on Kafka) can no longer be opened. Term-frequency counts (keyed hashes of
        values, no personal data) are left as they are.
        """
        cid = self.resolve(child_id)
        ids = sorted(self.record_ids(cid))
        stored = self._stored(ids)
        key_ids = {d["key_id"] for _, d in stored}
        pipe = self.r.pipeline(transaction=True)
        for f, _ in self._opened(stored):
            arec = self.digest(record_material(f.agency_id, f.agency_record_id))
            for material in block_keys(f):
                pipe.zrem(self.k.block(self.digest(material)), f.event_id)
            pipe.hdel(self.k.agency_records, arec)
            pipe.delete(self.k.agency_record_events(arec))
        for rid in ids:
            pipe.delete(self.k.record(rid), self.k.event(rid))
        pipe.delete(self.k.child(cid), self.k.child_records(cid), self.k.child_agencies(cid),
                    self.k.child_practitioners(cid), self.k.cannot_link(cid))
        pipe.execute()
        return Forgotten(child_id=cid, records=len(ids), keys=self.keystore.delete(key_ids))

    def claim_purge_run(self, interval_s: float) -> bool:
        """True for the one caller that claims this interval's scheduled retention purge:
        every matcher asks, one runs it, and a restart does not run it again early."""
        return bool(self.r.set(f"{self.k.p}:purge:claim", "1", nx=True,
                               px=max(1, int(interval_s * 1000))))


def _frequencies(total: int, named: list[tuple[str, str]],
                 counts: list[Any]) -> tuple[int, dict[str, float]]:
    """(records, comparison -> share of records with the value); none below TF_MIN_RECORDS."""
    if total < TF_MIN_RECORDS:
        return total, {}
    return total, {c: int(n or 0) / total for (c, _), n in zip(named, counts, strict=True)}


def _aad(record_id: str, key_id: str) -> bytes:
    """Associated data of a sealed record: it opens only as this record, under this key."""
    return f"rec|{record_id}|{key_id}".encode()
