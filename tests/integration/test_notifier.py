"""The notifier end to end: real broker, Redis, webhook receivers, SMTP server and inbox HTTP.

Each test runs the notifier's main() on a thread with its own topics and key prefix. Tests of
escalation swap the clock (a fake `now`), never the servers.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import httpx
import pytest
import redis
from aiosmtpd.controller import Controller
from kafka import KafkaConsumer

from schemas import Alert, AlertDlqRecord, DlqReason, DlqRecord, Escalation, Recipient
from schemas.audit import AuditAction, AuditOutcome, AuditRecord
from services.notifier.escalation import ESCALATED
from services.notifier.inbox import REVIEW, InboxStore
from services.notifier.ledger import Ledger
from services.notifier.mail import SUBJECT
from services.notifier.service import main
from services.notifier.settings import NotifierSettings
from services.notifier.webhook import verify
from signpost.audit import read_audit_topic
from signpost.auth import Role, issue_token
from signpost.embedded import free_port
from signpost.errors import InfrastructureError
from signpost.kafka import close_consumer, ensure_topics, make_producer
from tests.support.receiver import WebhookReceiver
from tests.support.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

WEBHOOK_SECRET = "test-webhook-secret"
TOKEN_SECRET = "test-token-secret"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SW1 = Recipient(kind="practitioner", id="sw-1", email="sw-1@council.example",
                agency_id="council-1")
SW2 = Recipient(kind="practitioner", id="sw-2", email="sw-2@council.example",
                agency_id="council-1")

Start = Callable[..., NotifierSettings]


class FakeClock:
    """The notifier's `now`, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _alert(recipients: tuple[Recipient, ...] = (SW1,), minutes: int = 0,
           alert_type: str = "new_agency_contact", **extra: Any) -> Alert:
    fields: dict[str, Any] = {"shielded": False} | extra
    return Alert(alert_id=uuid.uuid4(), alert_type=alert_type, child_id="c-1",
                 event_id=uuid.uuid4(), recipients=list(recipients),
                 agency_kinds=["school", "gp"], created_at=T0 + timedelta(minutes=minutes),
                 **fields)


def _produce(settings: NotifierSettings, *values: bytes) -> None:
    producer = make_producer(settings)
    try:
        for value in values:
            producer.send(settings.topics.alerts, value=value)
        producer.flush()
    finally:
        producer.close()


def _send(settings: NotifierSettings, *alerts: Alert) -> None:
    _produce(settings, *(a.model_dump_json().encode() for a in alerts))


