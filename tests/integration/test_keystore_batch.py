"""KeyStore.for_records (ingest's batch path) against a real Redis: the same keys as
for_record, made once, and never a deleted key brought back from memory."""

from __future__ import annotations

import uuid

import pytest
import redis

from signpost.crypto import KeyStore

pytestmark = pytest.mark.integration


def keystore(client: redis.Redis, prefix: str) -> KeyStore:
    return KeyStore(client, prefix, b"m" * 32)


def test_a_batch_gets_the_keys_one_record_at_a_time_would(redis_client: redis.Redis) -> None:
    prefix = f"ks{uuid.uuid4().hex[:8]}"
    store = keystore(redis_client, prefix)
    existing = store.for_record("school-1", "R1")
    got = store.for_records([("school-1", "R1"), ("gp-2", "P9"), ("school-1", "R1"),
                             ("gp-2", "P9")])
    assert set(got) == {("school-1", "R1"), ("gp-2", "P9")}
    assert got[("school-1", "R1")] == existing
    # another process (its own memory) reads the key this batch created from the store
    other = keystore(redis_client, prefix)
    assert other.for_record("gp-2", "P9") == got[("gp-2", "P9")]
    assert other.for_records([("gp-2", "P9")])[("gp-2", "P9")] == got[("gp-2", "P9")]
    assert store.for_records([]) == {}


def test_a_deleted_key_is_replaced_not_served_from_memory(redis_client: redis.Redis) -> None:
    store = keystore(redis_client, f"ks{uuid.uuid4().hex[:8]}")
    old_id, old_key = store.for_records([("school-1", "R1")])[("school-1", "R1")]
    keystore(redis_client, store.prefix).delete([old_id])  # shredded by another process
    new_id, new_key = store.for_records([("school-1", "R1")])[("school-1", "R1")]
    assert new_id == old_id  # the id is a keyed hash of the record
    assert new_key != old_key
    assert keystore(redis_client, store.prefix).get(new_id) == new_key


@pytest.mark.parametrize(("entries", "served_from_memory"), [(3, True), (2, False), (0, False)])
def test_the_key_cache_holds_as_many_keys_as_it_is_given(
        redis_client: redis.Redis, entries: int, served_from_memory: bool) -> None:
    """SIGNPOST_KEY_CACHE_ENTRIES: a key read for opening stays in memory (for
    CACHE_TTL_S at most) only while it is among the newest `entries` used."""
    prefix = f"ks{uuid.uuid4().hex[:8]}"
    made = keystore(redis_client, prefix).for_records([("s", "R1"), ("s", "R2"), ("s", "R3")])
    ids = [key_id for key_id, _ in made.values()]
    reader = KeyStore(redis_client, prefix, b"m" * 32, cache_entries=entries)
    assert set(reader.get_many(ids)) == set(ids)  # R1 is the oldest used
    redis_client.delete(reader._name(ids[0]))  # gone from the store, behind the reader's back
    assert (ids[0] in reader.get_many(ids[:1])) is served_from_memory
