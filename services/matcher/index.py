"""The one place the matcher talks to Redis: blocking index, records, children, merges.

Personal data at rest: each record's features are sealed (AES-256-GCM) with the data key of
its agency record (signpost/crypto.py); the key store lives in another Redis. Blocking keys,
term-frequency keys and the agency-record index are keyed hashes. `forget_child` deletes a
child's records, index entries and data keys: what is left anywhere of its bytes is noise.

Consistency: Engine.process holds `lock` (one Redis lock shared by every matcher; the service
holds it once per poll batch, Engine.exclusive) while it reads candidates and commits, and
commit() writes everything of one event, including its stored result, in one MULTI/EXEC
transaction. A crash leaves either all of an event or none. Operators' changes hold the same
lock (`held`); every transaction under it is fenced on its token (`transaction`).

Memory (README, "Speed and memory"): event ids are 22 characters in key names and set members
(keys.py `compact_id`); a record seals its fields positionally (`_pack`); blocking and
term-frequency keys are 64-bit keyed hashes; a blocking key is a field of a bucket hash whose
value is its members' sequence numbers, until it outgrows a listpack value and moves to a
sorted set of its own (keys.py `Keys.block`); records are fields of bucket hashes under
their sequence numbers (`Keys.record`), so the candidates are read straight from the index's
members; an agency record's child is a field of a bucket hash, and
its events are the members of its own blocking key (blocking.record_key); everything of a
child but its cannot-link set is one hash (its records, agencies and practitioners are
prefixed fields: keys.py `Keys.child`, `ChildHash`); stored results are zlib-compressed
and expire after SIGNPOST_RESULT_TTL_HOURS.
Changing these changes the store's layout: a store written by an older version is rebuilt
(`signpost rebuild`), not read.

Opened records are cached in the process (`_RecordCache`, SIGNPOST_RECORD_CACHE_ENTRIES) by
record id and exact stored value: the stored values are still read every time (a deleted
record is never served), and a cached record is served only while its data key can
still be had, from the key store or the key cache (CACHE_TTL_S, 5 minutes at most, in a
process other than the one that shredded it).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import re
import threading
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, cast

import redis
from pydantic import BaseModel, ConfigDict
from redis.exceptions import LockError, LockNotOwnedError

from services.matcher.blocking import block_keys, is_broad, record_key
from services.matcher.candidates import Ranked
from services.matcher.keys import AGENCY, BLOCK_INLINE_MAX, PRACTITIONER, RECORD, Keys
from services.matcher.keys import compact_id as _member
from services.matcher.keys import full_id as _event_id
from services.matcher.scripts import (
    COMMIT_RECORD,
    MERGE_CHILD,
    PREFETCH,
    RECORDS,
    RESOLVE,
    UNBLOCK,
)
from services.matcher.settings import BROAD_CANDIDATES_PER_KEY, RECORD_CACHE_ENTRIES
from services.matcher.standardise import Features
from signpost.crypto import CryptoError, KeyStore, b64, open_sealed, seal, unb64
from signpost.errors import ConfigError

__all__ = ["ChildFacts", "ChildInfo", "Forgotten", "Index", "PractitionerOnRecord",
           "PrefetchRequest", "Prefetched", "SealedRecord", "StoredRecord", "Superseded",
           "pack_json", "unpack_json"]

LOCK_TIMEOUT_S = 30.0  # an operator's hold (a merge, split or deletion) lapses after this
# A matcher's hold (one poll batch: well under a second, renewed as batches go by) lapses
# after this, so a matcher killed while holding it stalls the others this long at most. Its
# commits are fenced on the lock (`transaction`): a batch that outlives it writes nothing and
# is retried. An operator's change (`held`: a deletion may read and write many records) is
# fenced too, but not renewed, so it keeps the longer LOCK_TIMEOUT_S.
MATCHER_LOCK_TIMEOUT_S = 10.0
LOCK_WAIT_S = 60.0
# Members a blocking key keeps, as a multiple of the newest `cap` an event reads: the rest
# are never read. Trimmed on every addition, a key of the default cap (50) stays a listpack
# (zset-max-listpack-entries 128), where a 2,000-member key was a skiplist at ~80 bytes a
# member. (An agency record's own key is never trimmed: a correction replaces all of it.)
BLOCK_KEEP_CAPS = 2
TF_MIN_RECORDS = 500  # below this many records a frequency is noise: no TF adjustment
STATS_KEEP_S = 2 * 3600  # dashboard counters: two hours of 10-second buckets
MAX_CANDIDATES = 40  # records scored per event, those sharing the most blocking keys
SCORES_KEPT = 5000  # newest best-candidate scores: enough to estimate the review load
DIGEST_HEX = 32  # keyed hashes that must not collide (agency records -> children): 128 bits
BLOCK_DIGEST_HEX = 16  # blocking and term-frequency keys: a collision only adds a candidate
RESULT_TTL_S = 7 * 24 * 3600  # stored results (idempotency) expire; SIGNPOST_RESULT_TTL_HOURS
RESULT_WBITS, RESULT_MEMLEVEL = 12, 4  # zlib settings for stored results (pack_json)
# A preset zlib dictionary for stored results: a result's JSON with its values blanked, so
# that a result's keys and enumerations are found in it (a 784-byte result packs to 469; see
# pack_json). Values packed with it start "y1"; the file must never change (a new
# dictionary is a new file and prefix), which a test pins.
RESULT_ZDICT = (resources.files("services.matcher") / "data" / "result_zdict_1.json"
                ).read_bytes()
# The store's layout (key names, types and encodings), stamped in each store: a matcher
# refuses a store written in another (Index.check_layout). Bump it with any such change.
LAYOUT = "child-hash-1"



class PractitionerOnRecord(BaseModel):
    """A practitioner's work contact as the matcher keeps it for a child: in the child's
    practitioners hash, the id is the field and the value is `stored()`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str | None = None
    role: str | None = None
    email: str | None = None
    phone: str | None = None
    agency_id: str
    agency_kind: str
    lead: bool = False

    def stored(self) -> str:
        """The value kept: a JSON array of the fields but the id, in order (an object, as
        earlier versions kept it, repeats ~60 bytes of field names a practitioner)."""
        return json.dumps([self.name, self.role, self.email, self.phone, self.agency_id,
                           self.agency_kind, int(self.lead)], separators=(",", ":"),
                          ensure_ascii=False)

    @classmethod
    def from_stored(cls, practitioner_id: str, value: str) -> PractitionerOnRecord:
        """`stored`'s inverse, and of the earlier object form; ValueError if neither. The
        same few children's practitioners are read for event after event: memoised."""
        return _practitioner_from(practitioner_id, value)


