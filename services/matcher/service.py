"""The matcher service: `contact.events` -> Engine.process -> `child.links` and `alerts`."""

from __future__ import annotations

import logging
import threading

from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from schemas import DlqReason, StandardisedEvent
from services.matcher.api import serve_api_in_thread
from services.matcher.console.app import build_console
from services.matcher.engine import Engine, Result
from services.matcher.index import Index
from services.matcher.model import load_model
from services.matcher.settings import MatcherSettings
from services.matcher.thresholds import LiveThresholds, ThresholdStore
from signpost.dlq import dlq_outgoing, validation_errors
from signpost.kafka import (
    ConsumerRecord,
    Outgoing,
    make_consumer,
    make_producer,
    record_location,
    run_loop,
)
from signpost.redis import make_redis

__all__ = ["build_engine", "handle", "main", "outputs"]

logger = logging.getLogger(__name__)

DECISIONS = Counter("signpost_matcher_decisions_total", "Link decisions", ["outcome"])
LATENCY = Histogram("signpost_matcher_process_seconds", "Engine.process time per event")


def build_engine(settings: MatcherSettings, shared: bool = True) -> Engine:
    """The engine the service runs, and `signpost match-file` too.

    Thresholds are live (thresholds.py): the settings' or the model's values until an operator
    sets others in Redis; a change is picked up within seconds.
    """
    model = load_model(settings.model_path)
    upper = settings.upper_threshold if settings.upper_threshold is not None else model.upper
    lower = settings.lower_threshold if settings.lower_threshold is not None else model.lower
    index = Index(make_redis(settings), settings.key_prefix,
                  settings.blocking_secret.get_secret_value().encode(),
                  settings.candidates_per_key)
    store = ThresholdStore(index.r, settings.key_prefix, (upper, lower))
    return Engine(index, model, thresholds=LiveThresholds(store), shared=shared)


def outputs(result: Result, settings: MatcherSettings) -> list[Outgoing]:
    """The messages one result produces: its decision, then its alerts (keyed by child)."""
    topics = settings.topics
    key = result.decision.child_id.encode()
    out = [Outgoing(topics.links, result.decision.model_dump_json().encode(), key)]
    out += [Outgoing(topics.alerts, a.model_dump_json().encode(), key) for a in result.alerts]
    return out


def handle(record: ConsumerRecord, engine: Engine, settings: MatcherSettings) -> list[Outgoing]:
    """One record from `contact.events`: a record that does not parse goes to the DLQ."""
    try:
        std = StandardisedEvent.model_validate_json(record.value or b"")
    except ValidationError as exc:
        logger.warning("%s: not a standardised event; dead-lettered", record_location(record))
        return [dlq_outgoing(settings.topics.events_dlq, record, DlqReason.processing_failed,
                             validation_errors(exc))]
    with LATENCY.time():
        result = engine.process(std)
    DECISIONS.labels(result.decision.outcome.value).inc()
    logger.debug("%s event_id=%s outcome=%s", record_location(record), std.event.event_id,
                 result.decision.outcome.value)
    return outputs(result, settings)


def main(settings: MatcherSettings, stop: threading.Event) -> None:
    settings.check()
    engine = build_engine(settings)
    consumer = make_consumer(settings, [settings.topics.events], settings.matcher_group)
    producer = make_producer(settings)
    console = build_console(settings, engine) if settings.matcher_http_port else None
    server = serve_api_in_thread(settings, producer, console)  # Who else?, console, /healthz
    try:
        run_loop(consumer, producer, lambda r: handle(r, engine, settings), stop, "matcher")
    finally:
        consumer.close()
        producer.close()
        if server is not None:
            server.should_exit = True
        if console is not None:
            console.close()
