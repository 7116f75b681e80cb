"""The notifier service: `alerts` -> inbox (Redis) and webhook -> `alerts.dlq` if undeliverable.

Per alert and recipient: store it in the recipient's inbox (idempotent); for a practitioner,
when a webhook URL is configured and the alert has not reached them yet, deliver it; mark it
delivered on success, or park it in `alerts.dlq` with the reason after the last attempt.
Redis trouble raises out of `handle`, so run_loop retries the batch: never the DLQ.
"""

from __future__ import annotations

import logging
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import uvicorn
from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from schemas import Alert, AlertDlqRecord, DlqReason, Recipient
from services.notifier.api import create_app
from services.notifier.inbox import InboxStore
from services.notifier.retry import Backoff
from services.notifier.settings import NotifierSettings
from services.notifier.webhook import DeliveryOutcome, deliver
from signpost.dlq import dlq_outgoing, reason_of, validation_errors
from signpost.http import serve_app_in_thread
from signpost.kafka import (
    ConsumerRecord,
    Outgoing,
    make_consumer,
    make_producer,
    record_location,
    run_loop,
)
from signpost.redis import make_redis

__all__ = ["Notifier", "build_notifier", "handle", "main"]

logger = logging.getLogger(__name__)

WEBHOOK = "webhook"

STORED = Counter("signpost_notifier_inbox_added_total", "Alerts put in an inbox", ["alert_type"])
DELIVERED = Counter("signpost_notifier_webhook_delivered_total", "Webhook deliveries that worked")
RETRIED = Counter("signpost_notifier_webhook_retries_total", "Webhook attempts after the first")
FAILED = Counter("signpost_notifier_webhook_failed_total", "Webhook deliveries parked in the DLQ")
REJECTED = Counter("signpost_notifier_rejected_total", "Records on `alerts` that did not parse",
                   ["reason"])
LATENCY = Histogram("signpost_notifier_webhook_seconds", "One delivery, all attempts included")


@dataclass(frozen=True, slots=True)
class Notifier:
    """What `handle` needs: settings, the inbox store, an HTTP client and the retry policy."""

    settings: NotifierSettings
    store: InboxStore
    client: httpx.Client
    backoff: Backoff

    def close(self) -> None:
        self.client.close()
        self.store.r.close()


def build_notifier(settings: NotifierSettings) -> Notifier:
    """The handler's parts from settings (opens a Redis client and an HTTP client)."""
    return Notifier(
        settings=settings,
        store=InboxStore(make_redis(settings), settings.key_prefix),
        client=httpx.Client(timeout=settings.webhook_timeout_s, follow_redirects=False),
        backoff=Backoff(settings.backoff_base_s, settings.backoff_cap_s),
    )


def _wants_webhook(n: Notifier, alert: Alert, recipient: Recipient) -> bool:
    return (n.settings.webhook_url is not None and recipient.kind == "practitioner"
            and not n.store.was_delivered(alert_id=alert.alert_id, recipient=recipient,
                                          channel=WEBHOOK))


def _undeliverable(n: Notifier, alert: Alert, recipient: Recipient,
                   outcome: DeliveryOutcome) -> Outgoing:
    """The `alerts.dlq` message for an alert that could not reach one recipient."""
    record = AlertDlqRecord(
        reason=DlqReason.undeliverable, detail=outcome.detail, alert_id=str(alert.alert_id),
        recipient_id=recipient.id, channel=WEBHOOK, attempts=outcome.attempts,
        alert=alert.model_dump(mode="json"), failed_at=datetime.now(UTC),
    )
    return Outgoing(n.settings.topics.alerts_dlq, record.model_dump_json().encode(),
                    str(alert.alert_id).encode())


def _by_webhook(n: Notifier, alert: Alert, recipient: Recipient) -> list[Outgoing]:
    """Deliver one alert to one practitioner: mark it delivered, or dead-letter it."""
    assert n.settings.webhook_url is not None
    with LATENCY.time():
        outcome = deliver(n.client, n.settings.webhook_url,
                          n.settings.webhook_secret.get_secret_value(), alert, recipient,
                          n.backoff, n.settings.max_attempts)
    RETRIED.inc(outcome.attempts - 1)
    if outcome.delivered:
        DELIVERED.inc()
        n.store.mark_delivered(alert_id=alert.alert_id, recipient=recipient, channel=WEBHOOK)
        return []
    FAILED.inc()
    logger.warning("webhook alert_id=%s undeliverable: %s", alert.alert_id, outcome.detail)
    return [_undeliverable(n, alert, recipient, outcome)]


def handle(record: ConsumerRecord, n: Notifier) -> list[Outgoing]:
    """One record from `alerts`: every recipient's inbox, then webhooks to practitioners.

    A record that is not an Alert goes to `alerts.dlq` as a DlqRecord with the original bytes:
    an AlertDlqRecord needs an alert id and a recipient that a broken record does not have.
    """
    try:
        alert = Alert.model_validate_json(record.value or b"")
    except ValidationError as exc:
        errors = validation_errors(exc)
        reason = reason_of(errors)
        REJECTED.labels(reason.value).inc()
        logger.warning("%s: not an alert (%s); dead-lettered", record_location(record), reason)
        return [dlq_outgoing(n.settings.topics.alerts_dlq, record, reason, errors)]
    out: list[Outgoing] = []
    for recipient in alert.recipients:
        if n.store.add(alert=alert, recipient=recipient):
            STORED.labels(alert.alert_type.value).inc()
        if _wants_webhook(n, alert, recipient):
            out.extend(_by_webhook(n, alert, recipient))
    logger.debug("%s alert_id=%s handled", record_location(record), alert.alert_id)
    return out


def _serve_inbox(settings: NotifierSettings, store: InboxStore) -> uvicorn.Server | None:
    """The inbox API on SIGNPOST_INBOX_PORT (0 = none); raises if it cannot listen there."""
    if not settings.inbox_port:
        return None
    return serve_app_in_thread(create_app(settings, store), settings.inbox_port,
                               settings.http_host)


def _stop_server(server: uvicorn.Server) -> None:
    server.should_exit = True


def main(settings: NotifierSettings, stop: threading.Event) -> None:
    """Run the notifier until `stop` is set: the consume loop, and the inbox API if a port.

    Everything opened is closed in reverse order, whichever step fails.
    """
    settings.check()
    with ExitStack() as opened:
        notifier = build_notifier(settings)
        opened.callback(notifier.close)
        server = _serve_inbox(settings, notifier.store)
        if server is not None:
            opened.callback(_stop_server, server)
        consumer = make_consumer(settings, [settings.topics.alerts], settings.notifier_group)
        opened.callback(consumer.close)
        producer = make_producer(settings)
        opened.callback(producer.close)
        run_loop(consumer, producer, lambda r: handle(r, notifier), stop, "notifier")
