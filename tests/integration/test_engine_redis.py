"""The engine against a real Redis: linking, keeping apart, idempotency, merges."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from redis.exceptions import LockNotOwnedError

from schemas import LinkOutcome
from services.matcher import engine as engine_module
from services.matcher.engine import Engine
from services.matcher.index import LOCK_TIMEOUT_S, MATCHER_LOCK_TIMEOUT_S, ChildHash, Index
from services.matcher.model import default_model
from services.matcher.split import split_child
from tests.support.events import make_standardised as std

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(redis_client: redis.Redis, key_prefix: str) -> Engine:
    return Engine(Index.private(redis_client, key_prefix, b"test-secret"), default_model())


def test_name_variant_links_and_other_child_stays_apart(engine: Engine) -> None:
    first = engine.process(std()).decision
    variant = engine.process(std(given="Vicky", family="Climbie", agency_id="gp-7",
                                 agency_kind="gp", postcode="n179ej",
                                 line="12 Somerset Rd", practitioner="gp-9")).decision
    other = engine.process(std(given="Kwame", family="Mensah", dob="2012-01-09", sex="M",
                               postcode="M14 5RF", line="3 Oak Street", carer=("Ama", "Mensah"),
                               agency_id="gp-7", agency_kind="gp", record_id="R9")).decision
    assert first.outcome is LinkOutcome.new_child
    assert variant.outcome is LinkOutcome.linked and variant.child_id == first.child_id
    assert other.outcome is LinkOutcome.new_child and other.child_id != first.child_id
    assert variant.score is not None and variant.prior is not None
    assert variant.score == pytest.approx(variant.prior + sum(e.weight
                                                               for e in variant.explanation))


def test_processing_twice_returns_the_stored_result(engine: Engine) -> None:
    engine.process(std())
    event = std(given="Vicky", agency_id="gp-7", agency_kind="gp", practitioner="gp-9")
    once = engine.process(event)
    again = engine.process(event)
    assert once == again
    assert len(once.alerts) == 2  # the lead professional, and the new practitioner


def test_index_holds_no_readable_names(engine: Engine, redis_client: redis.Redis) -> None:
    engine.process(std(family="Quetzalcoatl"))
    keys = list(redis_client.scan_iter(match=f"{engine.index.k.p}:*"))
    assert keys
    assert not [k for k in keys if "quetzalcoatl" in k.lower()]


def test_an_event_linking_two_children_merges_them_keeping_the_oldest_id(engine: Engine) -> None:
    # Two records of one child that do not block together: no shared key of two fields.
    a = engine.process(std(given="Victoria", family="Climbie", dob="2014-11-02",
                           postcode="N17 9EJ", agency_id="school-1", record_id="S1",
                           nhs="9434765919")).decision
    b = engine.process(std(given="Vicky", family="Kouao", dob="2014-02-11", postcode="E1 6AN",
                           line="4 Other Street", agency_id="gp-1", record_id="G1",
                           carer=("Marie", "Kouao"), nhs=None)).decision
    assert a.child_id != b.child_id
    bridge = engine.process(std(given="Victoria", family="Climbie", dob="2014-11-02",
                                postcode="E1 6AN", line="4 Other Street", agency_id="hosp-1",
                                record_id="H1", carer=("Marie", "Kouao"),
                                nhs="9434765919", other_names=["Vicky Kouao"])).decision
    if bridge.outcome is LinkOutcome.merged:
        assert bridge.child_id == a.child_id
        assert bridge.merged_child_ids == [b.child_id]
        assert engine.index.resolve(b.child_id) == a.child_id
    else:
        pytest.fail(f"expected a merge, got {bridge.outcome} {bridge.explanation}")


def test_a_batch_holds_the_shared_lock_and_another_matcher_waits(
        engine: Engine, redis_client: redis.Redis) -> None:
    """exclusive() takes the matchers' lock once for a batch (re-entrant, renewed), and a
    second matcher on the same prefix cannot decide an event until the batch ends."""
    import threading
    import time

    other = Engine(engine.index, engine.model)
    done: list[float] = []
    with engine.exclusive():
        with engine.exclusive():  # re-entrant: no deadlock with itself
            first = engine.process(std())
        assert redis_client.exists(engine.index.k.lock)
        waiter = threading.Thread(target=lambda: (other.process(std(record_id="R2")),
                                                  done.append(time.monotonic())))
        # the same engine on another thread (an API thread, say) is not inside the batch
        same = threading.Thread(target=lambda: (engine.process(std(record_id="R3")),
                                                done.append(time.monotonic())))
        waiter.start()
        same.start()
        time.sleep(0.5)
        assert not done  # the other matcher, and the other thread, wait for the lock
        released = time.monotonic()
    waiter.join(timeout=10)
    same.join(timeout=10)
    assert len(done) == 2 and min(done) >= released
    assert not redis_client.exists(engine.index.k.lock)
    assert first.decision.outcome is LinkOutcome.new_child


def test_a_batch_whose_lock_lapsed_writes_nothing(engine: Engine,
                                                  redis_client: redis.Redis) -> None:
    """Commits are fenced on the lock's token: a matcher whose lock lapsed mid-batch (a long
    pause, say) and was taken by another writes nothing, rather than racing the new holder;
    the batch fails as a server error does (retried, never dead-lettered)."""
    event = std()
    with engine.exclusive():
        lock = engine.index.k.lock
        redis_client.set(lock, "another-matcher", px=30_000)  # ours lapsed; another took it
        with pytest.raises(redis.RedisError):
            engine.process(event)
        assert engine.index.stored_results([str(event.event.event_id)]) == {}
        redis_client.delete(lock)
    assert engine.process(event).decision.outcome is LinkOutcome.new_child  # retried: written


def test_a_fenced_transaction_aborts_if_the_lock_changes_before_exec(
        engine: Engine, redis_client: redis.Redis) -> None:
    lock, probe = engine.index.k.lock, f"{engine.index.k.lock}:probe"
    redis_client.set(lock, "ours", px=30_000)
    pipe = engine.index.transaction("ours")
    pipe.set(probe, "written")
    redis_client.set(lock, "another-matcher", px=30_000)  # lapsed and taken meanwhile
    with pytest.raises(redis.WatchError):
        pipe.execute()
    assert not redis_client.exists(probe)
    redis_client.delete(lock)


def test_a_matchers_hold_lapses_sooner_than_an_operators(engine: Engine,
                                                         redis_client: redis.Redis) -> None:
    """A matcher holds the lock for a poll batch, renewed as batches go by, and with a short
    timeout: killed while holding it, it stalls the other matchers MATCHER_LOCK_TIMEOUT_S at
    most (its commits are fenced, so a batch that outlives it writes nothing). An operator's
    change (merge, split, deletion: `Index.held`) is not renewed, so its hold keeps
    LOCK_TIMEOUT_S."""
    lock = engine.index.k.lock
    with engine.exclusive():
        assert 0 < redis_client.pttl(lock) <= MATCHER_LOCK_TIMEOUT_S * 1000
    with engine.index.held():
        assert MATCHER_LOCK_TIMEOUT_S * 1000 < redis_client.pttl(lock) <= LOCK_TIMEOUT_S * 1000


def test_a_matcher_goes_on_once_a_dead_matchers_hold_lapses(
        engine: Engine, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another engine on the same store takes over when the holder died mid-batch: its hold
    lapses (here after 1.5 s), and nothing the dead one decided is needed to go on."""
    monkeypatch.setattr(engine_module, "MATCHER_LOCK_TIMEOUT_S", 1.5)
    dead = engine.exclusive()
    dead.__enter__()  # a matcher killed while it holds the lock: it never leaves
    other = Engine(engine.index, engine.model)
    began = time.monotonic()
    assert other.process(std()).decision.outcome is LinkOutcome.new_child
    waited = time.monotonic() - began
    assert 1.0 < waited < 1.5 + 1.0, f"waited {waited:.1f} s"