@pytest.fixture
def start(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Start]:
    """Start the notifier's main() in a thread with `env` plus overrides; stopped at teardown."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def _start(now: Callable[[], datetime] | None = None, **overrides: str) -> NotifierSettings:
        values = env | {"SIGNPOST_WEBHOOK_SECRET": WEBHOOK_SECRET,
                        "SIGNPOST_TOKEN_SECRET": TOKEN_SECRET,
                        "SIGNPOST_INBOX_PORT": "0", "SIGNPOST_BACKOFF_BASE_S": "0.05",
                        "SIGNPOST_BACKOFF_CAP_S": "0.2"} | overrides
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        settings = NotifierSettings()
        ensure_topics(settings)
        args = (settings, stop) if now is None else (settings, stop, now)
        thread = threading.Thread(target=main, args=args, daemon=True)
        thread.start()
        threads.append(thread)
        return settings

    yield _start
    stop.set()
    for thread in threads:
        thread.join(timeout=15)


@pytest.fixture
def inbox(env: dict[str, str], redis_client: redis.Redis) -> InboxStore:
    """The store the notifier under test writes to (same Redis, same key prefix)."""
    return InboxStore(redis_client, env["SIGNPOST_KEY_PREFIX"])


@pytest.fixture
def ledger(env: dict[str, str], redis_client: redis.Redis) -> Ledger:
    return Ledger(redis_client, env["SIGNPOST_KEY_PREFIX"])


@pytest.fixture
def receiver_factory() -> Iterator[Callable[..., WebhookReceiver]]:
    receivers: list[WebhookReceiver] = []

    def _make(**kwargs: Any) -> WebhookReceiver:
        receivers.append(WebhookReceiver(**kwargs).start())
        return receivers[-1]

    yield _make
    for receiver in receivers:
        receiver.stop()


def _dlq_values(settings: NotifierSettings, expected: int) -> list[bytes]:
    consumer = KafkaConsumer(settings.topics.alerts_dlq,
                             bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                             auto_offset_reset="earliest")
    seen: list[bytes] = []

    def drain() -> bool:
        for records in consumer.poll(timeout_ms=200).values():
            seen.extend(r.value for r in records)
        return len(seen) >= expected

    try:
        wait_until(drain, timeout_s=15)
    finally:
        close_consumer(consumer)
    return seen


def _ids(receiver: WebhookReceiver) -> list[str]:
    return [r.json()["alert_id"] for r in receiver.received]


def test_flaky_receiver_gets_each_alert_exactly_once_signed(
    start: Start, receiver_factory: Callable[..., WebhookReceiver], ledger: Ledger
) -> None:
    receiver = receiver_factory(fail_first=2)
    settings = start(SIGNPOST_WEBHOOK_URL=receiver.url, SIGNPOST_MAX_ATTEMPTS="5")
    alert, sentinel = _alert(), _alert(minutes=1, alert_type="records_merged")
    _send(settings, alert, alert, sentinel)  # the duplicate stands for a replay after a crash

    wait_until(lambda: len(receiver.received) == 2, timeout_s=12)
    assert sorted(_ids(receiver)) == sorted([str(alert.alert_id), str(sentinel.alert_id)])
    assert receiver.attempts == 4  # two 503s, then each alert once
    first = next(r for r in receiver.received if r.json()["alert_id"] == str(alert.alert_id))
    assert first.json()["recipient"] == {"kind": "practitioner", "id": "sw-1"}
    assert "recipients" not in first.json() and "council" not in first.body.decode()
    assert first.headers["idempotency-key"] == f"{alert.alert_id}:sw-1"
    assert first.headers["content-type"] == "application/json"
    assert verify(WEBHOOK_SECRET, first.headers["x-signpost-timestamp"], first.body,
                  first.headers["x-signpost-signature"], tolerance_s=60)
    wait_until(lambda: ledger.state(alert.alert_id, SW1, "webhook") == "delivered", timeout_s=5)


def test_silent_receiver_parks_the_alert_in_the_dlq_and_holds_up_nobody_else(
    start: Start, receiver_factory: Callable[..., WebhookReceiver], inbox: InboxStore,
    ledger: Ledger
) -> None:
    silent, healthy = receiver_factory(hang=True), receiver_factory()
    endpoints = f'{{"sw-2": {{"url": "{healthy.url}", "secret": "s2"}}}}'
    settings = start(SIGNPOST_WEBHOOK_URL=silent.url, SIGNPOST_WEBHOOK_ENDPOINTS=endpoints,
                     SIGNPOST_MAX_ATTEMPTS="2", SIGNPOST_WEBHOOK_TIMEOUT_S="0.5")
    alert, other = _alert(recipients=(SW1, REVIEW)), _alert(recipients=(SW2,), minutes=1)
    _send(settings, alert, other)
    wait_until(lambda: healthy.received, timeout_s=5)
    # sw-2's alert did not wait for sw-1's retries: sw-1's webhook has not yet failed (its
    # attempt count is no measure: another worker may be retrying it at this very moment)
    assert ledger.state(alert.alert_id, SW1, "webhook") != "failed"
    values = _dlq_values(settings, 1)
    assert len(values) == 1  # operators' queues have no webhook: one DLQ record, for sw-1
    record = AlertDlqRecord.model_validate_json(values[0])
    assert record.reason is DlqReason.undeliverable
    assert (record.alert_id, record.recipient_id, record.channel, record.attempts) == (
        str(alert.alert_id), "sw-1", "webhook", 2)
    assert record.detail == "timeout after 2 attempts"
    assert silent.attempts == 2
    assert inbox.is_addressed_to(alert_id=alert.alert_id, recipient=SW1)  # the inbox still has it
    wait_until(lambda: ledger.state(alert.alert_id, SW1, "webhook") == "failed", timeout_s=5)
    assert [r.json()["alert_id"] for r in healthy.received] == [str(other.alert_id)]


def test_a_record_that_is_not_an_alert_goes_to_the_dlq(start: Start, inbox: InboxStore) -> None:
    settings = start()
    good = _alert()
    _produce(settings, b"not json", b'{"alert_id": "x", "surprise": 1}')
    _send(settings, good)
    records = [DlqRecord.model_validate_json(v) for v in _dlq_values(settings, 2)]
    assert [r.reason for r in records] == [DlqReason.not_json, DlqReason.unknown_field]
    assert records[0].original == "not json"
    assert records[0].source_topic == settings.topics.alerts
    wait_until(lambda: inbox.is_addressed_to(alert_id=good.alert_id, recipient=SW1), timeout_s=5)


def test_each_recipient_gets_their_own_endpoint_and_secret(
    start: Start, receiver_factory: Callable[..., WebhookReceiver]
) -> None:
    own, agency, default = receiver_factory(), receiver_factory(), receiver_factory()
    endpoints = (f'{{"sw-1": {{"url": "{own.url}", "secret": "own-secret"}}, '
                 f'"gp-1": {{"url": "{agency.url}", "secret": "agency-secret"}}}}')
    settings = start(SIGNPOST_WEBHOOK_URL=default.url, SIGNPOST_WEBHOOK_ENDPOINTS=endpoints)
    gp = Recipient(kind="practitioner", id="gp-7", agency_id="gp-1")
    other = Recipient(kind="practitioner", id="hv-3", agency_id="hv-1")
    _send(settings, _alert(recipients=(SW1, gp, other)))
    wait_until(lambda: own.received and agency.received and default.received, timeout_s=10)
    for receiver, secret, who in ((own, "own-secret", "sw-1"), (agency, "agency-secret", "gp-7"),
                                  (default, WEBHOOK_SECRET, "hv-3")):
        [got] = receiver.received
        assert got.json()["recipient"]["id"] == who
        assert verify(secret, got.headers["x-signpost-timestamp"], got.body,
                      got.headers["x-signpost-signature"])


def test_repeats_about_the_same_child_and_discrepancy_fold_into_one(
    start: Start, receiver_factory: Callable[..., WebhookReceiver], inbox: InboxStore
) -> None:
    receiver = receiver_factory()
    settings = start(SIGNPOST_WEBHOOK_URL=receiver.url, SIGNPOST_FOLD_WINDOW_S="3600")
    kw: dict[str, Any] = {"alert_type": "identity_discrepancy", "discrepancies": ["name"]}
    first, repeat, other = _alert(**kw), _alert(minutes=5, **kw), _alert(
        minutes=6, alert_type="identity_discrepancy", discrepancies=["dob"])
    _send(settings, first, repeat, other)
    wait_until(lambda: len(inbox.list_for(recipient=SW1)) == 2 and len(receiver.received) == 2,
               timeout_s=10)
    assert sorted(_ids(receiver)) == sorted([str(first.alert_id), str(other.alert_id)])
    items = {i.alert.alert_id: i.repeats for i in inbox.list_for(recipient=SW1)}
    assert items == {first.alert_id: 1, other.alert_id: 0}


class _Sink:
    """aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append(envelope.original_content)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[_Sink, int]]:
    sink, port = _Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


