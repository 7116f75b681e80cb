"""Kill the notifier process mid-stream (SIGKILL), start it again: no alert is lost, and the
receiver sees each alert once.

The notifier runs as `python -m signpost.cli notifier`, as in production. An alert whose POST
was in flight at the kill may be POSTed again after the restart, with the same body and the
same Idempotency-Key, which is how a receiver shows it once; the test allows that one replay
per delivery worker and nothing else.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis

from schemas import Alert, Recipient
from services.notifier.inbox import InboxStore
from services.notifier.ledger import Ledger
from signpost.kafka import ensure_topics, make_producer
from signpost.settings import CommonSettings
from tests.support.receiver import Received, WebhookReceiver
from tests.support.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

ALERTS = 240
RATE_PER_S = 120.0
KILL_AFTER = 60  # deliveries seen before the kill
WORKERS = 2
SW1 = Recipient(kind="practitioner", id="sw-1")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    yield r
    r.stop()


def _spawn(env: dict[str, str], receiver: WebhookReceiver) -> subprocess.Popen[bytes]:
    values = os.environ | env | {
        "SIGNPOST_WEBHOOK_URL": receiver.url, "SIGNPOST_WEBHOOK_SECRET": "restart-secret",
        "SIGNPOST_TOKEN_SECRET": "restart-token", "SIGNPOST_INBOX_PORT": "0",
        "SIGNPOST_WEBHOOK_TIMEOUT_S": "0.5", "SIGNPOST_DELIVERY_WORKERS": str(WORKERS),
        "SIGNPOST_FOLD_WINDOW_S": "0", "SIGNPOST_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "signpost.cli", "notifier"], env=values,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _alerts() -> list[Alert]:
    at = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    return [Alert(alert_id=uuid.uuid4(), alert_type="new_agency_contact", child_id=f"c-{i}",
                  event_id=uuid.uuid4(), recipients=[SW1], agency_kinds=["school"],
                  shielded=False, created_at=at) for i in range(ALERTS)]


def _produce_steadily(settings: CommonSettings, alerts: list[Alert], stop: threading.Event
                      ) -> None:
    producer = make_producer(settings)
    try:
        for alert in alerts:
            producer.send(settings.topics.alerts, alert.model_dump_json().encode())
            if stop.wait(1.0 / RATE_PER_S):
                break
        producer.flush()
    finally:
        producer.close()


def test_sigkill_mid_stream_loses_nothing_and_delivers_once(
    env: dict[str, str], common: CommonSettings, receiver: WebhookReceiver,
    redis_client: redis.Redis
) -> None:
    ensure_topics(common)
    alerts = _alerts()
    ledger = Ledger(redis_client, env["SIGNPOST_KEY_PREFIX"])
    stop = threading.Event()
    feeder = threading.Thread(target=_produce_steadily, args=(common, alerts, stop), daemon=True)
    first = _spawn(env, receiver)
    try:
        feeder.start()
        wait_until(lambda: len(receiver.received) >= KILL_AFTER, timeout_s=30)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = len(receiver.received)
        second = _spawn(env, receiver)
        try:
            # Every alert delivered as the ledger has it, not merely received: a delivery the
            # kill cut off after the receiver had it is delivered again by the second process
            # (a replay), and stopping that one first would leave it for a third.
            wait_until(lambda: all(ledger.state(a.alert_id, SW1, "webhook") == "delivered"
                                   for a in alerts), timeout_s=45)
            wait_until(lambda: not feeder.is_alive(), timeout_s=5)
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=20) == 0, second.stderr.read() if second.stderr else ""
    finally:
        stop.set()
        if first.poll() is None:
            first.kill()

    assert killed_at < ALERTS, "the kill came after the stream ended: nothing was tested"
    keys = Counter(_key(r) for r in receiver.received)
    assert set(keys) == {f"{a.alert_id}:sw-1" for a in alerts}  # none lost
    replays = {k: n for k, n in keys.items() if n > 1}
    print(f"killed after {killed_at} of {ALERTS} deliveries; replays after restart: {replays}")
    assert len(replays) <= WORKERS and all(n == 2 for n in replays.values()), replays
    for key in replays:  # a replay is the same delivery: same body, same key
        assert len({r.body for r in receiver.received if _key(r) == key}) == 1
    assert all(ledger.state(a.alert_id, SW1, "webhook") == "delivered" for a in alerts)
    store = InboxStore(redis_client, env["SIGNPOST_KEY_PREFIX"])
    assert len(store.list_for(recipient=SW1, limit=ALERTS * 2)) == ALERTS


def _key(received: Received) -> str:
    return received.headers["idempotency-key"]
