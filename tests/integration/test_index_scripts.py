"""The index's Lua scripts against a real Redis: the same answers as the Python they replace."""

from __future__ import annotations

import random

import pytest
import redis

from services.matcher.candidates import ranked_candidates
from services.matcher.scripts import INDEX_RECORD, PREFETCH, RESOLVE

pytestmark = pytest.mark.integration


@pytest.fixture
def tag(key_prefix: str) -> str:
    """A hash tag of this test's own: every key of the test is `{tag}:...`, deleted after."""
    return f"{{{key_prefix}}}"


def test_prefetch_ranks_like_ranked_candidates(redis_client: redis.Redis, tag: str) -> None:
    rng = random.Random(7)
    prefetch = redis_client.register_script(PREFETCH)
    for trial in range(30):
        blocks = [f"{tag}:b{trial}:{i}" for i in range(rng.randint(0, 12))]
        for key in blocks:
            members = rng.sample(range(300), rng.randint(0, 80))
            if members:
                redis_client.zadd(key, {f"m{m}": rng.randint(1, 10_000) for m in members})
        cap, keep = rng.choice([5, 50]), rng.choice([3, 40, 1000])
        per_key = [redis_client.zrevrange(key, 0, cap - 1) for key in blocks]
        reply = prefetch(keys=[f"{tag}:evt", f"{tag}:total", f"{tag}:seq", *blocks],
                         args=[0, cap, keep])
        assert reply[0] == ""
        assert reply[4] == ranked_candidates(per_key, keep)


def test_prefetch_reads_counts_and_a_decided_event_returns_its_result(
        redis_client: redis.Redis, tag: str) -> None:
    prefetch = redis_client.register_script(PREFETCH)
    redis_client.set(f"{tag}:total", 900)
    redis_client.set(f"{tag}:tf1", 12)
    keys = [f"{tag}:evt", f"{tag}:total", f"{tag}:seq", f"{tag}:tf1", f"{tag}:tf2"]
    first = prefetch(keys=keys, args=[2, 50, 40])
    assert first == ["", "900", 1, ["12", "0"], []]
    assert prefetch(keys=keys, args=[2, 50, 40])[2] == 2
    redis_client.set(f"{tag}:evt", "RESULT")
    assert prefetch(keys=keys, args=[2, 50, 40]) == ["RESULT"]
    assert redis_client.get(f"{tag}:seq") == "2"  # a decided event takes no sequence number


def test_resolve_follows_merges(redis_client: redis.Redis, tag: str) -> None:
    redirect = f"{tag}:redirect"
    redis_client.hset(redirect, mapping={"a": "b", "b": "c", "x": "y"})
    resolve = redis_client.register_script(RESOLVE)
    assert resolve(keys=[redirect], args=["a", "b", "c", "x", "z"]) == ["c", "c", "c", "y", "z"]
    assert resolve(keys=[redirect], args=[]) == []


def test_index_record_adds_trims_and_counts(redis_client: redis.Redis, tag: str) -> None:
    script = redis_client.register_script(INDEX_RECORD)
    blocks = [f"{tag}:b1", f"{tag}:b2"]
    counts = [f"{tag}:total", f"{tag}:tf"]
    for seq in range(1, 6):
        script(keys=[*blocks, *counts], args=[f"m{seq}", seq, 2, 3 if seq == 5 else 0])
    assert redis_client.zrevrange(blocks[0], 0, -1) == ["m5", "m4", "m3"]
    assert redis_client.zrange(blocks[1], 0, -1, withscores=True)[-1] == ("m5", 5.0)
    assert redis_client.get(counts[0]) == "5" and redis_client.get(counts[1]) == "5"


def test_who_else_follows_merges_as_the_index_does(redis_client: redis.Redis,
                                                    key_prefix: str) -> None:
    from services.matcher.index import Index
    from services.matcher.lookup import Lookup

    index = Index.private(redis_client, key_prefix)
    redis_client.hset(index.k.redirect, mapping={"C1": "C2", "C2": "C3"})
    lookup = Lookup(redis_client, key_prefix)
    assert [lookup.resolve(c) for c in ("C1", "C2", "C3", "C9")] == ["C3", "C3", "C3", "C9"]
    assert index.resolve_many(["C1", "C9"]) == {"C1": "C3", "C9": "C9"}