def test_the_email_says_an_alert_waits_and_nothing_else(
    start: Start, smtp: tuple[_Sink, int]
) -> None:
    sink, port = smtp
    settings = start(SIGNPOST_SMTP_HOST="127.0.0.1", SIGNPOST_SMTP_PORT=str(port),
                     SIGNPOST_INBOX_URL="https://signpost.example/inbox")
    contact = {"practitioner_id": "gp-9", "name": "Dr Ann Patel", "role": "GP",
               "email": "ann.patel@tottenham-surgery.example", "phone": "020 7946 0018",
               "agency_kind": "gp"}
    alert = _alert(discrepancies=["name", "address"], contacts=[contact], shielded=True)
    _send(settings, alert, _alert(recipients=(REVIEW,)))
    wait_until(lambda: sink.messages, timeout_s=10)
    [raw] = sink.messages  # the operators' queue gets no mail
    mail = message_from_bytes(raw)
    assert mail["To"] == "sw-1@council.example" and mail["Subject"] == SUBJECT
    assert "https://signpost.example/inbox" in raw.decode()
    for value in (alert.child_id, str(alert.alert_id), str(alert.event_id), "gp-9", "Patel",
                  "tottenham", "7946", "address", "school", "council-1"):
        assert value not in raw.decode().replace("sw-1@council.example", "")


