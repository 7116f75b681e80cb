"""The one place a wrong merge is undone: records move off a child onto a new or existing one.

Run under the engine's lock (Index.held), so no event is matched against a half-moved child,
and written in one MULTI/EXEC transaction fenced on it (nothing is written if the hold
lapsed): each moved record's child id, both children's record sets, agencies and
practitioners (rebuilt from the records that stay), the stored results of the moved events
(so a replayed event reports where it now is), and a cannot-link constraint both ways, so
the engine never merges the two again.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from services.matcher.errors import SplitRefused
from services.matcher.index import Index, PractitionerOnRecord, SealedRecord
from services.matcher.keys import AGENCY, PRACTITIONER

__all__ = ["SplitResult", "split_child"]


@dataclass(frozen=True, slots=True)
class SplitResult:
    source: str
    target: str
    moved: tuple[str, ...]
    new_child: bool


def _checked(members: set[str], source: str, moved: set[str], target: str | None) -> set[str]:
    """The records that stay; SplitRefused if the request does not fit the child (whose
    records are `members`)."""
    if not moved or not moved <= members:
        raise SplitRefused(f"records to move must be on child {source}")
    if moved == members:
        raise SplitRefused(f"moving every record of {source} would leave it empty")
    if target is not None and target == source:
        raise SplitRefused("a child cannot be split into itself")
    return members - moved


def _agencies(records: dict[str, SealedRecord]) -> dict[str, str]:
    return {r.agency_id: r.agency_kind for r in records.values()}


def _practitioners(all_pracs: dict[str, str], agencies: dict[str, str]) -> dict[str, str]:
    """Practitioners of the agencies that have a record on the child."""
    return {pid: v for pid, v in all_pracs.items()
            if PractitionerOnRecord.from_stored(pid, v).agency_id in agencies}


def _rewrite_results(index: Index, pipe: Any, moved: set[str], target: str) -> None:
    """Point the stored result of each moved event at its new child."""
    for event_id, raw in index.stored_results(sorted(moved)).items():
        result = json.loads(raw)
        result["decision"]["child_id"] = target
        index.rewrite_result(pipe, event_id, json.dumps(result, separators=(",", ":")))


def _fields(agencies: dict[str, str], practitioners: dict[str, str]) -> dict[str, str]:
    """A child hash's agency and practitioner fields (keys.Keys.child)."""
    return {**{AGENCY + a: kind for a, kind in agencies.items()},
            **{PRACTITIONER + pid: v for pid, v in practitioners.items()}}


def split_child(*, index: Index, child_id: str, record_ids: list[str], into: str | None,
                new_child_id: str) -> SplitResult:
    """Move `record_ids` off `child_id` onto `into` (an existing child) or a new child."""
    k = index.k
    with index.held():
        source = index.resolve(child_id)
        target = index.resolve(into) if into else new_child_id
        child = index.child_hash(source)
        refs, pracs = child.records, child.practitioners
        stay = _checked(set(refs), source, set(record_ids), target)
        records = index.sealed_records(refs)  # one read: the moving and the staying
        moving = {rid: rec for rid, rec in records.items() if rid not in stay}
        staying = {rid: rec for rid, rec in records.items() if rid in stay}
        shielded = child.plain.get("shielded") == "1"
        pipe: Any = index.transaction()
        for rec in moving.values():
            pipe.hset(*k.record(rec.seq), dataclasses.replace(rec, child_id=target).dump())
        index.move_records(pipe, source, target, {rid: rec.seq for rid, rec in moving.items()})
        pipe.hdel(k.child(source), *_fields(child.agencies, pracs))
        pipe.hset(k.child(source), mapping=_fields(
            _agencies(staying), _practitioners(pracs, _agencies(staying))))
        pipe.hset(k.child(target), mapping=_fields(
            _agencies(moving), _practitioners(pracs, _agencies(moving))))
        if into is None:
            pipe.hset(k.child(target), mapping={"created": index.next_seq(),
                                                "shielded": "1" if shielded else "0"})
        pipe.sadd(k.cannot_link(source), target)
        pipe.sadd(k.cannot_link(target), source)
        _rewrite_results(index, pipe, set(moving), target)
        pipe.execute()
    return SplitResult(source, target, tuple(sorted(moving)), into is None)
