"""The services write the audit log: opening an alert in the inbox and asking "Who else?"
(answered, refused, or under an exceptional-access grant) each append a record to the one
hash chain, which `signpost audit verify` accepts. When the log cannot be written, nothing is
served (503). Real broker and Redis; the notifier's own main() and the matcher's own API.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import cast

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from kafka import KafkaConsumer, KafkaProducer
from typer.testing import CliRunner

from schemas import Alert, LinkDecision, LinkOutcome, Recipient
from schemas.audit import AuditAction, AuditOutcome, AuditRecord
from services.ingest.validate import Rejection, validate
from services.matcher.api import create_app as matcher_app
from services.matcher.api import serve_api_in_thread
from services.matcher.lookup import Lookup
from services.matcher.service import build_engine, handle
from services.matcher.settings import MatcherSettings
from services.notifier.api import create_app as notifier_app
from services.notifier.inbox import InboxStore
from services.notifier.service import main as notifier_main
from services.notifier.settings import NotifierSettings
from signpost.access import GrantStore
from signpost.audit import AuditLog, read_audit_topic
from signpost.auth import Role, issue_token
from signpost.cli import app as cli
from signpost.embedded import free_port
from signpost.kafka import close_consumer, ensure_topics, make_producer
from signpost.redis import make_redis
from tests.support.events import make_event
from tests.support.sealed import publish_sealed
from tests.support.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

TOKEN_SECRET = "audit-wiring-token-secret"
SW1 = Recipient(kind="practitioner", id="sw-1")
PURPOSE = "Crime ref 44/1123: missing-child enquiry"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # nothing listens: every audit write fails


def _as(sub: str, role: Role = Role.professional) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(TOKEN_SECRET, sub, role)}"}


def _setenv(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)


def _audited(settings: NotifierSettings | MatcherSettings) -> list[AuditRecord]:
    return [AuditRecord.model_validate_json(s.value)
            for s in read_audit_topic(settings.kafka_bootstrap, settings.topics.audit)]


def _verify(env: dict[str, str], records: int) -> None:
    """`signpost audit verify` accepts the chain, head included, with `records` records."""
    result = CliRunner().invoke(cli, ["audit", "verify"], env=env)
    assert result.exit_code == 0, result.output
    assert "intact" in result.output and f"{records} records" in result.output


def _broken_log(settings: NotifierSettings | MatcherSettings, service: str) -> AuditLog:
    """An audit log whose Redis is unreachable: every record fails with AuditError before
    anything is produced (so no producer is needed)."""
    unreachable = redis.Redis.from_url(UNREACHABLE_REDIS, decode_responses=True)
    return AuditLog(unreachable, cast(KafkaProducer, None), settings.topics.audit,
                    settings.key_prefix, service)


def _alert() -> Alert:
    return Alert(alert_id=uuid.uuid4(), alert_type="new_agency_contact", child_id="C-wiring-1",
                 event_id=uuid.uuid4(), recipients=[SW1], agency_kinds=["school", "gp"],
                 shielded=False, created_at=datetime.now(UTC))


@pytest.fixture
def notifier(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifierSettings]:
    """The notifier's main() on a thread, with its inbox on a free port."""
    _setenv(monkeypatch, env | {"SIGNPOST_TOKEN_SECRET": TOKEN_SECRET,
                                "SIGNPOST_INBOX_PORT": str(free_port())})
    settings = NotifierSettings()
    ensure_topics(settings)
    stop = threading.Event()
    thread = threading.Thread(target=notifier_main, args=(settings, stop), daemon=True)
    thread.start()
    yield settings
    stop.set()
    thread.join(timeout=15)


def _deliver(settings: NotifierSettings, alert: Alert, redis_client: redis.Redis) -> None:
    """Put the alert on `alerts` and wait until the notifier has it in sw-1's inbox."""
    producer = make_producer(settings)
    producer.send(settings.topics.alerts, alert.model_dump_json().encode()).get(timeout=10)
    producer.close()
    store = InboxStore(redis_client, settings.key_prefix)
    wait_until(lambda: store.is_addressed_to(alert_id=alert.alert_id, recipient=SW1),
               timeout_s=20)