def _bearer(sub: str, role: Role = Role.professional) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(TOKEN_SECRET, sub, role)}"}


def _ok(http: httpx.Client, path: str) -> bool:
    try:
        return http.get(path).status_code == 200
    except httpx.TransportError:
        return False


def test_inbox_api_over_http(start: Start,
                             receiver_factory: Callable[..., WebhookReceiver]) -> None:
    port = free_port()
    receiver = receiver_factory()
    settings = start(SIGNPOST_INBOX_PORT=str(port), SIGNPOST_WEBHOOK_URL=receiver.url)
    mine, review = _alert((SW1,)), _alert((REVIEW,), minutes=1, alert_type="review_needed")
    _send(settings, mine, review)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        wait_until(lambda: _ok(http, "/healthz"), timeout_s=10)
        items = wait_until(lambda: http.get("/v1/inbox", headers=_bearer("sw-1")).json(),
                           timeout_s=10)
        assert [i["alert_id"] for i in items] == [str(mine.alert_id)]
        assert items[0]["acknowledged_at"] is None and items[0]["repeats"] == 0
        assert "recipients" not in items[0] and "escalation" not in items[0]

        url = f"/v1/inbox/{mine.alert_id}"
        assert http.get(url, headers=_bearer("sw-1")).status_code == 200
        assert http.get(url, headers=_bearer("sw-2")).status_code == 403
        assert http.post(f"{url}/ack", headers=_bearer("sw-2")).status_code == 403
        assert http.get(f"/v1/inbox/{uuid.uuid4()}", headers=_bearer("sw-1")).status_code == 403
        assert http.get(url).status_code == 401
        assert http.get("/v1/inbox").status_code == 401
        forged = issue_token("wrong-secret", "sw-1", Role.professional)
        assert http.get(url, headers={"Authorization": f"Bearer {forged}"}).status_code == 401

        acked = http.post(f"{url}/ack", headers=_bearer("sw-1"))
        assert acked.status_code == 200
        assert acked.json()["alert_id"] == str(mine.alert_id)
        assert acked.json()["acknowledged_at"] is not None
        listed = http.get("/v1/inbox", headers=_bearer("sw-1")).json()
        assert listed[0]["acknowledged_at"] == acked.json()["acknowledged_at"]

        ops = wait_until(lambda: http.get("/v1/inbox", headers=_bearer("op-1", Role.operator))
                         .json(), timeout_s=5)
        assert [i["alert_id"] for i in ops] == [str(review.alert_id)]
        assert http.get(url, headers=_bearer("op-1", Role.operator)).status_code == 403

        wait_until(lambda: receiver.received, timeout_s=5)
        metrics = wait_until(lambda: _metric_lines(http), timeout_s=5)
    for name in ("delivered_total", "acknowledged_total", "accepted_total", "retried_total",
                 "failed_total", "delivery_seconds_bucket", "attempt_seconds_bucket"):
        assert any(line.startswith(f"signpost_notifier_{name}") for line in metrics), name
    audit = [(r.actor, r.action, r.outcome, r.target) for r in _audited(settings)]
    read, ack = AuditAction.inbox_read, AuditAction.inbox_ack
    assert ("sw-2", read, AuditOutcome.refused, str(mine.alert_id)) in audit
    assert ("sw-2", ack, AuditOutcome.refused, str(mine.alert_id)) in audit
    assert ("sw-1", read, AuditOutcome.allowed, str(mine.alert_id)) in audit
    assert ("sw-1", ack, AuditOutcome.allowed, str(mine.alert_id)) in audit
    assert ("op-1", AuditAction.inbox_list, AuditOutcome.allowed, None) in audit