@lru_cache(maxsize=1 << 15)
def _practitioner_from(practitioner_id: str, value: str) -> PractitionerOnRecord:
    if value.startswith("{"):
        return PractitionerOnRecord.model_validate_json(value)
    fields = json.loads(value)
    if not isinstance(fields, list) or len(fields) != len(_PRACTITIONER_FIELDS):
        raise ValueError("a stored practitioner is in no known form")
    return PractitionerOnRecord(id=practitioner_id,
                                **dict(zip(_PRACTITIONER_FIELDS, fields, strict=True)))


_PRACTITIONER_FIELDS = ("name", "role", "email", "phone", "agency_id", "agency_kind", "lead")


#: An agency kind as a record's envelope holds it: one letter (a kind not here, as itself).
#: Fixed: a letter once given is never given to another kind.
KIND_CODES = {"school": "s", "gp": "g", "hospital": "h", "health_visitor": "v",
              "social_care": "c", "police": "p", "education_welfare": "e", "housing": "o",
              "youth_justice": "y", "early_years": "a", "other": "x"}
_KINDS = {code: kind for kind, code in KIND_CODES.items()}


@dataclass(frozen=True, slots=True)
class SealedRecord:
    """A record as Redis holds it: its ids in clear, its personal fields sealed (`sealed`:
    the base64 of the AES-GCM seal of `_pack`, bound to the record id, key id, agency and
    agency kind).

    Stored as 'r3|record id|key id|child id|agency kind|sealed|agency id' in its bucket under
    its sequence number (keys.Keys.record): positional, the record id compact
    (keys.compact_id), the key id's 128 bits in 22 characters of base64url, the kind one
    letter (KIND_CODES), the agency id last as the one field that may hold '|'."""

    record_id: str
    child_id: str
    seq: int
    agency_id: str
    agency_kind: str
    key_id: str
    sealed: str

    def dump(self) -> str:
        kind = KIND_CODES.get(self.agency_kind, self.agency_kind)
        if "|" in self.record_id + self.child_id + kind:
            raise ValueError("a record's ids and agency kind hold no '|'")
        if kind == self.agency_kind and kind in _KINDS:
            raise ValueError("an agency kind outside KIND_CODES is not one of its letters")
        return (f"r3|{_member(self.record_id)}|{_short_key(self.key_id)}|{self.child_id}|"
                f"{kind}|{self.sealed}|{self.agency_id}")

    @classmethod
    def parse(cls, raw: str, seq: int) -> SealedRecord:
        """`dump`'s inverse for the record stored under `seq`; CryptoError if it is in no
        known form."""
        try:
            if raw.startswith("r3|"):
                _, rid, key_id, child_id, kind, sealed, agency_id = raw.split("|", 6)
                return cls(_event_id(rid), child_id, seq, agency_id, _KINDS.get(kind, kind),
                           _long_key(key_id), sealed)
        except ValueError:
            pass
        raise CryptoError("a stored record is in no known form")


def stored_record_id(raw: str) -> str:
    """The record id of a stored record (SealedRecord.dump), without parsing the rest; ''
    if it is in no known form."""
    if not raw.startswith("r3|"):
        return ""
    return _event_id(raw[3:raw.find("|", 3)])


def _short_key(key_id: str) -> str:
    """A key id (KeyStore.key_id: 32 hex digits) as 22 characters of base64url."""
    raw = bytes.fromhex(key_id)
    if len(raw) != 16:
        raise ValueError("a key id is 32 hex digits")
    return base64.urlsafe_b64encode(raw).decode("ascii")[:22]


def _long_key(short: str) -> str:
    """`_short_key`'s inverse."""
    raw = base64.urlsafe_b64decode(short + "==")
    if len(short) != 22 or len(raw) != 16:
        raise ValueError("not a short key id")
    return raw.hex()


@dataclass(frozen=True, slots=True)
class StoredRecord:
    features: Features
    child_id: str


#: A record as read from Redis: (record id, sequence number, stored value).
StoredValue = tuple[str, int, str]


@dataclass(frozen=True, slots=True)
class PrefetchRequest:
    """What one event asks of `prefetch_many`: its blocking keys (digests), its term-frequency
    keys, and how many members to read from each blocking key (newest first)."""

    event_id: str
    digests: list[str]
    tf_keys: list[str]
    caps: list[int]