def test_opening_an_alert_in_the_inbox_appends_to_the_chain(
        notifier: NotifierSettings, env: dict[str, str], redis_client: redis.Redis) -> None:
    alert = _alert()
    _deliver(notifier, alert, redis_client)
    url = f"/v1/inbox/{alert.alert_id}"
    with httpx.Client(base_url=f"http://127.0.0.1:{notifier.inbox_port}", timeout=5) as http:
        wait_until(lambda: http.get("/healthz").status_code == 200, timeout_s=10)
        assert http.get(url, headers=_as("sw-1")).status_code == 200
        assert http.get(url, headers=_as("sw-2")).status_code == 403
    records = _audited(notifier)
    assert [(r.actor, r.action, r.outcome, r.child_id, r.relationship, r.target, r.service)
            for r in records] == [
        ("sw-1", AuditAction.inbox_read, AuditOutcome.allowed, alert.child_id, True,
         str(alert.alert_id), "notifier"),
        ("sw-2", AuditAction.inbox_read, AuditOutcome.refused, alert.child_id, False,
         str(alert.alert_id), "notifier")]
    _verify(env, records=2)


def test_the_inbox_serves_nothing_when_the_audit_log_cannot_be_written(
        env: dict[str, str], monkeypatch: pytest.MonkeyPatch, redis_client: redis.Redis) -> None:
    _setenv(monkeypatch, env | {"SIGNPOST_TOKEN_SECRET": TOKEN_SECRET})
    settings = NotifierSettings()
    client = TestClient(notifier_app(settings, InboxStore(redis_client, settings.key_prefix),
                                     _broken_log(settings, "notifier")))
    assert client.get("/v1/inbox", headers=_as("sw-1")).status_code == 503
    assert client.get(f"/v1/inbox/{uuid.uuid4()}", headers=_as("sw-1")).status_code == 503
    client.cookies.set("signpost_inbox", issue_token(TOKEN_SECRET, "sw-1", Role.professional))
    page = client.get("/inbox", follow_redirects=False)
    assert page.status_code == 503 and "cannot record" in page.text