def _audited(settings: NotifierSettings) -> list[AuditRecord]:
    return [AuditRecord.model_validate_json(s.value)
            for s in read_audit_topic(settings.kafka_bootstrap, settings.topics.audit)]


def _metric_lines(http: httpx.Client) -> list[str]:
    lines = http.get("/metrics").text.splitlines()
    delivered = [ln for ln in lines if ln.startswith("signpost_notifier_delivered_total")]
    return lines if delivered and not delivered[0].endswith(" 0.0") else []


def test_unacknowledged_alerts_escalate_and_acknowledged_ones_do_not(
    start: Start, inbox: InboxStore
) -> None:
    clock = FakeClock(T0)
    port = free_port()
    settings = start(clock, SIGNPOST_ESCALATE_AFTER_S="600", SIGNPOST_INBOX_PORT=str(port))
    plan = Escalation(chain=[SW2])
    ignored = _alert(escalation=plan)
    handled = _alert(minutes=1, alert_type="identity_discrepancy", discrepancies=["dob"],
                     escalation=plan)
    _send(settings, ignored, handled)
    wait_until(lambda: len(inbox.list_for(recipient=SW1)) == 2, timeout_s=10)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        assert http.post(f"/v1/inbox/{handled.alert_id}/ack",
                         headers=_bearer("sw-1")).status_code == 200

    clock.at = T0 + timedelta(minutes=11)
    escalated = wait_until(lambda: inbox.list_for(recipient=SW2), timeout_s=10)
    [item] = escalated
    assert item.alert.escalated_from == ignored.alert_id
    assert item.alert.escalation_level == 1 and item.alert.created_at == clock.at
    flagged = wait_until(lambda: inbox.list_for(recipient=ESCALATED), timeout_s=5)
    assert [i.alert.alert_id for i in flagged] == [item.alert.alert_id]
    clock.at = T0 + timedelta(hours=2)  # sw-2 did not acknowledge either: operators only now
    flagged = wait_until(lambda: _two(inbox.list_for(recipient=ESCALATED)), timeout_s=10)
    assert sorted((i.alert.escalation_level, i.alert.escalated_from) for i in flagged) == [
        (1, ignored.alert_id), (2, item.alert.alert_id)]
    assert [i.alert.recipients for i in flagged if i.alert.escalation_level == 2] == [[ESCALATED]]
    assert [i.alert.alert_id for i in inbox.list_for(recipient=SW2)] == [item.alert.alert_id]


def _two(items: list[Any]) -> list[Any]:
    return items if len(items) == 2 else []


# uvicorn ends its thread with SystemExit when the port is taken; that is the case under test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_main_refuses_to_run_without_the_inbox_it_was_asked_for(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        for key, value in (env | {"SIGNPOST_INBOX_PORT": str(taken.getsockname()[1])}).items():
            monkeypatch.setenv(key, value)
        with pytest.raises(InfrastructureError, match="did not start"):
            main(NotifierSettings(), threading.Event())