@dataclass(frozen=True, slots=True)
class Prefetched:
    """`prefetch_many`'s answer for one event: its stored result, or (stored None) the
    record count, its sequence number, its term counts (in its request's order) and its
    candidates (record id, shared keys, sequence), ranked and capped."""

    stored: str | None
    total: int = 0
    seq: int = 0
    counts: tuple[int, ...] = ()
    ranked: tuple[Ranked, ...] = ()
    records: tuple[StoredValue, ...] = ()  # the candidates' stored records, for open_records


@dataclass(frozen=True, slots=True)
class Superseded:
    """A record a correction replaces: removed from the index in the correction's commit."""

    record_id: str
    child_id: str
    digests: tuple[str, ...]
    seq: int


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
class ChildHash:
    """A child's hash (keys.Keys.child) read apart by its fields' prefixes."""

    plain: dict[str, str]  # created, shielded, consent
    agencies: dict[str, str]  # agency id -> agency kind
    practitioners: dict[str, str]  # practitioner id -> PractitionerOnRecord.stored()
    records: dict[str, int]  # record id -> sequence number

    @classmethod
    def read(cls, r: redis.Redis, keys: Keys, child_id: str) -> ChildHash:
        """A child's hash as it is now (one HGETALL); empty if there is none."""
        return cls.parse(cast(dict[str, str], r.hgetall(keys.child(child_id))))

    @classmethod
    def parse(cls, raw: dict[str, str]) -> ChildHash:
        parts: dict[str, dict[str, str]] = {AGENCY: {}, PRACTITIONER: {}, RECORD: {}}
        plain = {}
        for name, value in raw.items():
            part = parts.get(name[:2])
            if part is None:
                plain[name] = value
            else:
                part[name[2:]] = value
        return cls(plain, parts[AGENCY], parts[PRACTITIONER],
                   {_event_id(m): int(q) for m, q in parts[RECORD].items()})


@dataclass(frozen=True, slots=True)
class ChildFacts:
    """What the engine reads of a candidate child to decide: its age (creation sequence), the
    children it must never join, and its agencies, practitioners and shielding."""

    created: int
    cannot: frozenset[str]
    info: ChildInfo


def keyed_digest(secret: bytes, material: str, length: int = DIGEST_HEX) -> str:
    """Keyed hash of key material: the index holds no readable names or record ids."""
    return hmac.new(secret, material.encode(), hashlib.sha256).hexdigest()[:length]


def record_material(agency_id: str, agency_record_id: str) -> str:
    """What is keyed-hashed to find a child by an agency's own record id."""
    return f"arec|{agency_id}|{agency_record_id}"