@pytest.fixture
def matcher(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> MatcherSettings:
    _setenv(monkeypatch, env | {"SIGNPOST_TOKEN_SECRET": TOKEN_SECRET,
                                "SIGNPOST_MATCHER_HTTP_PORT": str(free_port())})
    settings = MatcherSettings()
    ensure_topics(settings, [settings.topics.audit])
    return settings


@pytest.fixture
def who_else(matcher: MatcherSettings) -> Iterator[httpx.Client]:
    """The matcher's API as the service runs it, writing through its own producer."""
    producer = make_producer(matcher)
    server = serve_api_in_thread(matcher, producer)
    assert server is not None
    with httpx.Client(base_url=f"http://127.0.0.1:{matcher.matcher_http_port}",
                      timeout=5) as client:
        wait_until(lambda: client.get("/healthz").status_code == 200, timeout_s=10)
        yield client
    server.should_exit = True
    producer.close()


def _one_child(settings: MatcherSettings) -> str:
    """A child known to a school (teacher-1, lead) and a GP (gp-9): the engine links them."""
    engine = build_engine(settings, shared=False)
    ids = []
    for event in (make_event(agency_id="school-1", agency_kind="school", record_id="S-1",
                             practitioner="teacher-1", lead=True),
                  make_event(agency_id="gp-1", agency_kind="gp", record_id="G-1",
                             practitioner="gp-9", lead=False)):
        std = validate(json.dumps(event).encode(), datetime.now(UTC))
        assert not isinstance(std, Rejection)
        ids.append(engine.process(std).decision.child_id)
    assert ids[0] == ids[1]
    return ids[0]


def test_who_else_answered_and_refused_each_append_to_the_chain(
        matcher: MatcherSettings, who_else: httpx.Client, env: dict[str, str]) -> None:
    child = _one_child(matcher)
    assert who_else.get(f"/v1/who-else/{child}", headers=_as("gp-9")).status_code == 200
    assert who_else.get(f"/v1/who-else/{child}", headers=_as("pc-101")).status_code == 403
    records = _audited(matcher)
    assert [(r.actor, r.action, r.outcome, r.child_id, r.relationship, r.service)
            for r in records] == [
        ("gp-9", AuditAction.who_else, AuditOutcome.allowed, child, True, "matcher"),
        ("pc-101", AuditAction.who_else, AuditOutcome.refused, child, False, "matcher")]
    _verify(env, records=2)


def test_an_approved_grant_opens_who_else_and_every_step_is_on_the_chain(
        matcher: MatcherSettings, who_else: httpx.Client, env: dict[str, str]) -> None:
    child = _one_child(matcher)
    asked = who_else.post("/v1/exceptional-access", headers=_as("pc-101"),
                          json={"child_id": child, "purpose": PURPOSE, "duration_s": 3600})
    assert asked.status_code == 201, asked.text
    grant_id = asked.json()["grant_id"]
    assert who_else.post(f"/v1/exceptional-access/{grant_id}/approve",
                         headers=_as("op-7", Role.operator)).status_code == 200
    answer = who_else.get(f"/v1/who-else/{child}", headers=_as("pc-101"))
    assert answer.status_code == 200
    assert [c["practitioner_id"] for c in answer.json()["lead_professionals"]] == ["teacher-1"]
    [use] = [r for r in _audited(matcher) if r.action is AuditAction.who_else]
    assert (use.actor, use.outcome, use.relationship, use.grant_id, use.purpose) == (
        "pc-101", AuditOutcome.allowed, False, grant_id, PURPOSE)
    _verify(env, records=3)


def test_who_else_serves_nothing_when_the_audit_log_cannot_be_written(
        matcher: MatcherSettings) -> None:
    child = _one_child(matcher)
    r = make_redis(matcher)
    broken = _broken_log(matcher, "matcher")
    grants = GrantStore(r, matcher.key_prefix, broken, matcher.exceptional_access_max_s)
    client = TestClient(matcher_app(matcher, Lookup(r, matcher.key_prefix), broken, grants))
    assert client.get(f"/v1/who-else/{child}", headers=_as("gp-9")).status_code == 503


def _sealed_records(settings: MatcherSettings, events: list[dict[str, object]]) -> list[object]:
    """The events as ingest would put them on `contact.events`, read back as Kafka records."""
    publish_sealed(settings, events)
    consumer = KafkaConsumer(settings.topics.events, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", group_id=None)
    records: list[object] = []
    try:
        wait_until(lambda: records.extend(
            r for batch in consumer.poll(timeout_ms=200).values() for r in batch) or
            len(records) >= len(events), timeout_s=30)
    finally:
        close_consumer(consumer)
    return sorted(records, key=lambda r: cast(int, r.offset))  # type: ignore[attr-defined]


def test_an_automatic_merge_appends_to_the_chain(matcher: MatcherSettings,
                                                 env: dict[str, str]) -> None:
    ensure_topics(matcher)
    # Two records of one child that do not meet, then one that bridges them: a merge.
    events = [
        make_event(given="Victoria", family="Climbie", dob="2014-11-02", postcode="N17 9EJ",
                   agency_id="school-1", record_id="S1", nhs="9434765919"),
        make_event(given="Vicky", family="Kouao", dob="2014-02-11", postcode="E1 6AN",
                   line="4 Other Street", agency_id="gp-1", record_id="G1",
                   carer=("Marie", "Kouao"), nhs=None),
        make_event(given="Victoria", family="Climbie", dob="2014-11-02", postcode="E1 6AN",
                   line="4 Other Street", agency_id="hosp-1", record_id="H1",
                   carer=("Marie", "Kouao"), nhs="9434765919", other_names=["Vicky Kouao"])]
    engine = build_engine(matcher, shared=False)
    producer = make_producer(matcher)
    audit = AuditLog(make_redis(matcher), producer, matcher.topics.audit, matcher.key_prefix,
                     "matcher")
    outs = [handle(r, engine, matcher, audit) for r in _sealed_records(matcher, events)]
    producer.close()
    bridge = LinkDecision.model_validate_json(outs[2][0].value)
    assert bridge.outcome is LinkOutcome.merged
    merges = [a for a in _audited(matcher) if a.action is AuditAction.merge_records]
    assert [(a.actor, a.child_id, a.count) for a in merges] == [
        ("matcher", bridge.child_id, 1)]
    _verify(env, 1)
