"""Two matchers' engines on one Redis at once, links and merges interleaved: no update lost.

Each engine runs in its own process (forked, so both cores work at once), as two matchers
would, and they share the store through the matchers' lock and one MULTI/EXEC per event.
Afterwards the store must be whole: every event decided once, every record on exactly one live
child, every child's record set and agencies matching the records that point at it, nothing
left on a merged-away child. And the outcome is serialisable: one engine alone, given the
events in the order the two committed them, makes the same children. (Without the lock, runs
of this size left a child's record set inconsistent in about one try in four: a race is
probabilistic, so this test guards, it cannot prove.)
"""

from __future__ import annotations

import json
import multiprocessing
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis

from schemas import LinkOutcome, StandardisedEvent
from services.ingest.validate import validate
from services.matcher.engine import Engine, Result
from services.matcher.index import Index, SealedRecord
from services.matcher.model import default_model
from signpost.demo import demo_dataset
from signpost.embedded import EmbeddedServer
from tests.support.index import blocking_view

pytestmark = pytest.mark.integration

CHILDREN = 600  # 4 events each


@pytest.fixture
def prefix(redis_server: EmbeddedServer) -> Iterator[str]:
    name = f"cc{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(redis_server.url)
    for pattern in (f"{{{name}}}:*", f"{{{name}-alone}}:*"):
        for key in client.scan_iter(match=pattern):
            client.delete(key)
    client.close()


def _engine(url: str, prefix: str) -> Engine:
    client = redis.Redis.from_url(url, decode_responses=True)
    return Engine(Index.private(client, prefix, b"shared-blocking-secret"), default_model(),
                  shared=True)


def test_two_engines_at_once_lose_no_update(redis_server: EmbeddedServer, prefix: str) -> None:
    events, truth = demo_dataset(CHILDREN, seed=7)
    # One child's events side by side, so the two engines (taking turns) decide records of
    # the same child at the same moment: the race a lost update would come from.
    child_of = {row["event_id"]: row["child_id"] for row in truth}
    events.sort(key=lambda e: child_of[e["event_id"]])
    now = datetime.now(UTC)
    stds = []
    for event in events:
        std = validate(json.dumps(event).encode(), now)
        assert isinstance(std, StandardisedEvent)
        stds.append(std)

    def run(i: int) -> None:
        engine = _engine(redis_server.url, prefix)
        for std in stds[i::2]:
            engine.process(std)

    workers = [multiprocessing.get_context("fork").Process(target=run, args=(i,))
               for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    assert [w.exitcode for w in workers] == [0, 0]
    index = _engine(redis_server.url, prefix).index
    raw = {str(s.event.event_id): index.stored_result(str(s.event.event_id)) for s in stds}
    assert all(v is not None for v in raw.values()), "a decision was lost"
    decided = {i: Result.model_validate_json(str(v)) for i, v in raw.items()}
    outcomes = {r.decision.outcome for r in decided.values()}
    assert LinkOutcome.linked in outcomes and LinkOutcome.new_child in outcomes

    ids = sorted(decided)
    _, held = blocking_view(index)  # every record stored: sequence -> record id
    stored = {i: SealedRecord.parse(raw, q) for i, q, raw in
              index.stored({i: q for q, i in held.items() if i in decided})}
    assert set(stored) == set(ids), "a record was lost"
    owner = {i: index.resolve(rec.child_id) for i, rec in stored.items()}
    by_child: dict[str, set[str]] = defaultdict(set)
    for record_id, child in owner.items():
        by_child[child].add(record_id)
    for child, records in by_child.items():
        assert index.exists(child), f"records on a merged-away or missing child {child}"
        assert index.record_ids(child) == records, "a child's record set lost an update"
        agencies = set(index.child_info(child).agencies)
        assert {stored[r].agency_id for r in records} <= agencies
    for result in decided.values():
        for gone in result.decision.merged_child_ids:
            assert index.resolve(gone) != gone and not index.record_ids(gone)

    # Serialisable: the same children as one engine deciding in the two engines' commit order.
    order = sorted(ids, key=lambda i: stored[i].seq)
    by_id = {str(s.event.event_id): s for s in stds}
    alone = Engine(Index.private(redis.Redis.from_url(redis_server.url, decode_responses=True),
                                 f"{prefix}-alone", b"shared-blocking-secret"), default_model(),
                   shared=False)
    replay = {i: alone.process(by_id[i]).decision.child_id for i in order}
    assert _clusters(owner) == _clusters(
        {i: alone.index.resolve(c) for i, c in replay.items()})


def _clusters(child_of: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = defaultdict(set)
    for event_id, child in child_of.items():
        groups[child].add(event_id)
    return {frozenset(g) for g in groups.values()}
