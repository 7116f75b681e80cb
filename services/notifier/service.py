"""The notifier service: `alerts` -> each recipient's inbox and delivery jobs -> channels.

The Kafka loop only accepts: per alert and recipient, one ACCEPT script stores the alert in
the inbox with its delivery record and schedules its jobs (webhook, e-mail, escalation) or
folds it into an earlier alert about the same trigger; a partition's polled records are
accepted in one Redis round trip (`handle_batch`). Delivery workers (worker.py) run the
jobs. A record that is not an Alert goes to `alerts.dlq`; Redis trouble raises out of
`handle_batch`, so run_loop retries the batch: never the DLQ.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime

import uvicorn
from pydantic import ValidationError

from schemas import Alert, Recipient
from services.notifier import metrics
from services.notifier.api import create_app
from services.notifier.inbox import ESCALATE, InboxStore
from services.notifier.ledger import Acceptance, Ledger
from services.notifier.retry import Backoff
from services.notifier.sender import Sender
from services.notifier.settings import NotifierSettings
from services.notifier.webhook import endpoint_for
from services.notifier.worker import EMAIL, WEBHOOK, Bell, Deliverer
from signpost.audit import AuditLog, build_audit_log
from signpost.dlq import dlq_outgoing, reason_of, validation_errors
from signpost.health import redis_probes
from signpost.http import serve_app_in_thread
from signpost.kafka import (
    ConsumerRecord,
    Outgoing,
    close_consumer,
    make_consumer,
    make_producer,
    record_location,
    run_loop,
)
from signpost.redis import make_redis

__all__ = ["Notifier", "build_notifier", "handle", "handle_batch", "jobs_for", "main"]

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Notifier:
    """What `handle` needs: settings, the ledger and inbox, the clock, the workers' bell."""

    settings: NotifierSettings
    ledger: Ledger
    store: InboxStore
    now: Clock
    wake: Bell

    def close(self) -> None:
        self.store.r.close()


def build_notifier(settings: NotifierSettings, now: Clock = utc_now) -> Notifier:
    """The handler's parts from settings (opens one Redis client)."""
    client = make_redis(settings)
    return Notifier(settings=settings, ledger=Ledger(client, settings.key_prefix),
                    store=InboxStore(client, settings.key_prefix), now=now,
                    wake=Bell())


def jobs_for(settings: NotifierSettings, alert: Alert, recipient: Recipient,
             now: float) -> list[tuple[str, float]]:
    """(channel, due unix s) of the jobs one accepted alert makes for one recipient.

    Operators' queues are read in the inbox: no jobs. A practitioner gets the webhook if one
    is configured for them, the e-mail notice if SMTP is set and their address known, and an
    escalation check if the alert has an escalation plan.
    """
    if recipient.kind != "practitioner":
        return []
    jobs: list[tuple[str, float]] = []
    if endpoint_for(recipient, settings) is not None:
        jobs.append((WEBHOOK, now))
    if settings.smtp_host is not None and recipient.email:
        jobs.append((EMAIL, now))
    if alert.escalation is not None and settings.escalate_after_s > 0:
        jobs.append((ESCALATE, now + settings.escalate_after_s))
    return jobs


def _accept(n: Notifier, alerts: Sequence[Alert]) -> None:
    """Accept each alert for each of its recipients, in order, in one round trip."""
    now = n.now().timestamp()
    items = [Acceptance(alert, recipient, jobs_for(n.settings, alert, recipient, now))
             for alert in alerts for recipient in alert.recipients]
    results = n.ledger.accept_many(items, now=now, fold_window_s=n.settings.fold_window_s)
    for item, accepted in zip(items, results, strict=True):
        alert = item.alert
        if accepted.status == "new":
            metrics.ACCEPTED.labels(alert.alert_type.value).inc()
        elif accepted.status == "folded":
            metrics.FOLDED.labels(alert.alert_type.value).inc()
            logger.info("alert_id=%s folded into %s", alert.alert_id, accepted.shown)


