"""Ingest: `contact.events.raw` -> authenticate -> validate -> `contact.events` or the DLQ."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from prometheus_client import Counter

from schemas import StandardisedEvent
from services.ingest.authenticate import check_agency, signing_agency
from services.ingest.gateway import create_app
from services.ingest.outputs import accepted_outgoing
from services.ingest.settings import IngestSettings
from services.ingest.validate import Rejection, validate
from signpost.crypto import KeyStore, keystore_for, keystore_url
from signpost.dlq import dlq_outgoing
from signpost.health import redis_probes
from signpost.http import serve_app_in_thread
from signpost.kafka import (
    PIPELINE_FETCH_MAX_WAIT_MS,
    ConsumerRecord,
    Outgoing,
    close_consumer,
    make_consumer,
    make_producer,
    record_location,
    run_loop,
)

__all__ = ["admit", "handle", "handle_batch", "main"]

logger = logging.getLogger(__name__)

ACCEPTED = Counter("signpost_ingest_accepted_total", "Events passed on", ["source"])
REJECTED = Counter("signpost_ingest_rejected_total", "Events dead-lettered", ["source", "reason"])
_ACCEPTED_KAFKA = ACCEPTED.labels("kafka")  # looked up once, not once per event


def _reject(record: ConsumerRecord, settings: IngestSettings,
            rejection: Rejection) -> list[Outgoing]:
    REJECTED.labels("kafka", rejection.reason.value).inc()
    logger.info("%s rejected: %s (%s)", record_location(record), rejection.reason.value,
                ",".join(e.type for e in rejection.errors))
    return [dlq_outgoing(settings.topics.events_dlq, record, rejection.reason, rejection.errors)]


def admit(record: ConsumerRecord, settings: IngestSettings
          ) -> StandardisedEvent | list[Outgoing]:
    """The record's standardised event, or its DLQ message.

    Order: the agency's signature over the exact bytes, then parsing and validation, then
    the event's agency against the signing agency.
    """
    agency = signing_agency(record, settings.agency_signing_keys)
    if isinstance(agency, Rejection):
        return _reject(record, settings, agency)
    outcome = validate(record.value or b"", datetime.now(UTC))
    if isinstance(outcome, Rejection):
        return _reject(record, settings, outcome)
    mismatch = check_agency(outcome, agency)
    if mismatch is not None:
        return _reject(record, settings, mismatch)
    return outcome


def handle_batch(records: Sequence[ConsumerRecord], settings: IngestSettings,
                 keystore: KeyStore) -> list[Outgoing]:
    """Every input record ends in exactly one of `contact.events` or its DLQ, in input order.
    The data keys of all the batch's valid events are read (or made) in one go."""
    admitted = [admit(record, settings) for record in records]
    keys = keystore.for_records((a.event.agency.id, a.event.agency_record_id)
                                for a in admitted if isinstance(a, StandardisedEvent))
    out: list[Outgoing] = []
    accepted = 0
    for a in admitted:
        if isinstance(a, StandardisedEvent):
            out.append(accepted_outgoing(a, settings, keystore,
                                         keys[(a.event.agency.id, a.event.agency_record_id)]))
            accepted += 1
        else:
            out.extend(a)
    if accepted:
        _ACCEPTED_KAFKA.inc(accepted)
    return out


def handle(record: ConsumerRecord, settings: IngestSettings,
           keystore: KeyStore) -> list[Outgoing]:
    """One record: see handle_batch."""
    return handle_batch([record], settings, keystore)


def main(settings: IngestSettings, stop: threading.Event) -> None:
    settings.check()
    if not settings.agency_signing_keys:
        logger.warning("ingest: no SIGNPOST_AGENCY_SIGNING_KEYS; every message on %s will be "
                       "dead-lettered as bad_signature", settings.topics.raw)
    keystore = keystore_for(settings)
    redis_probes("ingest", stop, keystore=keystore_url(settings))
    consumer = make_consumer(settings, [settings.topics.raw], settings.ingest_group,
                             fetch_max_wait_ms=PIPELINE_FETCH_MAX_WAIT_MS)
    producer = make_producer(settings)
    server = None
    if settings.gateway_port:
        app = create_app(settings, producer)
        server = serve_app_in_thread(app, settings.gateway_port, settings.http_host)
    try:
        run_loop(consumer, producer, lambda rs: handle_batch(rs, settings, keystore), stop,
                 "ingest")
    finally:
        if server is not None:
            server.should_exit = True
        close_consumer(consumer)
        producer.close()
