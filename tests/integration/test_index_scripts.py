"""The index's Lua scripts against a real Redis: the same answers as the Python they replace."""

from __future__ import annotations

import random

import pytest
import redis

from services.matcher.candidates import ranked_candidates
from services.matcher.scripts import COMMIT_RECORD, MERGE_CHILD, PREFETCH, RESOLVE

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
            if members:  # a record has one sequence, whichever keys it is under
                redis_client.zadd(key, {f"m{m}": 10_000 - m for m in members})
        keep = rng.choice([3, 40, 1000])
        caps = [rng.choice([0, 5, 50]) for _ in blocks]  # a batch reads fewer from some keys
        per_key = [[(m, int(s)) for m, s in redis_client.zrevrange(key, 0, cap - 1,
                                                                  withscores=True)]
                   if cap else [] for key, cap in zip(blocks, caps, strict=True)]
        reply = prefetch(keys=[f"{tag}:evt", f"{tag}:total", f"{tag}:seq", *blocks],
                         args=[0, keep, *caps])
        assert reply[0] == ""
        flat = reply[4]
        got = [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]
        assert got == ranked_candidates(per_key, keep)


def test_prefetch_reads_counts_and_a_decided_event_returns_its_result(
        redis_client: redis.Redis, tag: str) -> None:
    prefetch = redis_client.register_script(PREFETCH)
    redis_client.set(f"{tag}:total", 900)
    redis_client.set(f"{tag}:tf1", 12)
    keys = [f"{tag}:evt", f"{tag}:total", f"{tag}:seq", f"{tag}:tf1", f"{tag}:tf2"]
    first = prefetch(keys=keys, args=[2, 40])
    assert first == ["", "900", 1, ["12", "0"], []]
    assert prefetch(keys=keys, args=[2, 40])[2] == 2
    redis_client.set(f"{tag}:evt", "RESULT")
    assert prefetch(keys=keys, args=[2, 40]) == ["RESULT"]
    assert redis_client.get(f"{tag}:seq") == "2"  # a decided event takes no sequence number


def test_resolve_follows_merges(redis_client: redis.Redis, tag: str) -> None:
    redirect = f"{tag}:redirect"
    redis_client.hset(redirect, mapping={"a": "b", "b": "c", "x": "y"})
    resolve = redis_client.register_script(RESOLVE)
    assert resolve(keys=[redirect], args=["a", "b", "c", "x", "z"]) == ["c", "c", "c", "y", "z"]
    assert resolve(keys=[redirect], args=[]) == []


def test_commit_record_adds_trims_counts_and_writes_the_child(redis_client: redis.Redis,
                                                             tag: str) -> None:
    script = redis_client.register_script(COMMIT_RECORD)
    head = [f"{tag}:{name}" for name in ("rec", "child", "recs", "arec", "arev", "agencies",
                                        "prac", "evt", "stats", "scores")]
    blocks = [f"{tag}:b1", f"{tag}:b2"]
    counts = [f"{tag}:total", f"{tag}:tf"]
    for seq in range(1, 6):
        script(keys=[*head, *blocks, *counts],
               args=[f"m{seq}", seq, 2, 3 if seq == 5 else 0, f"sealed{seq}", int(seq == 1),
                     "arec1", "C1", "gp-1", "gp", "p1", '{"id":"p1"}', int(seq == 4),
                     f"result{seq}", 60_000 if seq == 5 else 0, "linked" if seq > 1 else "",
                     7200, "" if seq == 2 else f"{seq}.5", 3])
    assert redis_client.zrevrange(blocks[0], 0, -1) == ["m5", "m4", "m3"]
    assert redis_client.zrange(blocks[1], 0, -1, withscores=True)[-1] == ("m5", 5.0)
    assert redis_client.get(counts[0]) == "5" and redis_client.get(counts[1]) == "5"
    rec, child, recs, arec, arev, agencies, prac, evt, stats, scores = head
    assert redis_client.get(rec) == "sealed5"
    assert redis_client.hgetall(child) == {"created": "1", "shielded": "1"}
    assert redis_client.zrange(recs, 0, -1) == ["m1", "m2", "m3", "m4", "m5"]
    assert redis_client.hgetall(arec) == {"arec1": "C1"}
    assert redis_client.zcard(arev) == 5
    assert redis_client.hgetall(agencies) == {"gp-1": "gp"}
    assert redis_client.hgetall(prac) == {"p1": '{"id":"p1"}'}
    assert redis_client.get(evt) == "result5" and 0 < redis_client.pttl(evt) <= 60_000
    assert redis_client.hgetall(stats) == {"linked": "4"} and redis_client.ttl(stats) > 0
    assert redis_client.lrange(scores, 0, -1) == ["5.5", "4.5", "3.5"]


def test_merge_child_moves_everything_onto_the_winner(redis_client: redis.Redis,
                                                      tag: str) -> None:
    def keys(c: str) -> list[str]:
        return [f"{tag}:{c}", f"{tag}:{c}:recs", f"{tag}:{c}:ag", f"{tag}:{c}:prac",
                f"{tag}:{c}:cannot"]
    win, lose = keys("W"), keys("L")
    redis_client.hset(win[0], mapping={"created": "1", "shielded": "0"})
    redis_client.zadd(win[1], {"a": 1})
    redis_client.hset(win[2], "school-1", "school")
    redis_client.hset(lose[0], mapping={"created": "2", "shielded": "1"})
    redis_client.zadd(lose[1], {"b": 2, "c": 3})
    redis_client.hset(lose[2], "gp-1", "gp")
    redis_client.hset(lose[3], "p1", "{}")
    redis_client.sadd(lose[4], "X")
    script = redis_client.register_script(MERGE_CHILD)
    script(keys=[*win, *lose, f"{tag}:redirect"], args=["L", "W"])
    assert redis_client.zrange(win[1], 0, -1, withscores=True) == [("a", 1), ("b", 2), ("c", 3)]
    assert redis_client.hgetall(win[2]) == {"school-1": "school", "gp-1": "gp"}
    assert redis_client.hgetall(win[3]) == {"p1": "{}"}
    assert redis_client.smembers(win[4]) == {"X"}
    assert redis_client.hgetall(win[0]) == {"created": "1", "shielded": "1"}
    assert redis_client.hget(f"{tag}:redirect", "L") == "W"
    assert not any(redis_client.exists(k) for k in lose)


def test_who_else_follows_merges_as_the_index_does(redis_client: redis.Redis,
                                                    key_prefix: str) -> None:
    from services.matcher.index import Index
    from services.matcher.lookup import Lookup

    index = Index.private(redis_client, key_prefix)
    redis_client.hset(index.k.redirect, mapping={"C1": "C2", "C2": "C3"})
    lookup = Lookup(redis_client, key_prefix)
    assert [lookup.resolve(c) for c in ("C1", "C2", "C3", "C9")] == ["C3", "C3", "C3", "C9"]
    assert index.resolve_many(["C1", "C9"]) == {"C1": "C3", "C9": "C9"}