def _rejected(record: ConsumerRecord, exc: ValidationError, n: Notifier) -> Outgoing:
    """The `alerts.dlq` record of a record that is not an Alert, with the original bytes."""
    errors = validation_errors(exc)
    reason = reason_of(errors)
    metrics.REJECTED.labels(reason.value).inc()
    logger.warning("%s: not an alert (%s); dead-lettered", record_location(record), reason)
    return dlq_outgoing(n.settings.topics.alerts_dlq, record, reason, errors)


def handle_batch(records: Sequence[ConsumerRecord], n: Notifier) -> list[Outgoing]:
    """A partition's polled records from `alerts`: accept every alert for every recipient
    (one Redis round trip), then wake one worker.

    A record that is not an Alert goes to `alerts.dlq` as a DlqRecord with the original bytes:
    an AlertDlqRecord needs an alert id and a recipient that a broken record does not have.
    Redis trouble raises, and run_loop handles the whole batch again: ACCEPT is idempotent.
    """
    parsed: list[tuple[ConsumerRecord, Alert]] = []
    rejected: list[Outgoing] = []
    for record in records:
        try:
            parsed.append((record, Alert.model_validate_json(record.value or b"")))
        except ValidationError as exc:
            rejected.append(_rejected(record, exc, n))
    if parsed:
        _accept(n, [alert for _, alert in parsed])
        n.wake.ring()
        if logger.isEnabledFor(logging.DEBUG):
            for record, alert in parsed:
                logger.debug("%s alert_id=%s accepted", record_location(record), alert.alert_id)
    return rejected


def handle(record: ConsumerRecord, n: Notifier) -> list[Outgoing]:
    """One record from `alerts`: `handle_batch` of that record alone."""
    return handle_batch([record], n)


def _serve_inbox(settings: NotifierSettings, store: InboxStore, audit: AuditLog,
                 now: Clock) -> uvicorn.Server | None:
    """The inbox page and API on SIGNPOST_INBOX_PORT (0 = none); raises if it cannot listen."""
    if not settings.inbox_port:
        return None
    return serve_app_in_thread(create_app(settings, store, audit, now), settings.inbox_port,
                               settings.http_host)


def _stop_server(server: uvicorn.Server) -> None:
    server.should_exit = True


def _start_workers(n: Notifier, deliverer: Deliverer, stop: threading.Event,
                   opened: ExitStack) -> None:
    """SIGNPOST_DELIVERY_WORKERS threads running the deliverer; joined when `opened` closes."""
    threads = [threading.Thread(target=deliverer.run, args=(stop,), name=f"deliver-{i}",
                                daemon=True) for i in range(n.settings.delivery_workers)]
    for thread in threads:
        thread.start()
        opened.callback(thread.join, 30)
    opened.callback(n.wake.ring_all)
    opened.callback(stop.set)  # runs first: closing stops the workers before joining them


def main(settings: NotifierSettings, stop: threading.Event, now: Clock = utc_now) -> None:
    """Run the notifier until `stop` is set: the consume loop, the delivery workers, and the
    inbox page and API if a port. `now` is the one clock (tests pass a fake one). The
    process's one audit log is built here and handed to the inbox app.

    Everything opened is closed in reverse order, whichever step fails.
    """
    settings.check()
    with ExitStack() as opened:
        n = build_notifier(settings, now)
        opened.callback(n.close)
        redis_probes("notifier", stop, store=settings.redis_url)
        producer = make_producer(settings)
        opened.callback(producer.close)
        sender = Sender(settings.webhook_timeout_s)
        opened.callback(sender.close)
        audit = build_audit_log(settings, n.store.r, producer, "notifier")
        server = _serve_inbox(settings, n.store, audit, now)
        if server is not None:
            opened.callback(_stop_server, server)
        workers_stop = threading.Event()
        deliverer = Deliverer(settings, n.ledger, n.store, sender, producer,
                              Backoff(settings.backoff_base_s, settings.backoff_cap_s), now,
                              n.wake)
        _start_workers(n, deliverer, workers_stop, opened)
        consumer = make_consumer(settings, [settings.topics.alerts], settings.notifier_group,
                                 fetch_max_wait_ms=settings.fetch_max_wait_ms)
        opened.callback(close_consumer, consumer)
        run_loop(consumer, producer, lambda records: handle_batch(records, n), stop, "notifier")
