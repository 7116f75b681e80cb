"""The index's compact storage against a real Redis: stored results are compressed and expire,
records open to the very Features sealed, and the cache of opened records serves nothing that
was deleted or shredded."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis

from services.matcher.engine import Engine
from services.matcher.index import LAYOUT, Index, SealedRecord
from services.matcher.keys import compact_id, full_id
from services.matcher.model import default_model
from services.matcher.standardise import Features
from signpost.crypto import CryptoError
from signpost.errors import ConfigError
from tests.support.events import make_standardised as std

pytestmark = pytest.mark.integration


def odd_features(event_id: str, **changes: Any) -> Features:
    """Features with every shape the packed form must keep: empty tuples, a token with a space
    and an empty token, None, a carer with a space, a closure."""
    values: dict[str, Any] = dict(
        event_id=event_id, agency_id="school-0042", agency_kind="school",
        agency_record_id="R 1", given=("anne", "marie"), middle=(), family=("o brien", ""),
        other_names=("x",), dob=None, sex="U", nhs=None, postcode="N17 9EJ",
        address=("12", "somerset", "road"), town="", carers=(("marie therese", "kouao"),),
        closed=True)
    values.update(changes)
    return Features(**values)


def test_stored_results_expire_and_the_record_stays(redis_client: redis.Redis,
                                                    key_prefix: str) -> None:
    index = Index.private(redis_client, key_prefix, result_ttl_s=0.3)
    engine = Engine(index, default_model(), shared=False)
    event = std()
    first = engine.process(event)
    event_id = str(event.event.event_id)
    assert 0 < redis_client.pttl(index.k.event(event_id)) <= 300
    assert engine.process(event) == first, "a redelivery within the TTL gets its result"
    time.sleep(0.5)
    assert index.stored_result(event_id) is None
    assert [f.event_id for f in index.child_features(first.decision.child_id)] == [event_id]


def test_results_kept_forever_with_ttl_zero(redis_client: redis.Redis, key_prefix: str) -> None:
    index = Index.private(redis_client, key_prefix, result_ttl_s=0)
    event = std()
    Engine(index, default_model(), shared=False).process(event)
    assert redis_client.pttl(index.k.event(str(event.event.event_id))) == -1


def _put(index: Index, f: Features, child_id: str, seq: int) -> None:
    """A record sealed and stored where the index keeps it (its bucket, under `seq`)."""
    index.r.hset(*index.k.record(seq), index.seal_record(f, child_id, seq))


def _open(index: Index, refs: dict[str, int]) -> list[tuple[Features, str]]:
    return index.open_records(index.stored(refs))


def test_records_open_to_the_features_sealed(redis_client: redis.Redis, key_prefix: str) -> None:
    index = Index.private(redis_client, key_prefix, record_cache_entries=0)
    plain = odd_features(str(uuid.uuid4()), closed=False, given=("", "a"), carers=())
    odd = odd_features("not-a-uuid")
    _put(index, plain, "C1", 6)
    _put(index, odd, "C1", 7)
    refs = {plain.event_id: 6, odd.event_id: 7}
    assert _open(index, refs) == [(plain, "C1"), (odd, "C1")]
    raw = str(redis_client.hget(*index.k.record(7)))
    fields = raw.split("|")
    assert fields[:2] == ["r3", "=not-a-uuid"] and fields[4] == "s"  # the kind's letter
    assert len(fields[2]) == 22 and fields[-1] == odd.agency_id
    stored = SealedRecord.parse(raw, 7)
    assert (stored.record_id, stored.child_id, stored.seq, stored.agency_id,
            stored.agency_kind) == (odd.event_id, "C1", 7, odd.agency_id, odd.agency_kind)
    assert stored.key_id == index.keystore.key_id(odd.agency_id, odd.agency_record_id)
    assert _open(index, {odd.event_id: 6}) == [], "a record is read only as its own id"
    for junk in ("r3|x", "r2|7|k|C1|gp|s|a", "{}", "plain"):
        redis_client.hset(*index.k.record(7), junk)
        with pytest.raises(CryptoError, match="no known form"):
            index.open_records([(odd.event_id, 7, junk)])
    with pytest.raises(ValueError, match=r"no '\|'"):
        dataclasses.replace(stored, child_id="C|1").dump()
    with pytest.raises(ValueError, match="letters"):
        dataclasses.replace(stored, agency_kind="s").dump()
    unknown = dataclasses.replace(stored, agency_kind="regional_service")
    assert SealedRecord.parse(unknown.dump(), 7) == unknown, "a kind without a letter"
    piped = odd_features(str(uuid.uuid4()), agency_id="la|42")  # the one field that may
    _put(index, piped, "C1", 8)
    assert _open(index, {piped.event_id: 8}) == [(piped, "C1")]


def test_tampered_clear_fields_do_not_open(redis_client: redis.Redis, key_prefix: str) -> None:
    index = Index.private(redis_client, key_prefix, record_cache_entries=0)
    f = odd_features(str(uuid.uuid4()))
    stored = SealedRecord.parse(index.seal_record(f, "C1", 1), 1)
    redis_client.hset(*index.k.record(1), dataclasses.replace(stored, agency_kind="gp").dump())
    with pytest.raises(Exception, match="does not open"):
        _open(index, {f.event_id: 1})


def test_ids_in_keys_and_members_are_compact_and_reversible() -> None:
    eid = str(uuid.uuid4())
    assert len(compact_id(eid)) == 22 and full_id(compact_id(eid)) == eid
    for other in ["e1", eid.upper(), "=x", "", "a" * 22]:
        assert full_id(compact_id(other)) == other
    assert full_id(eid) == eid, "a member written before the compact form"


def test_cache_serves_a_record_read_again(redis_client: redis.Redis, key_prefix: str) -> None:
    index = Index.private(redis_client, key_prefix, record_cache_entries=2)
    fs = [odd_features(str(uuid.uuid4()), agency_record_id=f"R{i}") for i in range(3)]
    refs = {f.event_id: seq for seq, f in enumerate(fs, 1)}
    for f in fs:
        _put(index, f, "C1", refs[f.event_id])
    (once,) = _open(index, {fs[0].event_id: 1})
    (again,) = _open(index, {fs[0].event_id: 1})
    assert again == once and again[0] is once[0], "opened once, then served from the cache"
    # A changed stored value (a split moves the record) is opened again, never the old one.
    _put(index, fs[0], "C2", 1)
    assert _open(index, {fs[0].event_id: 1}) == [(fs[0], "C2")]
    _open(index, refs)
    assert len(index._cache) == 2, "bounded"
    redis_client.hdel(*index.k.record(3))
    assert [f.event_id for f, _ in _open(index, refs)] == [
        fs[0].event_id, fs[1].event_id], "a deleted record is not served from the cache"


def test_cache_serves_nothing_shredded(redis_client: redis.Redis, key_prefix: str) -> None:
    """forget_child, then a backup's bytes put back: nothing opens, in this process or in
    another once its key cache has let the data key go (CACHE_TTL_S at most)."""
    here = Index.private(redis_client, key_prefix)
    engine = Engine(here, default_model(), shared=False)
    first = engine.process(std()).decision
    engine.process(std(agency_id="gp-7", agency_kind="gp", record_id="G1"))
    refs = here.record_seqs(first.child_id)
    assert len(refs) == 2
    elsewhere = Index.private(redis_client, key_prefix)
    assert len(_open(elsewhere, refs)) == 2  # now cached there too
    backup = here.stored(refs)
    assert len(_open(here, refs)) == 2
    with here.lock():
        gone = here.forget_child(first.child_id)
    assert (gone.records, gone.keys) == (2, 2)
    assert here.stored(refs) == [], "the records are deleted"
    for _, seq, raw in backup:
        redis_client.hset(*here.k.record(seq), raw)
    assert _open(here, refs) == []
    assert len(here._cache) == 0
    key_ids = {SealedRecord.parse(raw, seq).key_id for _, seq, raw in backup}
    elsewhere.keystore._cache.drop(key_ids)  # its key cache expired
    assert _open(elsewhere, refs) == []


def test_stored_results_are_compressed_and_keep_their_ttl(redis_client: redis.Redis,
                                                          key_prefix: str) -> None:
    index = Index.private(redis_client, key_prefix, result_ttl_s=60)
    event = std()
    result = Engine(index, default_model(), shared=False).process(event)
    event_id = str(event.event.event_id)
    raw = str(redis_client.get(index.k.event(event_id)))
    assert raw.startswith("y1") and len(raw) < len(result.model_dump_json())
    assert index.stored_result(event_id) == result.model_dump_json()
    assert index.stored_results([event_id, str(uuid.uuid4())]) == {
        event_id: result.model_dump_json()}
    pipe = redis_client.pipeline(transaction=True)
    index.rewrite_result(pipe, event_id, '{"moved":1}')
    pipe.execute()
    assert index.stored_result(event_id) == '{"moved":1}'
    assert 0 < redis_client.pttl(index.k.event(event_id)) <= 60_000, "a rewrite keeps the TTL"
    for plain in ['{"decision":1}', "{broken", "z-not-packed", "y1-not-packed"]:  # not packed
        redis_client.set(index.k.event(event_id), plain)
        assert index.stored_result(event_id) == plain


def test_a_store_in_another_layout_is_refused_and_an_empty_one_stamped(
        redis_client: redis.Redis, new_prefix: Callable[[], str]) -> None:
    fresh = Index.private(redis_client, new_prefix())
    fresh.check_layout()
    assert redis_client.get(fresh.k.layout) == LAYOUT
    fresh.check_layout()  # its own stamp: fine
    old = Index.private(redis_client, new_prefix())
    redis_client.set(old.k.seq, 41)  # events written by a version before the stamp
    with pytest.raises(ConfigError, match=r"from before layouts were stamped.*signpost rebuild"):
        old.check_layout()
    redis_client.set(old.k.layout, "some-other-layout")
    with pytest.raises(ConfigError, match="in layout some-other-layout"):
        old.check_layout()
