"""The notifier end to end: real broker, Redis, webhook receiver and inbox HTTP server."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis
from kafka import KafkaConsumer

from schemas import Alert, AlertDlqRecord, DlqReason, DlqRecord, Recipient
from services.notifier.inbox import REVIEW, InboxStore
from services.notifier.service import main
from services.notifier.settings import NotifierSettings
from services.notifier.webhook import verify
from signpost.auth import Role, issue_token
from signpost.embedded import free_port
from signpost.errors import InfrastructureError
from signpost.kafka import ensure_topics, make_producer
from tests.support.receiver import WebhookReceiver
from tests.support.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

WEBHOOK_SECRET = "test-webhook-secret"
TOKEN_SECRET = "test-token-secret"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SW1 = Recipient(kind="practitioner", id="sw-1")
SW2 = Recipient(kind="practitioner", id="sw-2")

Start = Callable[..., NotifierSettings]


def _alert(recipients: tuple[Recipient, ...] = (SW1,), minutes: int = 0,
           alert_type: str = "new_agency_contact") -> Alert:
    return Alert(alert_id=uuid.uuid4(), alert_type=alert_type, child_id="c-1",
                 event_id=uuid.uuid4(), recipients=list(recipients),
                 agency_kinds=["school", "gp"], shielded=False,
                 created_at=T0 + timedelta(minutes=minutes))


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

    def _start(**overrides: str) -> NotifierSettings:
        values = env | {"SIGNPOST_WEBHOOK_SECRET": WEBHOOK_SECRET,
                        "SIGNPOST_TOKEN_SECRET": TOKEN_SECRET,
                        "SIGNPOST_INBOX_PORT": "0", "SIGNPOST_BACKOFF_BASE_S": "0.05",
                        "SIGNPOST_BACKOFF_CAP_S": "0.2"} | overrides
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        settings = NotifierSettings()
        ensure_topics(settings)
        thread = threading.Thread(target=main, args=(settings, stop), daemon=True)
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
def receiver_factory() -> Iterator[Callable[..., WebhookReceiver]]:
    receivers: list[WebhookReceiver] = []

    def _make(**kwargs: Any) -> WebhookReceiver:
        receivers.append(WebhookReceiver(**kwargs).start())
        return receivers[-1]

    yield _make
    for receiver in receivers:
        receiver.stop()


def _dlq_consumer(settings: NotifierSettings) -> KafkaConsumer:
    return KafkaConsumer(settings.topics.alerts_dlq, bootstrap_servers=settings.kafka_bootstrap,
                         group_id=f"test-{uuid.uuid4().hex[:8]}", auto_offset_reset="earliest",
                         session_timeout_ms=settings.session_timeout_ms,
                         heartbeat_interval_ms=settings.session_timeout_ms // 4)


def _drain(consumer: KafkaConsumer, into: list[bytes]) -> list[bytes]:
    for records in consumer.poll(timeout_ms=200).values():
        into.extend(r.value for r in records)
    return into


def test_flaky_receiver_gets_each_alert_exactly_once_signed(
    start: Start, receiver_factory: Callable[..., WebhookReceiver], inbox: InboxStore
) -> None:
    receiver = receiver_factory(fail_first=2)
    settings = start(SIGNPOST_WEBHOOK_URL=receiver.url, SIGNPOST_MAX_ATTEMPTS="5")
    alert, sentinel = _alert(), _alert(minutes=1)
    _send(settings, alert, alert, sentinel)  # the duplicate stands for a replay after a crash

    wait_until(lambda: len(receiver.received) == 2, timeout_s=12)
    first, second = receiver.received
    assert receiver.attempts == 4  # two 503s, then the alert once, then the sentinel
    assert first.json()["alert_id"] == str(alert.alert_id)
    assert second.json()["alert_id"] == str(sentinel.alert_id)
    assert first.json()["recipient"] == {"kind": "practitioner", "id": "sw-1"}
    assert first.headers["idempotency-key"] == f"{alert.alert_id}:sw-1"
    assert first.headers["content-type"] == "application/json"
    assert verify(WEBHOOK_SECRET, first.headers["x-signpost-timestamp"], first.body,
                  first.headers["x-signpost-signature"], tolerance_s=60)
    assert inbox.was_delivered(alert_id=alert.alert_id, recipient=SW1, channel="webhook")
    assert len(inbox.list_for(recipient=SW1)) == 2


def test_silent_receiver_parks_the_alert_in_the_dlq(
    start: Start, receiver_factory: Callable[..., WebhookReceiver], inbox: InboxStore
) -> None:
    receiver = receiver_factory(hang=True)
    settings = start(SIGNPOST_WEBHOOK_URL=receiver.url, SIGNPOST_MAX_ATTEMPTS="2",
                     SIGNPOST_WEBHOOK_TIMEOUT_S="0.3")
    alert = _alert(recipients=(SW1, REVIEW))
    _send(settings, alert)
    consumer = _dlq_consumer(settings)
    try:
        seen: list[bytes] = []
        values = wait_until(lambda: _drain(consumer, seen), timeout_s=12)
    finally:
        consumer.close()
    assert len(values) == 1  # operators' queues have no webhook: one DLQ record, for sw-1
    record = AlertDlqRecord.model_validate_json(values[0])
    assert record.reason is DlqReason.undeliverable
    assert (record.alert_id, record.recipient_id, record.channel, record.attempts) == (
        str(alert.alert_id), "sw-1", "webhook", 2)
    assert record.detail == "timeout after 2 attempts"
    assert receiver.attempts == 2
    assert inbox.is_addressed_to(alert_id=alert.alert_id, recipient=SW1)  # the inbox still has it
    assert not inbox.was_delivered(alert_id=alert.alert_id, recipient=SW1, channel="webhook")


def test_a_record_that_is_not_an_alert_goes_to_the_dlq(start: Start, inbox: InboxStore) -> None:
    settings = start()
    good = _alert()
    _produce(settings, b"not json", b'{"alert_id": "x", "surprise": 1}')
    _send(settings, good)
    consumer = _dlq_consumer(settings)
    try:
        seen: list[bytes] = []
        wait_until(lambda: len(_drain(consumer, seen)) >= 2, timeout_s=12)
    finally:
        consumer.close()
    records = [DlqRecord.model_validate_json(v) for v in seen]
    assert [r.reason for r in records] == [DlqReason.not_json, DlqReason.unknown_field]
    assert records[0].original == "not json"
    assert records[0].source_topic == settings.topics.alerts
    wait_until(lambda: inbox.is_addressed_to(alert_id=good.alert_id, recipient=SW1), timeout_s=5)


def _bearer(sub: str, role: Role = Role.professional) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(TOKEN_SECRET, sub, role)}"}


def test_inbox_api_over_http(start: Start) -> None:
    port = free_port()
    settings = start(SIGNPOST_INBOX_PORT=str(port))
    mine, review = _alert((SW1,)), _alert((REVIEW,), minutes=1, alert_type="review_needed")
    _send(settings, mine, review)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=5) as http:
        wait_until(lambda: _ok(http, "/healthz"), timeout_s=10)
        items = wait_until(lambda: http.get("/v1/inbox", headers=_bearer("sw-1")).json(),
                           timeout_s=10)
        assert [i["alert_id"] for i in items] == [str(mine.alert_id)]
        assert items[0]["acknowledged_at"] is None
        assert "recipients" not in items[0]

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


def _ok(http: httpx.Client, path: str) -> bool:
    try:
        return http.get(path).status_code == 200
    except httpx.TransportError:
        return False


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