@contextmanager
def lapsed_hold(index: Index, redis_client: redis.Redis) -> Iterator[None]:
    """An operator's hold (`Index.held`) that lapses at once and is taken by a matcher, as if
    the operator's process stalled past LOCK_TIMEOUT_S; its release then fails too."""
    with pytest.raises(LockNotOwnedError), index.held():
        redis_client.set(index.k.lock, "a-matcher", px=30_000)
        yield
    redis_client.delete(index.k.lock)


def test_an_operators_change_whose_hold_lapsed_writes_nothing(
        engine: Engine, redis_client: redis.Redis) -> None:
    """Merges, cannot-links, deletions and splits are fenced on the operator's hold as the
    engine's commits are on the matcher's: what was read before a matcher's commits is not
    written over them."""
    index = engine.index
    a = engine.process(std()).decision.child_id
    b = engine.process(std(given="Kwame", family="Mensah", dob="2012-01-09", sex="M",
                           postcode="M14 5RF", line="3 Oak Street", record_id="R9",
                           agency_id="gp-7", agency_kind="gp")).decision.child_id
    with lapsed_hold(index, redis_client), pytest.raises(LockNotOwnedError):
        index.merge(winner=a, loser=b)
    with lapsed_hold(index, redis_client), pytest.raises(LockNotOwnedError):
        index.bar(a, b)
    with lapsed_hold(index, redis_client), pytest.raises(LockNotOwnedError):
        index.forget_child(b)
    assert index.resolve(b) == b and index.exists(b) and index.record_ids(b)
    assert index.cannot_link([a]) == frozenset()

    taken = index.child_hash

    def stalled(child_id: str) -> ChildHash:  # the split's read, then a stall past its hold
        read = taken(child_id)
        redis_client.set(index.k.lock, "a-matcher", px=30_000)
        return read

    records = index.record_ids(a)
    index.child_hash = stalled  # type: ignore[method-assign]
    with pytest.raises(LockNotOwnedError):
        split_child(index=index, child_id=a, record_ids=sorted(records), into=b,
                    new_child_id="C-new")
    index.child_hash = taken  # type: ignore[method-assign]
    redis_client.delete(index.k.lock)
    assert index.record_ids(a) == records and index.cannot_link([b]) == frozenset()
    # held and not lapsed, the same change is written
    with index.held():
        index.bar(a, b)
    assert index.cannot_link([a]) == frozenset({b})
