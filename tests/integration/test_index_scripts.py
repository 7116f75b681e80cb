"""The index's Lua scripts against a real Redis: the same answers as the Python they replace."""

from __future__ import annotations

import random
from typing import Any

import pytest
import redis

from services.matcher.candidates import ranked_candidates
from services.matcher.keys import BLOCK_INLINE_MAX, Keys
from services.matcher.scripts import (
    COMMIT_RECORD,
    MERGE_CHILD,
    PREFETCH,
    RECORDS,
    RESOLVE,
    UNBLOCK,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def tag(key_prefix: str) -> str:
    """A hash tag of this test's own: every key of the test is `{tag}:...`, deleted after."""
    return f"{{{key_prefix}}}"


def _layout(keys: Keys, digests: list[str]) -> tuple[list[str], list[str]]:
    """Blocking keys as the scripts take them (as Index passes them): per key its bucket and
    overflow, then per key its field."""
    places = [keys.block(d) for d in digests]
    return [k for bucket, _, overflow in places for k in (bucket, overflow)], \
        [field for _, field, _ in places]


def _commit(redis_client: redis.Redis, tag: str, keys: Keys, seq: int, digests: list[str],
            *, keep: int = 0, counted: tuple[str, ...] = (), own: str = "",
            **argv: Any) -> None:
    """COMMIT_RECORD of record `m{seq}` (stored as `sealed{seq}` in its bucket) under
    `digests` (the keys' layout as Index uses it), `own` the agency record's own blocking key
    (never trimmed), with the child's and dashboard's keys of the test's own."""
    head = [keys.record(seq)[0], *(f"{tag}:{name}" for name in (
        "child", "arec", "own", "evt", "stats", "scores"))]
    if own:
        head[3] = keys.block(own)[2]
    blocking, fields = _layout(keys, digests)
    args = {"sealed": f"sealed{seq}", "new": int(seq == 1), "shielded": 0,
            "ttl": 0, "outcome": "", "score": "", **argv}
    redis_client.register_script(COMMIT_RECORD)(
        keys=[*head, *blocking, *counted],
        args=[f"m{seq}", seq, len(digests), keep, args["sealed"], args["new"], "arec1", "C1",
              "gp-1", "gp", "p1", '{"id":"p1"}', args["shielded"], f"result{seq}",
              args["ttl"], args["outcome"], 7200, args["score"], 3, BLOCK_INLINE_MAX,
              *fields])


def _unblock(redis_client: redis.Redis, keys: Keys, seq: int, digests: list[str]) -> None:
    blocking, fields = _layout(keys, digests)
    redis_client.register_script(UNBLOCK)(keys=[keys.record(seq)[0], *blocking],
                                          args=[seq, *fields])


def _prefetch(redis_client: redis.Redis, tag: str, keys: Keys, digests: list[str],
              caps: list[int], keep: int) -> list[tuple[str, int, int]]:
    """PREFETCH's candidates with their stored records (RECORDS), as (stored record, shared
    keys, sequence)."""
    blocking, fields = _layout(keys, digests)
    reply = redis_client.register_script(PREFETCH)(
        keys=[f"{tag}:undecided", f"{tag}:total", f"{tag}:seq", *blocking],
        args=[0, keep, *caps, *fields])
    assert reply[0] == ""
    flat = reply[4]
    seqs = [int(flat[i]) for i in range(0, len(flat), 2)]
    where = [keys.record(q) for q in seqs]
    ids = redis_client.register_script(RECORDS)(
        keys=[b for b, _ in where], args=[f for _, f in where])
    return [(rid, int(flat[2 * i + 1]), q) for i, (rid, q) in enumerate(zip(ids, seqs,
                                                                             strict=True))]


def test_prefetch_ranks_like_ranked_candidates(redis_client: redis.Redis, tag: str,
                                              key_prefix: str) -> None:
    """Records are added (COMMIT_RECORD: inline, then moved to an overflow ZSET) and removed
    (UNBLOCK) at random; PREFETCH ranks what is left exactly as the reference does."""
    rng = random.Random(7)
    keys = Keys(key_prefix)
    digests = [f"{rng.getrandbits(64):016x}" for _ in range(12)]
    digests[1] = digests[0][:4] + digests[1][4:]  # two keys in one bucket
    held: dict[str, list[int]] = {d: [] for d in digests}  # the reference: seqs, oldest first
    under: dict[int, list[str]] = {}
    for seq in range(1, 400):
        if seq > 20 and rng.random() < 0.15:  # a record removed (correction, forgotten)
            gone = rng.choice(sorted(under))
            _unblock(redis_client, keys, gone, under[gone])
            for d in under.pop(gone):
                held[d].remove(gone)
        # skewed: a few keys are common (they overflow), most hold a few records
        mine = sorted({rng.choice(digests[:3]) if rng.random() < 0.7 else rng.choice(digests)
                       for _ in range(rng.randint(1, 4))})
        _commit(redis_client, tag, keys, seq, mine)
        under[seq] = mine
        for d in mine:
            held[d].append(seq)
        if seq % 40 == 0:
            for _ in range(5):
                event = rng.sample(digests, rng.randint(0, 8))
                caps = [rng.choice([0, 3, 50]) for _ in event]  # a batch reads fewer
                keep = rng.choice([3, 40, 1000])
                per_key = [[(f"sealed{q}", q) for q in held[d][::-1][:cap]]
                           for d, cap in zip(event, caps, strict=True)]
                assert _prefetch(redis_client, tag, keys, event, caps, keep) == \
                    ranked_candidates(per_key, keep)
    rare = f"{rng.getrandbits(64):016x}"
    for seq in (400, 401):
        _commit(redis_client, tag, keys, seq, [rare])
    held[rare] = [400, 401]
    for d, seqs in held.items():  # inline while it fits, else in its overflow ZSET
        bucket, field, overflow = keys.block(d)
        inline = ",".join(map(str, seqs))
        if len(inline) <= BLOCK_INLINE_MAX:
            assert redis_client.hget(bucket, field) == inline
            assert not redis_client.exists(overflow)
        else:
            assert redis_client.hget(bucket, field) is None
            assert redis_client.zrange(overflow, 0, -1) == list(map(str, seqs))
    assert redis_client.object("encoding", keys.block(rare)[0]) in ("listpack", "ziplist")
    assert [redis_client.hget(*keys.record(q)) for q in sorted(under)[:3]] == \
        [f"sealed{q}" for q in sorted(under)[:3]]
    assert redis_client.hget(*keys.record(gone)) is None  # UNBLOCK deletes the record
    assert redis_client.object("encoding", keys.record(400)[0]) in ("listpack", "ziplist")


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
                                                             tag: str, key_prefix: str) -> None:
    keys = Keys(key_prefix)
    few, many, own = "0123456789abcdef", "fedcba9876543210", "aaaabbbbccccdddd"
    counts = (f"{tag}:total", f"{tag}:tf")
    for seq in range(1, 31):
        _commit(redis_client, tag, keys, seq, [many, own] if seq > 5 else [few, many, own],
                own=own, keep=3 if seq == 30 else 0, counted=counts, shielded=int(seq == 4),
                ttl=60_000 if seq == 30 else 0, outcome="linked" if seq > 1 else "",
                score="" if seq == 2 else f"{seq}.5")
    bucket, field, overflow = keys.block(few)
    assert redis_client.hget(bucket, field) == "1,2,3,4,5"  # inline while it fits
    assert not redis_client.exists(overflow)
    bucket, field, overflow = keys.block(many)
    assert redis_client.hget(bucket, field) is None  # moved out, then trimmed
    assert redis_client.zrange(overflow, 0, -1, withscores=True) == [
        ("28", 28.0), ("29", 29.0), ("30", 30.0)]
    assert redis_client.zcard(keys.block(own)[2]) == 30  # the agency record's: never trimmed
    assert redis_client.hget(*keys.record(30)) == "sealed30"
    assert redis_client.get(counts[0]) == "30" and redis_client.get(counts[1]) == "30"
    child, arec, evt, stats, scores = (
        f"{tag}:{name}" for name in ("child", "arec", "evt", "stats", "scores"))
    assert redis_client.hgetall(child) == {
        "created": "1", "shielded": "1", "a:gp-1": "gp", "p:p1": '{"id":"p1"}',
        **{f"r:m{q}": str(q) for q in range(1, 31)}}
    assert redis_client.object("encoding", child) in ("listpack", "ziplist")
    assert redis_client.hgetall(arec) == {"arec1": "C1"}
    assert redis_client.get(evt) == "result30" and 0 < redis_client.pttl(evt) <= 60_000
    assert redis_client.hgetall(stats) == {"linked": "29"} and redis_client.ttl(stats) > 0
    assert redis_client.lrange(scores, 0, -1) == ["30.5", "29.5", "28.5"]
    _unblock(redis_client, keys, 3, [few])
    _unblock(redis_client, keys, 30, [many])
    assert redis_client.hget(keys.block(few)[0], keys.block(few)[1]) == "1,2,4,5"
    assert redis_client.zrange(overflow, 0, -1) == ["28", "29"]
    assert redis_client.hget(*keys.record(30)) is None


def test_merge_child_moves_everything_onto_the_winner(redis_client: redis.Redis,
                                                      tag: str) -> None:
    win, lose = [f"{tag}:W", f"{tag}:W:cannot"], [f"{tag}:L", f"{tag}:L:cannot"]
    redis_client.hset(win[0], mapping={"created": "1", "shielded": "0", "consent": "1",
                                       "r:a": "1", "a:school-1": "school", "p:p2": "[2]"})
    redis_client.hset(lose[0], mapping={"created": "2", "shielded": "1", "consent": "0",
                                        "r:b": "2", "r:c": "3", "a:gp-1": "gp", "p:p1": "{}",
                                        "p:p2": "[3]"})
    redis_client.sadd(lose[1], "X")
    script = redis_client.register_script(MERGE_CHILD)
    script(keys=[*win, *lose, f"{tag}:redirect"], args=["L", "W"])
    assert redis_client.hgetall(win[0]) == {
        "created": "1", "shielded": "1", "consent": "1",  # the winner's, shielding carried
        "r:a": "1", "r:b": "2", "r:c": "3", "a:school-1": "school", "a:gp-1": "gp",
        "p:p1": "{}", "p:p2": "[3]"}
    assert redis_client.smembers(win[1]) == {"X"}
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
