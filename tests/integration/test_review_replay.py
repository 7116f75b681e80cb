"""The review queue against real Redis and a real broker: reject then replay never links the
pair; accept merges; every verdict is a labelled pair and audited; opening an item is audited."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from schemas import AuditAction, LinkOutcome
from services.matcher.console.app import build_operations
from services.matcher.engine import Engine
from services.matcher.errors import ReviewNotOpen
from services.matcher.operations import NotPermitted, Operations
from services.matcher.service import build_engine
from services.matcher.settings import MatcherSettings
from signpost.audit import read_audit_topic
from signpost.auth import Claims, Role
from signpost.kafka import ensure_topics
from tests.support.events import make_event
from tests.support.events import standardised as std

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

REVIEWER = Claims(sub="rv-1", role=Role.reviewer, exp=2**40)
OPERATOR = Claims(sub="op-1", role=Role.operator, exp=2**40)
AUDITOR = Claims(sub="au-1", role=Role.auditor, exp=2**40)
VARIANT = {"given": "Vicky", "agency_id": "gp-7", "agency_kind": "gp", "practitioner": "gp-9"}


@pytest.fixture
def ops(common: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, Operations]]:
    settings = MatcherSettings()
    ensure_topics(settings)
    engine = build_engine(settings)
    operations = build_operations(settings, engine, "test")
    operations.set_thresholds(OPERATOR, upper=60, lower=10, reason="make the variant a review")
    engine.thresholds = lambda: operations.thresholds.current().upper_lower()
    yield engine, operations
    operations.producer.close()


def _fresh(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "event_id": str(uuid.uuid4())}


def test_reject_then_replay_never_links_the_pair(
    ops: tuple[Engine, Operations], redis_client: redis.Redis
) -> None:
    engine, operations = ops
    a, b = make_event(), make_event(**VARIANT)
    first = engine.process(std(a)).decision
    second = engine.process(std(b)).decision
    assert second.outcome is LinkOutcome.review
    [item] = operations.queue(REVIEWER)
    assert item.candidate_child_id == first.child_id and item.child_id == second.child_id
    with pytest.raises(NotPermitted):
        operations.open_review(AUDITOR, item.review_id)
    detail = operations.open_review(REVIEWER, item.review_id)
    assert detail.side_by_side is not None
    assert ("given name", "vicky", "victoria") in detail.side_by_side.fields
    operations.reject(REVIEWER, item.review_id, "different children, same school")
    with pytest.raises(ReviewNotOpen):
        operations.accept(REVIEWER, item.review_id)

    operations.set_thresholds(OPERATOR, upper=15, lower=10, reason="now it would link")
    replay = [engine.process(std(e)).decision for e in (a, b, _fresh(a), _fresh(b), _fresh(b))]
    index = engine.index
    assert [d.child_id for d in replay[:2]] == [first.child_id, second.child_id]  # idempotent
    assert index.resolve(first.child_id) != index.resolve(second.child_id)
    assert index.resolve(replay[2].child_id) == index.resolve(first.child_id)
    assert {index.resolve(d.child_id) for d in replay[3:]} == {index.resolve(second.child_id)}
    assert [p.match for p in operations.reviews.labelled_pairs()] == [False]
    actions = _audited(operations)
    assert AuditAction.review_view in actions and AuditAction.review_decision in actions
    assert actions.count(AuditAction.threshold_change) == 2


def test_accept_merges_the_two_children_and_records_a_matching_pair(
    ops: tuple[Engine, Operations]
) -> None:
    engine, operations = ops
    first = engine.process(std(make_event())).decision
    engine.process(std(make_event(**VARIANT)))
    [item] = operations.queue(REVIEWER)
    done = operations.accept(REVIEWER, item.review_id, "same child: nickname")
    assert done.status.value == "accepted" and done.decided_by == "rv-1"
    assert engine.index.resolve(item.child_id) == engine.index.resolve(first.child_id)
    assert operations.queue(REVIEWER) == []
    assert [p.match for p in operations.reviews.labelled_pairs()] == [True]
    assert AuditAction.merge_records in _audited(operations)


def _audited(operations: Operations) -> list[AuditAction]:
    from schemas import AuditRecord

    settings = MatcherSettings()
    return [AuditRecord.model_validate_json(r.value).action
            for r in read_audit_topic(settings.kafka_bootstrap, operations.topics.audit)]
