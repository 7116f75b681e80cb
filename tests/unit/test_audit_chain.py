"""The audit chain, pure: sealing, and `verify_chain` naming the first broken record."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

from schemas.audit import GENESIS_HASH, AuditAction, AuditRecord
from signpost.audit import StoredRecord, canonical, record_hash, seal
from signpost.audit_verify import verify_chain

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _fields(i: int) -> dict[str, object]:
    return {"at": T0 + timedelta(minutes=i), "service": "notifier", "actor": f"sw-{i % 3}",
            "role": "professional", "action": AuditAction.inbox_read, "child_id": f"c-{i}",
            "relationship": True}


def _chain(n: int) -> list[AuditRecord]:
    records, prev = [], GENESIS_HASH
    for i in range(1, n + 1):
        records.append(seal(_fields(i), i, prev))
        prev = records[-1].hash
    return records


def _stored(records: list[AuditRecord]) -> list[StoredRecord]:
    return [StoredRecord(0, i, canonical(r.model_dump(mode="json")))
            for i, r in enumerate(records)]


def _edit(stored: StoredRecord, rehash: bool = False, **changes: object) -> StoredRecord:
    fields = {**json.loads(stored.value), **changes}
    if rehash:
        fields["hash"] = record_hash(fields)
    return StoredRecord(stored.partition, stored.offset, canonical(fields))


def _rechain_from(stored: list[StoredRecord], start: int, **changes: object) -> None:
    """What a forger with write access would do: alter one record, re-hash every later one."""
    stored[start] = _edit(stored[start], rehash=True, **changes)
    for i in range(start + 1, len(stored)):
        prev = json.loads(stored[i - 1].value)["hash"]
        stored[i] = _edit(stored[i], rehash=True, prev_hash=prev)


def test_a_sealed_chain_verifies() -> None:
    records = _chain(5)
    verdict = verify_chain(_stored(records), head=(5, records[-1].hash))
    assert verdict.ok and verdict.records == 5 and verdict.last_seq == 5
    assert records[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))


def test_an_empty_chain_verifies() -> None:
    assert verify_chain([], head=(0, GENESIS_HASH)).ok


def test_hash_covers_every_field_but_itself() -> None:
    record = _chain(1)[0]
    fields = record.model_dump(mode="json")
    assert record_hash(fields) == record.hash
    for name in ("actor", "child_id", "at", "prev_hash", "seq", "purpose"):
        assert record_hash({**fields, name: "x"}) != record.hash, name


def test_an_altered_record_is_named() -> None:
    stored = _stored(_chain(6))
    stored[3] = _edit(stored[3], actor="someone-else")
    broken = verify_chain(stored).first_break
    assert broken is not None and (broken.seq, broken.offset) == (4, 3)
    assert "hash does not match" in broken.problem


def test_an_altered_and_rehashed_record_is_named() -> None:
    stored = _stored(_chain(6))
    stored[2] = _edit(stored[2], rehash=True, child_id="c-99")
    broken = verify_chain(stored).first_break
    assert broken is not None and (broken.seq, broken.offset) == (3, 2)


def test_a_removed_record_is_named() -> None:
    stored = _stored(_chain(6))
    del stored[4]
    broken = verify_chain(stored).first_break
    assert broken is not None and broken.seq == 5 and "missing" in broken.problem


def test_removed_tail_is_caught_by_the_head() -> None:
    records = _chain(6)
    verdict = verify_chain(_stored(records)[:4], head=(6, records[-1].hash))
    assert verdict.first_break is not None and verdict.first_break.seq == 5


def test_a_rewritten_tail_is_caught_by_the_head() -> None:
    records = _chain(6)
    stored = _stored(records)
    _rechain_from(stored, 2, purpose="made up")
    assert verify_chain(stored).ok  # internally consistent: only the head can tell
    broken = verify_chain(stored, head=(6, records[-1].hash)).first_break
    assert broken is not None and broken.seq == 6 and "rewritten" in broken.problem


def test_records_appended_after_the_head_was_read_are_fine() -> None:
    records = _chain(6)
    assert verify_chain(_stored(records), head=(4, records[3].hash)).ok


def test_identical_resends_are_tolerated_and_out_of_order_is_sorted() -> None:
    stored = _stored(_chain(4))
    resent = [stored[0], stored[2], stored[1], StoredRecord(0, 9, stored[2].value), stored[3]]
    verdict = verify_chain(resent)
    assert verdict.ok and verdict.duplicates == 1 and verdict.records == 4


def test_a_second_different_record_with_one_seq_is_named() -> None:
    stored = _stored(_chain(4))
    forged = _edit(stored[1], rehash=True, actor="intruder")
    broken = verify_chain([*stored, StoredRecord(0, 4, forged.value)]).first_break
    assert broken is not None and (broken.seq, broken.offset) == (2, 4)


def test_garbage_on_the_topic_is_named() -> None:
    stored = _stored(_chain(3))
    broken = verify_chain([*stored, StoredRecord(0, 3, b"\x00garbage")]).first_break
    assert broken is not None and broken.offset == 3 and broken.seq is None
    bad = StoredRecord(0, 4, json.dumps({"seq": 4, "actor": "x"}).encode())
    broken = verify_chain([*stored, bad]).first_break
    assert broken is not None and broken.seq == 4


def test_a_chain_not_starting_at_genesis_is_named() -> None:
    stored = _stored(_chain(2))
    stored[0] = _edit(stored[0], rehash=True, prev_hash="1" * 64)
    broken = verify_chain(stored).first_break
    assert broken is not None and broken.seq == 1