class Index:
    def __init__(self, client: redis.Redis, prefix: str, blocking_secret: bytes,
                 cap_per_key: int, keystore: KeyStore,
                 max_candidates: int = MAX_CANDIDATES, result_ttl_s: float = RESULT_TTL_S,
                 record_cache_entries: int = RECORD_CACHE_ENTRIES,
                 broad_cap_per_key: int = BROAD_CANDIDATES_PER_KEY) -> None:
        """`cap_per_key`: the newest members an event reads from a blocking key;
        `broad_cap_per_key`: from a broad one (blocking.BROAD_KINDS), at most `cap_per_key`;
        `result_ttl_s`: how long a stored result is kept (0: forever);
        `record_cache_entries`: opened records kept in this process (0: none)."""
        self.r = client
        self.k = Keys(prefix)
        self._secret = blocking_secret
        self.cap = cap_per_key
        self.broad_cap = min(broad_cap_per_key, cap_per_key)
        self.max_candidates = max_candidates
        self._prefetch = client.register_script(PREFETCH)
        self._resolve = client.register_script(RESOLVE)
        self._records = client.register_script(RECORDS)
        self.keystore = keystore
        self.result_ttl_ms = int(result_ttl_s * 1000)
        self._cache = _RecordCache(record_cache_entries)
        self._held = threading.local()  # .token: the lock's token while `held()` holds it

    @classmethod
    def private(cls, client: redis.Redis, prefix: str, blocking_secret: bytes = b"private",
                cap_per_key: int = 50, master: bytes = b"private-master-key",
                **options: Any) -> Index:
        """An index whose data keys live in the same Redis under its own prefix: for runs that
        are thrown away whole (tests, benchmarks), never for a service. `options`: the
        constructor's keyword arguments."""
        return cls(client, prefix, blocking_secret, cap_per_key,
                   KeyStore(client, prefix, master), **options)

    def check_layout(self) -> None:
        """Stamp an empty store with LAYOUT; ConfigError for a store written in another
        layout (read as this one, it would find no candidates and link nothing)."""
        stamp = self.r.get(self.k.layout)
        if stamp is None and not self.r.exists(self.k.seq):
            if self.r.set(self.k.layout, LAYOUT, nx=True):
                return
            stamp = self.r.get(self.k.layout)
        if stamp != LAYOUT:
            raise ConfigError(
                f"the matcher's store under key prefix {self.k.prefix!r} is in layout "
                f"{stamp or 'from before layouts were stamped'!s}, not {LAYOUT}: rebuild it "
                "into a new prefix (`signpost rebuild`) and point SIGNPOST_KEY_PREFIX at it")

    # --- sealed records -------------------------------------------------------------------

    def seal_record(self, features: Features, child_id: str, seq: int) -> str:
        """The stored form of a record (SealedRecord): ids in clear, every personal field
        sealed, positionally (`_pack`), bound to the record id, key id, agency and kind."""
        key_id, key = self.keystore.for_record(features.agency_id, features.agency_record_id,
                                               reuse_cached=True)
        blob = seal(key, _aad(features.event_id, key_id, features.agency_id,
                              features.agency_kind), _pack(features))
        return SealedRecord(features.event_id, child_id, seq, features.agency_id,
                            features.agency_kind, key_id, b64(blob)).dump()

    def open_records(self, stored: Iterable[StoredValue]) -> list[tuple[Features, str]]:
        """(features, child id as stored) of each stored record (`Prefetched.records`,
        `stored`) that can still be opened; one whose data key was deleted is skipped (it is
        shredded)."""
        return [(o.features, o.child_id) for o in self._opened(list(stored))]

    def sealed_records(self, refs: dict[str, int]) -> dict[str, SealedRecord]:
        """record id -> its stored form, of those of `refs` (record id -> sequence number,
        `record_seqs`) that exist (one command; nothing opened)."""
        return {rid: SealedRecord.parse(raw, seq) for rid, seq, raw in self.stored(refs)}

    def stored(self, refs: dict[str, int]) -> list[StoredValue]:
        """The records of `refs` (record id -> sequence number) that exist, in sequence order:
        one command (scripts.RECORDS)."""
        want = sorted(refs.items(), key=lambda kv: kv[1])
        found = {seq: (rid, raw) for rid, seq, raw in self._by_seq([q for _, q in want])}
        return [(rid, seq, found[seq][1]) for rid, seq in want
                if seq in found and found[seq][0] == rid]

    def _by_seq(self, seqs: list[int]) -> list[StoredValue]:
        """The records stored under these sequence numbers, of those that exist: one
        command (scripts.RECORDS)."""
        if not seqs:
            return []
        where = [self.k.record(q) for q in seqs]
        raw = self._records(keys=[b for b, _ in where], args=[f for _, f in where])
        return [(stored_record_id(str(v)), q, str(v))
                for q, v in zip(seqs, raw, strict=True) if v]

    def _opened(self, stored: list[StoredValue]) -> list[_Opened]:
        """The stored records whose data key still exists, opened.

        A record opened before with the very same stored value comes from the cache, but only
        while its data key can still be had (`KeyStore.get_many`: from the store, or from this
        process's key cache, CACHE_TTL_S at most), exactly as if it were opened again."""
        hits = [self._cache.get((rid, raw)) for rid, _, raw in stored]
        metas = [None if hit else SealedRecord.parse(raw, seq)
                 for (_, seq, raw), hit in zip(stored, hits, strict=True)]
        key_ids = [hit.key_id if hit else meta.key_id  # type: ignore[union-attr]
                   for hit, meta in zip(hits, metas, strict=True)]
        keys = self.keystore.get_many(key_ids)
        out = []
        for (rid, _, raw), hit, meta, key_id in zip(stored, hits, metas, key_ids, strict=True):
            key = keys.get(key_id)
            if key is None:
                continue  # shredded
            if hit is None:
                assert meta is not None
                hit = _open_record(key, rid, meta)
                self._cache.put((rid, raw), hit)
            out.append(hit)
        return out

    def lock(self, timeout_s: float = LOCK_TIMEOUT_S) -> Any:
        """The matchers' lock (redis-py's): held by a matcher for a poll batch
        (MATCHER_LOCK_TIMEOUT_S), by an operator's change for its transaction (`held`)."""
        return self.r.lock(self.k.lock, timeout=timeout_s, blocking_timeout=LOCK_WAIT_S)

    @contextmanager
    def held(self, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
        """Hold the matchers' lock for an operator's change (a merge, split or deletion):
        the transactions this thread opens meanwhile (`transaction()`) are fenced on it, so
        a change whose hold lapsed (a process stalled past `timeout_s`, and the lock perhaps
        taken by a matcher since) writes nothing (LockNotOwnedError) rather than what it
        read before the matcher's commits."""
        lock, token = self.lock(timeout_s), uuid.uuid4().hex  # as Engine.exclusive takes it
        if not lock.acquire(token=token):
            raise LockError("the matchers' lock was not acquired")
        self._held.token = token
        try:
            yield
        finally:
            self._held.token = None
            lock.release()

    def block_digests(self, f: Features) -> list[str]:
        """The keyed hashes naming a record's blocking keys (blocking.block_keys)."""
        return [self.digest(m) for m in block_keys(f)]

    def block_reads(self, f: Features) -> tuple[list[str], list[int]]:
        """`block_digests`, and the newest members an event reads from each: `broad_cap`
        from a broad key (blocking.is_broad), else `cap`."""
        materials = block_keys(f)
        return ([self.digest(m) for m in materials],
                [self.broad_cap if is_broad(m) else self.cap for m in materials])

    def digest(self, material: str) -> str:
        """The keyed hash naming a blocking or term-frequency key (64 bits: a collision
        only makes a record a candidate, or merges two counts)."""
        return keyed_digest(self._secret, material, BLOCK_DIGEST_HEX)

    def _arec(self, agency_id: str, agency_record_id: str) -> str:
        """The keyed hash of an agency record (128 bits: it finds the child)."""
        return keyed_digest(self._secret, record_material(agency_id, agency_record_id))

    def stored_result(self, event_id: str) -> str | None:
        """The stored result (Result JSON) of an event decided within the result TTL."""
        value = self.r.get(self.k.event(event_id))
        return unpack_json(str(value)) if value is not None else None

    def stored_results(self, event_ids: list[str]) -> dict[str, str]:
        """event id -> stored result JSON, of those still held: one MGET."""
        if not event_ids:
            return {}
        values = self.r.mget([self.k.event(i) for i in event_ids])
        return {i: unpack_json(str(v)) for i, v in zip(event_ids, values, strict=True)
                if v is not None}

    def rewrite_result(self, pipe: Any, event_id: str, result_json: str) -> None:
        """Queue, on a MULTI pipeline, a stored result rewritten (a split moved its event);
        it keeps the expiry it had."""
        pipe.set(self.k.event(event_id), pack_json(result_json), keepttl=True)

    def records(self, refs: dict[str, int]) -> list[StoredRecord]:
        """The records of `refs` (record id -> sequence number, `record_seqs`) that exist
        and can be opened, on the children that now stand for theirs."""
        opened = self.open_records(self.stored(refs))
        roots = self.resolve_many([cid for _, cid in opened])
        return [StoredRecord(f, roots[cid]) for f, cid in opened]

    def resolve_many(self, child_ids: list[str]) -> dict[str, str]:
        """child id -> the child that now stands for it (after merges): one command
        (scripts.RESOLVE follows the redirects inside Redis)."""
        unique = list(dict.fromkeys(child_ids))
        if not unique:
            return {}
        return dict(zip(unique, map(str, self._resolve(keys=[self.k.redirect], args=unique)),
                        strict=True))

    def resolve(self, child_id: str) -> str:
        return self.resolve_many([child_id])[child_id]

    def child_info(self, child_id: str) -> ChildInfo:
        return self.child_facts([child_id])[child_id].info

    def child_facts(self, child_ids: list[str]) -> dict[str, ChildFacts]:
        """Everything a decision reads of these children, in one round trip."""
        pipe = self.r.pipeline(transaction=False)
        for cid in child_ids:
            pipe.hgetall(self.k.child(cid))
            pipe.smembers(self.k.cannot_link(cid))
        replies = pipe.execute()
        out = {}
        for i, cid in enumerate(child_ids):
            raw, cannot = replies[2 * i:2 * i + 2]
            child = ChildHash.parse(raw)
            out[cid] = ChildFacts(
                created=int(child.plain.get("created") or 0), cannot=frozenset(cannot),
                info=ChildInfo(child_id=cid, agencies=child.agencies,
                               practitioners=[PractitionerOnRecord.from_stored(pid, p)
                                              for pid, p in child.practitioners.items()],
                               shielded=child.plain.get("shielded") == "1"))
        return out

    def child_hash(self, child_id: str) -> ChildHash:
        """A child's hash (keys.Keys.child) as it is, read apart; empty if there is none."""
        return ChildHash.read(self.r, self.k, child_id)

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

    def tf_keys(self, tf_values: dict[str, str]) -> list[tuple[str, str]]:
        """(comparison, term-frequency key) of each value the event has, in order."""
        return [(c, self.k.tf(c, self.digest(v))) for c, v in tf_values.items() if v]

    def prefetch_many(self, requests: list[PrefetchRequest]) -> list[Prefetched]:
        """Two round trips for what each event needs before scoring (scripts.PREFETCH, one
        command per event, in order): its stored result if it was decided already, else the
        record count, its sequence number, its term counts and its ranked candidates; then
        the candidates' stored records (scripts.RECORDS, one command for all)."""
        k = self.k
        pipe = self.r.pipeline(transaction=False)
        for q in requests:
            keys, fields = self._blocking(q.digests)
            pipe.evalsha(self._prefetch.sha, 3 + len(q.tf_keys) + len(keys),
                         k.event(q.event_id), k.tf_total, k.seq, *q.tf_keys, *keys,
                         len(q.tf_keys), self.max_candidates, *q.caps, *fields)
        try:
            replies = pipe.execute()
        except redis.exceptions.NoScriptError:  # a restarted Redis: load it, once, and again
            self._prefetch.sha = str(self.r.script_load(PREFETCH))
            return self.prefetch_many(requests)
        seqs = {int(reply[4][i]) for reply in replies if not reply[0]
                for i in range(0, len(reply[4]), 2)}
        found = {value[1]: value for value in self._by_seq(sorted(seqs))}
        out = []
        for reply in replies:
            if reply[0]:
                out.append(Prefetched(stored=unpack_json(str(reply[0]))))
                continue
            _, total, seq, counts, flat = reply
            ranked: list[Ranked] = []
            records: list[StoredValue] = []
            for i in range(0, len(flat), 2):
                value = found.get(int(flat[i]))
                if value is not None:  # else deleted since
                    ranked.append((value[0], int(flat[i + 1]), value[1]))
                    records.append(value)
            out.append(Prefetched(stored=None, total=int(total), seq=int(seq),
                                  counts=tuple(int(c or 0) for c in counts),
                                  ranked=tuple(ranked), records=tuple(records)))
        return out

    def _blocking(self, digests: Iterable[str]) -> tuple[list[str], list[str]]:
        """The Redis keys (per blocking key its bucket and overflow) and the bucket fields of
        blocking keys (keys.Keys.block), as the scripts take them."""
        keys: list[str] = []
        fields: list[str] = []
        for d in digests:
            bucket, field, overflow = self.k.block(d)
            keys += (bucket, overflow)
            fields.append(field)
        return keys, fields

    def _queue_unblock(self, pipe: Any, seq: int, digests: Iterable[str]) -> None:
        """Queue, on a MULTI pipeline, a record's removal from the blocking index and its
        deletion (scripts.UNBLOCK; EVAL, not EVALSHA, as COMMIT_RECORD in `queue_commit`)."""
        keys, fields = self._blocking(digests)
        pipe.eval(UNBLOCK, 1 + len(keys), self.k.record(seq)[0], *keys, seq, *fields)

    def next_seq(self) -> int:
        return int(self.r.incr(self.k.seq))

    def transaction(self, lock_token: str | None = None) -> Any:
        """A MULTI/EXEC pipeline: what is queued on it is written all at once or not at all.

        With `lock_token` (the matchers' lock, as its holder took it; by default the token
        `held()` holds in this thread, if any) it is fenced: written only if the lock still
        holds that token at EXEC (WATCH). A holder whose lock lapsed, and was perhaps taken
        by another matcher, writes nothing (LockNotOwnedError now, or WatchError at EXEC;
        the engine retries both) rather than racing the new holder."""
        lock_token = lock_token or getattr(self._held, "token", None)
        pipe: Any = self.r.pipeline(transaction=True)
        if lock_token is not None:
            pipe.watch(self.k.lock)
            held = pipe.get(self.k.lock)
            if (held.decode() if isinstance(held, bytes) else held) != lock_token:
                pipe.reset()
                raise LockNotOwnedError("the matchers' lock lapsed: nothing is written")
            pipe.multi()
        return pipe

    def queue_commit(
        self,
        pipe: Any,
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
        tf_keys: list[tuple[str, str]],
        outcome: str = "",
        review: tuple[str, str, float] | None = None,
        stats_bucket: int = 0,
        score: float | None = None,
        superseded: list[Superseded] | None = None,
    ) -> None:
        """Queue, on a `transaction()`, one event's record, keys, child updates, merges,
        stored result, review item (id, JSON, priority), dashboard count and the removal of
        records a correction supersedes. Nothing is read: a merge moves the loser's sets
        inside Redis (scripts.MERGE_CHILD), so it sees what the transaction queued before it.
        `shielded`: the event's own flag; a merged child's is carried over by the script."""
        k = self.k
        for old in superseded or ():
            self._queue_unblock(pipe, old.seq, old.digests)
            pipe.hdel(k.child(old.child_id), RECORD + _member(old.record_id))
        for loser in merge_from:
            self._merge_into(pipe, child_id, loser)
        arec_bucket, arec_field = k.agency_record(
            self._arec(features.agency_id, features.agency_record_id))
        own = k.block(self.digest(record_key(features.agency_id, features.agency_record_id)))
        counted = [k.tf_total, *(key for _, key in tf_keys)]
        blocking, fields = self._blocking(digests)
        # EVAL, not EVALSHA: inside MULTI a script unknown to a restarted Redis would fail
        # alone at EXEC while the rest of the transaction went through.
        pipe.eval(COMMIT_RECORD, 7 + len(blocking) + len(counted),
                  k.record(seq)[0], k.child(child_id), arec_bucket, own[2],
                  k.event(features.event_id), k.stats(stats_bucket), k.recent_scores,
                  *blocking,
                  *counted,
                  _member(features.event_id), seq, len(digests),
                  BLOCK_KEEP_CAPS * self.cap,
                  self.seal_record(features, child_id, seq), int(new_child), arec_field,
                  child_id,
                  features.agency_id, features.agency_kind, practitioner.id,
                  practitioner.stored(), int(shielded),
                  pack_json(result_json), self.result_ttl_ms, outcome, STATS_KEEP_S,
                  "" if score is None else f"{score:.4f}", SCORES_KEPT, BLOCK_INLINE_MAX,
                  *fields)
        if review is not None:
            pipe.set(k.review_item(review[0]), pack_json(review[1]))
            pipe.zadd(k.review_queue, {review[0]: review[2]}, nx=True)

    def merge(self, *, winner: str, loser: str) -> None:
        """Move everything of `loser` onto `winner` in one transaction (an accepted review).

        The caller holds the lock (`held`), so no event commits against either child
        meanwhile.
        """
        pipe = self.transaction()
        self._merge_into(pipe, winner, loser)
        pipe.execute()

    def bar(self, a: str, b: str) -> None:
        """Record that children `a` and `b` must never be linked (both directions, at once)."""
        pipe = self.transaction()
        pipe.sadd(self.k.cannot_link(a), b)
        pipe.sadd(self.k.cannot_link(b), a)
        pipe.execute()

    def record_ids(self, child_id: str) -> set[str]:
        """The ids of the records (events) on a child."""
        return set(self.record_seqs(child_id))

    def record_seqs(self, child_id: str) -> dict[str, int]:
        """record id -> sequence number (where it is stored) of the records on a child."""
        return self.child_hash(child_id).records

    def move_records(self, pipe: Any, source: str, target: str, seqs: dict[str, int]) -> None:
        """Queue, on a MULTI pipeline, the move of records (id -> sequence) from one child's
        record set to another's (a split)."""
        members = {RECORD + _member(rid): seq for rid, seq in seqs.items()}
        if members:
            pipe.hdel(self.k.child(source), *members)
            pipe.hset(self.k.child(target), mapping=members)

    def recent_scores(self) -> list[float | None]:
        """The newest events' best-candidate scores, newest first (None: no candidate)."""
        return [float(v) if v else None for v in self.r.lrange(self.k.recent_scores, 0, -1)]

    def _merge_into(self, pipe: Any, winner: str, loser: str) -> None:
        """Queue, on a MULTI pipeline, the move of everything of `loser` onto `winner`
        (scripts.MERGE_CHILD: EVAL, not EVALSHA, as COMMIT_RECORD in `queue_commit`)."""
        k = self.k
        pipe.eval(MERGE_CHILD, 5, k.child(winner), k.cannot_link(winner), k.child(loser),
                  k.cannot_link(loser), k.redirect, loser, winner)

    # --- deletion, retention and subject access (DESIGN §7) ------------------------------

    def superseded_by(self, correction: Features) -> list[Superseded]:
        """The earlier records of the correcting event's agency record (the caller holds
        `lock`): what the correction replaces."""
        agency = (correction.agency_id, correction.agency_record_id)
        bucket, field, overflow = self.k.block(self.digest(record_key(*agency)))
        inline = self.r.hget(bucket, field)
        members = (str(inline).split(",") if inline is not None
                   else map(str, self.r.zrange(overflow, 0, -1)))
        stored = [v for v in self._by_seq(sorted(int(m) for m in members))
                  if v[0] != correction.event_id]
        opened = [o for o in self._opened(stored)  # not a digest's namesake
                  if (o.features.agency_id, o.features.agency_record_id) == agency]
        roots = self.resolve_many([o.child_id for o in opened])
        return [Superseded(record_id=o.features.event_id, child_id=roots[o.child_id],
                           digests=tuple(self.block_digests(o.features)), seq=o.seq)
                for o in opened]

    def child_features(self, child_id: str) -> list[Features]:
        """Every record held on a child (resolved through merges), opened; oldest first."""
        opened = self._opened(self.stored(self.record_seqs(self.resolve(child_id))))
        return [o.features for o in sorted(opened, key=lambda o: o.seq)]

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

        The caller holds the lock (`held`). Copies of the sealed bytes elsewhere (a Redis dump, the
        events on Kafka) can no longer be opened. Term-frequency counts (keyed hashes of
        values, no personal data) are left as they are.
        """
        cid = self.resolve(child_id)
        refs = self.record_seqs(cid)
        stored = self.stored(refs)
        key_ids = {SealedRecord.parse(raw, seq).key_id for _, seq, raw in stored}
        pipe = self.transaction()
        for o in self._opened(stored):
            f = o.features
            self._queue_unblock(pipe, o.seq, self.block_digests(f))
            pipe.hdel(*self.k.agency_record(self._arec(f.agency_id, f.agency_record_id)))
        for rid, seq in refs.items():  # and those that did not open (unblocked: above)
            pipe.hdel(*self.k.record(seq))
            pipe.delete(self.k.event(rid))
        pipe.delete(self.k.child(cid), self.k.cannot_link(cid))
        pipe.execute()
        self._cache.drop((rid, raw) for rid, _, raw in stored)
        return Forgotten(child_id=cid, records=len(refs), keys=self.keystore.delete(key_ids))

    def claim_purge_run(self, interval_s: float) -> bool:
        """True for the one caller that claims this interval's scheduled retention purge:
        every matcher asks, one runs it, and a restart does not run it again early."""
        return bool(self.r.set(f"{self.k.p}:purge:claim", "1", nx=True,
                               px=max(1, int(interval_s * 1000))))


def _aad(record_id: str, key_id: str, agency_id: str, agency_kind: str) -> bytes:
    """Associated data of a sealed record: it opens only as this record, under this key, with
    the agency and kind stored in clear beside it."""
    return f"rec2|{record_id}|{key_id}|{agency_id}|{agency_kind}".encode()


@dataclass(frozen=True, slots=True)
class _Opened:
    """A stored record, opened."""

    features: Features
    child_id: str
    seq: int
    key_id: str


def _open_record(key: bytes, record_id: str, stored: SealedRecord) -> _Opened:
    """Open one stored record; CryptoError if it does not open as this record."""
    agency_id, agency_kind = stored.agency_id, stored.agency_kind
    plain = open_sealed(key, _aad(record_id, stored.key_id, agency_id, agency_kind),
                        unb64(stored.sealed))
    return _Opened(_unpack(plain, record_id, agency_id, agency_kind), stored.child_id,
                   stored.seq, stored.key_id)


_CLEAR = ("event_id", "agency_id", "agency_kind")  # not sealed: the key name, and in clear
_PACKED = tuple(f for f in dataclasses.fields(Features) if f.name not in _CLEAR)


_KINDS_PACKED = tuple(str(f.type) for f in _PACKED)
# The compact form of the sealed fields: PACKED_V2, then the fields in order, separated by
# US; None is RS; a tuple of tokens is space-joined when no token is empty or holds a space,
# else each token follows a GS; a pair's two halves are separated by FS. ~30 bytes a record
# smaller than a JSON array (no quotes, brackets or nulls). A record with any of these
# control characters in a value is packed as the JSON array instead, which still reads.
PACKED_V2 = "\x02"
_US, _RS, _GS, _FS = "\x1f", "\x1e", "\x1d", "\x1c"
_CONTROL = re.compile("[\x1c-\x1f]")


def _pack(f: Features) -> bytes:
    """The sealed fields of a record, positionally, in the compact form (above)."""
    values = [getattr(f, fld.name) for fld in _PACKED]
    if any(_has_control(v) for v in values):
        return _pack_json(f)
    out = []
    for value in values:
        if value is None:
            out.append(_RS)
        elif isinstance(value, bool):
            out.append("1" if value else "0")
        elif isinstance(value, str):
            out.append(value)
        elif _space_joinable(value):
            out.append(" ".join(value))
        else:
            out.append("".join(_GS + (_FS.join(t) if isinstance(t, tuple) else t)
                               for t in value))
    return (PACKED_V2 + _US.join(out)).encode()


def _space_joinable(value: tuple[Any, ...]) -> bool:
    """Whether a tuple is kept as its tokens joined by spaces (both forms): every token a
    non-empty string without a space."""
    return all(isinstance(t, str) and t and " " not in t for t in value)


def _has_control(value: Any) -> bool:
    """Whether a value holds one of the compact form's separators (then it is JSON)."""
    if isinstance(value, str):
        return _CONTROL.search(value) is not None
    if isinstance(value, tuple):
        return any(_has_control(t) for t in value)
    return False


def _pack_json(f: Features) -> bytes:
    """The sealed fields as a JSON array in field order: a tuple of tokens is one
    space-joined string when no token is empty or has a space, else a list."""
    return json.dumps([_pack_value(getattr(f, fld.name)) for fld in _PACKED],
                      separators=(",", ":"), ensure_ascii=False).encode()


def _pack_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, tuple):
        if _space_joinable(value):
            return " ".join(value)
        return [list(t) if isinstance(t, tuple) else t for t in value]
    return value


