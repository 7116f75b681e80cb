"""One child from agency to alert, end to end, on the real broker and a real Redis.

Three events for one child from three agencies (name and address variants), one event for a
different child, one malformed event: `child.links` groups them, exactly the expected alerts
reach a real local webhook receiver with valid signatures, the malformed one is in the DLQ.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from kafka import KafkaProducer

from schemas import DlqReason, DlqRecord, LinkDecision
from services.ingest.service import main as ingest_main
from services.ingest.settings import IngestSettings
from services.matcher.service import main as matcher_main
from services.matcher.settings import MatcherSettings
from services.notifier.service import main as notifier_main
from services.notifier.settings import NotifierSettings
from services.notifier.webhook import verify
from signpost.kafka import ensure_topics, make_producer
from signpost.settings import CommonSettings
from signpost.signing import signed_headers
from tests.support.events import make_event
from tests.support.receiver import WebhookReceiver
from tests.support.services import running_services
from tests.support.topics import read_topic
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

WEBHOOK_SECRET = "e2e-webhook-secret"
SIGNING_KEYS = {a: f"e2e-signing-key-of-{a}" for a in ("school-1", "gp-1", "hosp-1",
                                                             "school-0042")}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def services(common: CommonSettings, receiver: WebhookReceiver,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[CommonSettings]:
    """ingest, matcher and notifier running on threads, as three processes would."""
    monkeypatch.setenv("SIGNPOST_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("SIGNPOST_WEBHOOK_SECRET", WEBHOOK_SECRET)
    for name in ("GATEWAY_PORT", "INBOX_PORT", "MATCHER_HTTP_PORT"):
        monkeypatch.setenv(f"SIGNPOST_{name}", "0")
    monkeypatch.setenv("SIGNPOST_AGENCY_SIGNING_KEYS", json.dumps(SIGNING_KEYS))
    ensure_topics(common)
    with running_services([(ingest_main, IngestSettings()), (matcher_main, MatcherSettings()),
                           (notifier_main, NotifierSettings())]):
        yield common


def _consume(settings: CommonSettings, topic: str, expected: int) -> list[bytes]:
    return read_topic(settings.kafka_bootstrap, topic, expected)


def _send_signed(producer: KafkaProducer, topic: str, raw: bytes, agency: str) -> None:
    headers = signed_headers(agency, SIGNING_KEYS[agency], raw)
    producer.send(topic, raw, headers=headers).get(timeout=10)


def test_three_agencies_one_child_alerts_and_dlq(services: CommonSettings,
                                                 receiver: WebhookReceiver) -> None:
    school = make_event(agency_id="school-1", agency_kind="school", record_id="S-1",
                        practitioner="teacher-1", lead=True)
    gp = make_event(agency_id="gp-1", agency_kind="gp", record_id="G-77", given="Vicky",
                    family="Climbie", postcode="n179ej", line="12 Somerset Rd",
                    practitioner="gp-9", lead=False)
    hospital = make_event(agency_id="hosp-1", agency_kind="hospital", record_id="H-5",
                          postcode="E1 6AN", line="Flat 3, 40 Commercial Road",
                          practitioner="nurse-3", lead=False)
    other = make_event(agency_id="gp-1", agency_kind="gp", record_id="G-78", given="Kwame",
                       family="Mensah", dob="2012-01-09", sex="M", postcode="M14 5RF",
                       line="3 Oak Street", carer=("Ama", "Mensah"), practitioner="gp-9",
                       lead=False)
    malformed = {**make_event(), "favourite_colour": "green"}
    producer = make_producer(services)
    for event in (school, gp, hospital, other, malformed):
        _send_signed(producer, services.topics.raw, json.dumps(event).encode(),
                     event["agency"]["id"])
    _send_signed(producer, services.topics.raw, b"\x00not json", "gp-1")
    producer.close()

    links = [LinkDecision.model_validate_json(v)
             for v in _consume(services, services.topics.links, 4)]
    child = {str(d.event_id): d.child_id for d in links}
    assert len(child) == 4
    assert child[school["event_id"]] == child[gp["event_id"]] == child[hospital["event_id"]]
    assert child[other["event_id"]] != child[school["event_id"]]

    dlq = [DlqRecord.model_validate_json(v)
           for v in _consume(services, services.topics.events_dlq, 2)]
    assert sorted(d.reason for d in dlq) == sorted([DlqReason.unknown_field, DlqReason.not_json])
    assert json.loads(next(d.original for d in dlq if d.reason is DlqReason.unknown_field)) == (
        malformed)

    # gp and hospital each tell the lead (teacher-1) and learn who the lead is.
    assert len(_consume(services, services.topics.alerts, 4)) == 4
    wait_until(lambda: len(receiver.received) >= 4, timeout_s=30)
    got = sorted((r.json()["recipient"]["id"], r.json()["event_id"]) for r in receiver.received)
    assert got == sorted([("teacher-1", gp["event_id"]), ("gp-9", gp["event_id"]),
                          ("teacher-1", hospital["event_id"]),
                          ("nurse-3", hospital["event_id"])])
    for r in receiver.received:
        assert verify(WEBHOOK_SECRET, r.headers["x-signpost-timestamp"], r.body,
                      r.headers["x-signpost-signature"])
        body = r.json()
        assert body["child_id"] == child[school["event_id"]]
        text = r.body.decode()
        assert "Victoria" not in text and "Somerset" not in text and "2014-11-02" not in text
    kinds = {(r.json()["recipient"]["id"], r.json()["alert_type"]) for r in receiver.received}
    assert ("gp-9", "identity_discrepancy") in kinds  # linked across a different name
