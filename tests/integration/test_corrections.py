"""The correction path (issue 5, item 7): an agency fixes a wrong field of its own record.

In the engine, on real Redis: a correction replaces the agency record's earlier records, so the
wrong date of birth is no longer held, and the child keeps its id and its other agencies'
records. Over real HTTP: `POST /v1/corrections` on the ingest gateway, through Kafka, to a
running matcher, with the same result (and the matcher's retention schedule running).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from schemas import AuditAction, AuditRecord, LinkDecision, StandardisedEvent
from services.ingest.validate import validate
from services.matcher.blocking import record_key
from services.matcher.engine import Engine
from services.matcher.service import build_engine
from services.matcher.service import main as matcher_main
from services.matcher.settings import MatcherSettings
from signpost.audit import read_audit_topic
from signpost.auth import hash_api_key
from signpost.embedded import free_port
from signpost.kafka import ensure_topics
from signpost.settings import CommonSettings
from tests.support.events import make_event
from tests.support.index import blocking_view
from tests.support.ingest import running_ingest
from tests.support.topics import read_topic
from tests.support.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

WRONG_DOB, RIGHT_DOB = "2014-11-20", "2014-11-02"
NHS = "9434765919"
SCHOOL_KEY = "correction-school-key-0123456789"


def _std(event: dict[str, Any], correction: bool = False) -> StandardisedEvent:
    std = validate(json.dumps(event).encode(), datetime.now(UTC))
    assert isinstance(std, StandardisedEvent)
    return std.model_copy(update={"correction": correction})


@pytest.fixture
def engine(common: CommonSettings) -> Iterator[Engine]:
    e = build_engine(MatcherSettings())
    yield e
    e.index.r.close()


def test_a_correction_replaces_the_wrong_date_of_birth_and_the_child_keeps_its_id(
        engine: Engine) -> None:
    index = engine.index
    wrong = make_event(dob=WRONG_DOB, nhs=NHS)
    child = engine.process(_std(wrong)).decision.child_id
    gp = make_event(agency_id="gp-7", agency_kind="gp", record_id="G7", practitioner="gp-9",
                    dob=RIGHT_DOB, nhs=NHS)
    assert engine.process(_std(gp)).decision.child_id == child
    assert sorted(f.dob or "" for f in index.child_features(child)) == [RIGHT_DOB, WRONG_DOB]

    fixed = make_event(dob=RIGHT_DOB, nhs=NHS)  # the school's record as it should read
    decision = engine.process(_std(fixed, correction=True)).decision
    assert decision.child_id == child
    held = index.child_features(child)
    assert WRONG_DOB not in {f.dob for f in held}
    assert {(f.agency_id, f.event_id) for f in held} == {
        ("gp-7", gp["event_id"]), ("school-0042", fixed["event_id"])}
    assert index.record_ids(child) == {gp["event_id"], fixed["event_id"]}
    seqs, ids = blocking_view(index)  # the wrong record is gone, and out of the index
    assert set(ids.values()) == {gp["event_id"], fixed["event_id"]} and seqs == set(ids)

    again = make_event(dob=RIGHT_DOB, given="Vicky")  # later events link as before
    assert engine.process(_std(again)).decision.child_id == child


def test_a_correction_replaces_every_earlier_event_of_a_busy_agency_record(
        engine: Engine) -> None:
    """Thirty events of one agency record: more than its blocking key holds inline, so its
    members are read from its overflow set; the correction replaces all thirty."""
    index = engine.index
    earlier = [make_event(dob=WRONG_DOB, nhs=NHS) for _ in range(30)]
    child = {engine.process(_std(e)).decision.child_id for e in earlier}
    assert len(child) == 1 and len(index.record_ids(child.pop())) == 30
    own = index.k.block(index.digest(record_key(earlier[0]["agency"]["id"],
                                                earlier[0]["agency_record_id"])))
    assert index.r.hget(own[0], own[1]) is None and index.r.zcard(own[2]) == 30
    fixed = make_event(dob=RIGHT_DOB, nhs=NHS)
    held = index.child_features(engine.process(_std(fixed, correction=True)).decision.child_id)
    assert [(f.event_id, f.dob) for f in held] == [(fixed["event_id"], RIGHT_DOB)]
    seqs, ids = blocking_view(index)
    assert list(ids.values()) == [fixed["event_id"]] and seqs == set(ids)


@pytest.fixture
def running(common: CommonSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Ingest (its gateway on a free port) and the matcher, on threads; yields the gateway."""
    port = free_port()
    monkeypatch.setenv("SIGNPOST_GATEWAY_PORT", str(port))
    monkeypatch.setenv("SIGNPOST_MATCHER_HTTP_PORT", "0")
    monkeypatch.setenv("SIGNPOST_AGENCY_KEY_HASHES",
                       json.dumps({"school-0042": hash_api_key(SCHOOL_KEY)}))
    ensure_topics(common)
    stop = threading.Event()
    matcher = threading.Thread(target=matcher_main, args=(MatcherSettings(), stop), daemon=True)
    matcher.start()
    try:
        with running_ingest(port) as url:
            yield url
    finally:
        stop.set()
        matcher.join(timeout=30)
    assert not matcher.is_alive(), "matcher did not stop"


def test_a_correction_over_http_reaches_the_matcher_and_replaces_the_wrong_value(
        running: str, common: CommonSettings) -> None:
    auth = {"Authorization": f"Bearer {SCHOOL_KEY}"}
    wrong, fixed = make_event(dob=WRONG_DOB), make_event(dob=RIGHT_DOB)
    assert httpx.post(f"{running}/v1/events", json=wrong, headers=auth).status_code == 202
    (first,) = read_topic(common.kafka_bootstrap, common.topics.links, 1, exact=False)
    child = LinkDecision.model_validate_json(first).child_id
    assert httpx.post(f"{running}/v1/corrections", json=fixed, headers={}).status_code == 401
    assert httpx.post(f"{running}/v1/corrections", json=fixed, headers=auth).status_code == 202
    links = [LinkDecision.model_validate_json(v)
             for v in read_topic(common.kafka_bootstrap, common.topics.links, 2)]
    assert [str(d.event_id) for d in links] == [wrong["event_id"], fixed["event_id"]]
    assert {d.child_id for d in links} == {child}

    index = build_engine(MatcherSettings()).index
    held = index.child_features(child)
    assert [(f.event_id, f.dob) for f in held] == [(fixed["event_id"], RIGHT_DOB)]

    # The matcher's retention schedule ran at start (SIGNPOST_PURGE_INTERVAL_S): one purge,
    # audited by count; the child is 12, so it stays. (By sequence number: a record still
    # pending when the ingest's audit log started was sent again by it, which the audit log
    # allows and `signpost audit verify` counts as a duplicate.)
    def purges() -> list[AuditRecord]:
        return list({r.seq: r for r in (
            AuditRecord.model_validate_json(s.value) for s in
            read_audit_topic(common.kafka_bootstrap, common.topics.audit))
            if r.action is AuditAction.purge}.values())
    (purge,) = wait_until(purges, timeout_s=20)
    assert (purge.actor, purge.count, purge.child_id) == ("retention", 0, None)
    assert index.exists(child)
