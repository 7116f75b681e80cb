"""The one place the audit chain is checked: every link, in seq order, and the head in Redis.

Pure: it takes the topic's messages (as read) and the head, and names the first broken record.
Kafka is append-only, so tampering means a rewritten copy of the topic, garbage appended, or a
record removed or replaced (compaction, a copy restored from backup); each breaks a link:
- a record whose content was altered: its hash no longer matches (named);
- a record altered and re-hashed: its successor's prev_hash no longer matches it (named);
- a record removed: its seq is missing (named);
- the whole tail re-hashed from an altered record on: the record at the head's seq differs from
  the head Redis kept (named; the chain alone cannot say where the rewrite began).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from schemas.audit import GENESIS_HASH, AuditRecord
from signpost.audit import StoredRecord, record_hash

__all__ = ["Break", "Verdict", "verify_chain"]


@dataclass(frozen=True, slots=True)
class Break:
    """The first broken record: its seq (if readable), where it is, and what is wrong."""

    seq: int | None
    partition: int | None
    offset: int | None
    problem: str

    def describe(self) -> str:
        where = ("" if self.offset is None
                 else f" (partition {self.partition}, offset {self.offset})")
        name = "a record" if self.seq is None else f"seq {self.seq}"
        return f"{name}{where}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Verdict:
    records: int
    last_seq: int
    last_hash: str
    duplicates: int
    first_break: Break | None

    @property
    def ok(self) -> bool:
        return self.first_break is None


@dataclass(frozen=True, slots=True)
class _Link:
    record: AuditRecord
    fields: dict[str, Any]
    stored: StoredRecord


def _parse(stored: StoredRecord) -> _Link | Break:
    def bad(seq: object, problem: str) -> Break:
        return Break(seq if isinstance(seq, int) else None, stored.partition, stored.offset,
                     problem)

    try:
        fields = json.loads(stored.value)
    except ValueError:
        return bad(None, "not JSON (garbage on the audit topic)")
    try:
        return _Link(AuditRecord.model_validate(fields), fields, stored)
    except ValidationError:
        return bad(fields.get("seq") if isinstance(fields, dict) else None,
                   "not a valid audit record")


def _at(link: _Link, problem: str) -> Break:
    return Break(link.record.seq, link.stored.partition, link.stored.offset, problem)


def _by_seq(links: list[_Link]) -> tuple[list[_Link], int, Break | None]:
    """One link per seq, in seq order; identical re-sends dropped, differing copies a break."""
    chosen: dict[int, _Link] = {}
    duplicates = 0
    for link in sorted(links, key=lambda k: (k.record.seq, k.stored.partition, k.stored.offset)):
        first = chosen.setdefault(link.record.seq, link)
        if first is link:
            continue
        if first.fields != link.fields:
            return [], duplicates, _at(link, f"a second, different record with this seq "
                                             f"(the first is at offset {first.stored.offset})")
        duplicates += 1
    return [chosen[s] for s in sorted(chosen)], duplicates, None


def _walk(chain: list[_Link]) -> Break | None:
    """The first record whose seq, own hash or link to its predecessor is wrong."""
    prev: _Link | None = None
    for expected, link in enumerate(chain, start=1):
        if link.record.seq != expected:
            return Break(expected, None, None, "missing (removed, or its writer failed)")
        if record_hash(link.fields) != link.record.hash:
            return _at(link, "its hash does not match its content (altered)")
        prev_hash = GENESIS_HASH if prev is None else prev.record.hash
        if link.record.prev_hash != prev_hash:
            if prev is None:
                return _at(link, "the first record does not start from the genesis hash")
            return _at(prev, f"seq {link.record.seq} was chained to a different record "
                             f"(this one was altered and re-hashed, or replaced)")
        prev = link
    return None


def _against_head(chain: list[_Link], head: tuple[int, str]) -> Break | None:
    """The head Redis kept must be in the chain (records after it were appended since)."""
    seq, digest = head
    if seq == 0:
        return None
    if seq > len(chain):
        return Break(len(chain) + 1, None, None,
                     f"missing: the head in Redis is at seq {seq} (removed, or still in flight)")
    link = chain[seq - 1]
    if link.record.hash != digest:
        return _at(link, "differs from the head Redis kept: the chain was rewritten up to here")
    return None


def verify_chain(stored: Iterable[StoredRecord],
                 head: tuple[int, str] | None = None) -> Verdict:
    """Check every record and link; `head` is (seq, hash) read from Redis before the topic."""
    links: list[_Link] = []
    for item in stored:
        parsed = _parse(item)
        if isinstance(parsed, Break):
            return Verdict(len(links), 0, GENESIS_HASH, 0, parsed)
        links.append(parsed)
    chain, duplicates, broken = _by_seq(links)
    broken = broken or _walk(chain)
    if broken is None and head is not None:
        broken = _against_head(chain, head)
    last = chain[-1].record if chain else None
    return Verdict(len(chain), last.seq if last else 0, last.hash if last else GENESIS_HASH,
                   duplicates, broken)