def _unpack(plain: bytes, event_id: str, agency_id: str, agency_kind: str) -> Features:
    """`_pack`'s inverse (either form): the same Features. Fields added since it was packed
    take their defaults."""
    if plain[:1] == _PACKED_V2_BYTE:
        values = plain[1:].decode().split(_US)
        if len(values) > len(_PACKED):
            raise CryptoError("a sealed record is not in the positional form")
        # Positionally: Features's fields are _CLEAR's, then _PACKED's (asserted below).
        return Features(event_id, agency_id, agency_kind,
                        *[read(text) for read, text in zip(_READERS, values, strict=False)])
    fields: dict[str, Any] = {"event_id": event_id, "agency_id": agency_id,
                              "agency_kind": agency_kind}
    values = json.loads(plain)
    if not isinstance(values, list) or len(values) > len(_PACKED):
        raise CryptoError("a sealed record is not in the positional form")
    for fld, value in zip(_PACKED, values, strict=False):
        fields[fld.name] = _unpack_value(str(fld.type), value)
    return Features(**fields)


def _read_tokens(text: str) -> tuple[str, ...]:
    if not text:
        return ()
    if text[0] != _GS:
        return tuple(text.split(" "))
    return tuple(text[1:].split(_GS))


def _read_pairs(text: str) -> tuple[Any, ...]:
    if not text:
        return ()
    if text[0] != _GS:
        return tuple(text.split(" "))
    return tuple(tuple(item.split(_FS)) for item in text[1:].split(_GS))


