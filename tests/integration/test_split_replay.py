"""Split against real Redis and a real broker: records move off a wrongly merged child, the
correction is on child.links, the leads are alerted, and replaying the events holds the split."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from schemas import Alert, AlertType, LinkDecision, LinkOutcome
from services.matcher.console.app import build_operations
from services.matcher.errors import SplitRefused
from services.matcher.service import build_engine
from services.matcher.settings import MatcherSettings
from signpost.auth import Claims, Role
from signpost.kafka import ensure_topics
from tests.support.events import make_event
from tests.support.events import standardised as std

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

OPERATOR = Claims(sub="op-1", role=Role.operator, exp=2**40)
TWIN_LIKE = {"given": "Vicky", "agency_id": "gp-7", "agency_kind": "gp", "practitioner": "gp-9"}


def _topic(settings: MatcherSettings, topic: str) -> list[bytes]:
    from signpost.audit import read_audit_topic

    return [r.value for r in read_audit_topic(settings.kafka_bootstrap, topic)]


def test_split_then_replay_holds(common: Any) -> None:
    settings = MatcherSettings()
    ensure_topics(settings)
    engine = build_engine(settings)
    ops = build_operations(settings, engine, "test")
    try:
        a, b = make_event(), make_event(**TWIN_LIKE)
        first = engine.process(std(a)).decision
        wrong = engine.process(std(b)).decision
        assert wrong.outcome is LinkOutcome.linked and wrong.child_id == first.child_id
        with pytest.raises(SplitRefused):
            ops.split(OPERATOR, child_id=first.child_id, record_ids=[a["event_id"],
                      b["event_id"]], into=None, reason="all of them")
        result = ops.split(OPERATOR, child_id=first.child_id, record_ids=[b["event_id"]],
                           into=None, reason="two children at one address")
        index = engine.index
        assert index.record_ids(result.target) == {b["event_id"]}
        assert index.record_ids(first.child_id) == {a["event_id"]}
        assert set(index.child_info(result.target).agencies) == {"gp-7"}

        copies = [{**e, "event_id": str(uuid.uuid4())} for e in (a, b)]
        replay = [engine.process(std(e)).decision for e in (a, b, *copies)]
    finally:
        ops.producer.close()
    assert [d.child_id for d in replay[:2]] == [first.child_id, result.target]
    assert index.resolve(replay[2].child_id) == first.child_id
    assert index.resolve(replay[3].child_id) == result.target != index.resolve(first.child_id)
    links = [LinkDecision.model_validate_json(v) for v in _topic(settings, settings.topics.links)]
    assert [(d.outcome, d.child_id) for d in links] == [(LinkOutcome.moved, result.target)]
    alerts = [Alert.model_validate_json(v) for v in _topic(settings, settings.topics.alerts)]
    assert [a.alert_type for a in alerts] == [AlertType.records_split]
    assert {r.id for r in alerts[0].recipients} == {"t-1", "gp-9"}
