"""The ingest service: `contact.events.raw` -> validate -> `contact.events` or the DLQ."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from prometheus_client import Counter

from services.ingest.gateway import create_app
from services.ingest.outputs import accepted_outgoing
from services.ingest.settings import IngestSettings
from services.ingest.validate import Rejection, validate
from signpost.dlq import dlq_outgoing
from signpost.http import serve_app_in_thread
from signpost.kafka import (
    ConsumerRecord,
    Outgoing,
    make_consumer,
    make_producer,
    record_location,
    run_loop,
)

__all__ = ["handle", "main"]

logger = logging.getLogger(__name__)

ACCEPTED = Counter("signpost_ingest_accepted_total", "Events passed on", ["source"])
REJECTED = Counter("signpost_ingest_rejected_total", "Events dead-lettered", ["source", "reason"])


def handle(record: ConsumerRecord, settings: IngestSettings) -> list[Outgoing]:
    """Every input record ends in exactly one of `contact.events` or its DLQ."""
    topics = settings.topics
    outcome = validate(record.value or b"", datetime.now(UTC))
    if isinstance(outcome, Rejection):
        REJECTED.labels("kafka", outcome.reason.value).inc()
        logger.info("%s rejected: %s", record_location(record), outcome.reason.value)
        return [dlq_outgoing(topics.events_dlq, record, outcome.reason, outcome.errors)]
    ACCEPTED.labels("kafka").inc()
    return [accepted_outgoing(outcome, settings)]


def main(settings: IngestSettings, stop: threading.Event) -> None:
    settings.check()
    consumer = make_consumer(settings, [settings.topics.raw], settings.ingest_group)
    producer = make_producer(settings)
    server = None
    if settings.gateway_port:
        app = create_app(settings, producer)
        server = serve_app_in_thread(app, settings.gateway_port, settings.http_host)
    try:
        run_loop(consumer, producer, lambda r: handle(r, settings), stop, "ingest")
    finally:
        if server is not None:
            server.should_exit = True
        consumer.close()
        producer.close()