def _read_flag(text: str) -> bool:
    return text == "1"


def _read_text(text: str) -> str | None:
    return None if text == _RS else text


def _reader(kind: str) -> Callable[[str], Any]:
    """How one field of the compact form is read, by its type (`kind`)."""
    if kind.startswith("tuple[tuple"):
        return _read_pairs
    if kind.startswith("tuple"):
        return _read_tokens
    return _read_flag if kind == "bool" else _read_text


_PACKED_V2_BYTE = PACKED_V2.encode()
_READERS = tuple(_reader(kind) for kind in _KINDS_PACKED)  # one per _PACKED field
assert [f.name for f in dataclasses.fields(Features)] == [*_CLEAR, *(f.name for f in _PACKED)]


def _unpack_value(kind: str, value: Any) -> Any:
    if kind.startswith("tuple"):
        if isinstance(value, str):
            return tuple(value.split(" ")) if value else ()
        return tuple(tuple(t) if isinstance(t, list) else t for t in value)
    if kind == "bool":
        return bool(value)
    return value


def pack_json(text: str) -> str:
    """A stored result (or review item, which shares its explanation's vocabulary: 1,116 →
    392 characters on demo items) as kept: 'y1' and the base64 of its JSON compressed by zlib
    with the preset dictionary RESULT_ZDICT (on demo results 40% smaller than without it; base64
    rather than base85, which Python encodes ten times slower). A 4 KB window and memLevel 4
    suit a result of 1-3 KB: most of zlib's time with its defaults is setting up its 256 KB
    state."""
    packer = zlib.compressobj(6, zlib.DEFLATED, RESULT_WBITS, RESULT_MEMLEVEL,
                              zdict=RESULT_ZDICT)
    packed = packer.compress(text.encode()) + packer.flush()
    return "y1" + base64.b64encode(packed).decode("ascii")


def unpack_json(value: str) -> str:
    """`pack_json`'s inverse, and of its earlier form ('z': zlib without a dictionary);
    a value in neither form (JSON stored before them, or anything else) is given back as it
    is, to fail validation where it is read."""
    try:
        if value.startswith("y1"):
            unpacker = zlib.decompressobj(zlib.MAX_WBITS, zdict=RESULT_ZDICT)
            plain = unpacker.decompress(base64.b64decode(value[2:], validate=True))
            if not unpacker.eof:
                return value
            return (plain + unpacker.flush()).decode()
        if value.startswith("z"):
            return zlib.decompress(base64.b64decode(value[1:], validate=True)).decode()
    except (ValueError, zlib.error):
        pass
    return value


class _RecordCache:
    """Opened records by (record id, exact stored value), least recently used dropped first;
    thread-safe. A record whose stored value changed (moved by a split, re-sealed) is a new
    entry; one that was deleted is never asked for (its MGET returns nothing)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], _Opened] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> _Opened | None:
        if not self.size:
            return None
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: tuple[str, str], opened: _Opened) -> None:
        if not self.size:
            return
        with self._lock:
            self._items[key] = opened
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def drop(self, keys: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            for key in keys:
                self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)
