"""The matcher service: `contact.events` -> Engine.process -> `child.links` and `alerts`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from schemas import AuditAction, DlqError, DlqReason, SealedEvent, StandardisedEvent
from services.matcher.api import serve_api_in_thread
from services.matcher.console.app import build_console
from services.matcher.engine import Engine, Result
from services.matcher.index import Index
from services.matcher.model import load_model
from services.matcher.poison import poisoned
from services.matcher.retention import start_purge_schedule
from services.matcher.settings import MatcherSettings
from services.matcher.thresholds import LiveThresholds, ThresholdStore
from signpost.audit import AuditLog, build_audit_log
from signpost.crypto import (
    CryptoError,
    KeyShredded,
    KeyStore,
    keystore_for,
    keystore_url,
    open_event,
)
from signpost.dlq import dlq_outgoing, validation_errors
from signpost.health import redis_probes
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
from signpost.redis import make_redis

__all__ = ["build_engine", "handle", "main", "outputs"]

logger = logging.getLogger(__name__)

DECISIONS = Counter("signpost_matcher_decisions_total", "Link decisions", ["outcome"])
SHREDDED = Counter("signpost_matcher_shredded_total",
                   "Events skipped because their record was deleted before matching")
PURGE_STOP_S = 30.0  # a retention run stops between two children: wait that long for it
LATENCY = Histogram("signpost_matcher_process_seconds",
                    "Engine time per event (a poll batch's time over its events)")


def build_engine(settings: MatcherSettings, shared: bool = True,
                 keystore: KeyStore | None = None) -> Engine:
    """The engine the service runs, and `signpost match-file` too.

    `keystore`: the data keys; default the settings' key store (match-file passes a private
    one). Thresholds are live (thresholds.py): the settings' or the model's values until an
    operator sets others in Redis; a change is picked up within seconds.
    """
    model = load_model(settings.model_path)
    upper = settings.upper_threshold if settings.upper_threshold is not None else model.upper
    lower = settings.lower_threshold if settings.lower_threshold is not None else model.lower
    index = Index(make_redis(settings), settings.key_prefix,
                  settings.blocking_secret.get_secret_value().encode(),
                  settings.candidates_per_key, keystore or keystore_for(settings),
                  max_candidates=settings.max_candidates,
                  result_ttl_s=settings.result_ttl_hours * 3600,
                  record_cache_entries=settings.record_cache_entries,
                  broad_cap_per_key=settings.broad_candidates_per_key)
    index.check_layout()
    store = ThresholdStore(index.r, settings.key_prefix, (upper, lower))
    return Engine(index, model, thresholds=LiveThresholds(store), shared=shared)


def outputs(result: Result, settings: MatcherSettings) -> list[Outgoing]:
    """The messages one result produces: its decision, then its alerts (keyed by child)."""
    topics = settings.topics
    key = result.decision.child_id.encode()
    out = [Outgoing(topics.links, result.decision.model_dump_json().encode(), key)]
    out += [Outgoing(topics.alerts, a.model_dump_json().encode(), key) for a in result.alerts]
    return out


def handle(record: ConsumerRecord, engine: Engine, settings: MatcherSettings,
           audit: AuditLog | None = None) -> list[Outgoing]:
    """One record from `contact.events`: opened with its data key, then matched. A record that
    does not parse or open goes to the DLQ; one whose key was deleted is skipped."""
    return handle_batch([record], engine, settings, audit)


def handle_batch(records: Sequence[ConsumerRecord], engine: Engine, settings: MatcherSettings,
                 audit: AuditLog | None = None) -> list[Outgoing]:
    """A poll batch's records, in order, each as `handle` says: the data keys of them all read
    first in one round trip (most are new to this process: ingest just made them), then the
    events that open decided together (Engine.process_many: a few round trips for the batch,
    the same decisions as one at a time)."""
    parsed = [_parse(record, settings) for record in records]
    engine.index.keystore.get_many(p.key_id for p in parsed if isinstance(p, SealedEvent))
    opened = [_open(record, p, engine, settings) if isinstance(p, SealedEvent) else p
              for record, p in zip(records, parsed, strict=True)]
    events = [o for o in opened if isinstance(o, StandardisedEvent)]
    started = time.perf_counter()
    results = iter(engine.process_many(events))
    if events:  # the batch's time, shared out: what one event cost
        share = (time.perf_counter() - started) / len(events)
        for _ in events:
            LATENCY.observe(share)
    out: list[Outgoing] = []
    for record, o in zip(records, opened, strict=True):
        if not isinstance(o, StandardisedEvent):
            out.extend(o)
            continue
        result = next(results)
        if isinstance(result, Exception):
            out.extend(poisoned(record, result, settings))  # this event makes the engine raise
            continue
        DECISIONS.labels(result.decision.outcome.value).inc()
        if audit is not None and result.decision.merged_child_ids:
            _audit_merge(audit, result)
        logger.debug("%s event_id=%s outcome=%s", record_location(record),
                     o.event.event_id, result.decision.outcome.value)
        out.extend(outputs(result, settings))
    return out


def _parse(record: ConsumerRecord, settings: MatcherSettings) -> SealedEvent | list[Outgoing]:
    try:
        return SealedEvent.model_validate_json(record.value or b"")
    except ValidationError as exc:
        logger.warning("%s: not a sealed event; dead-lettered", record_location(record))
        return [dlq_outgoing(settings.topics.events_dlq, record, DlqReason.processing_failed,
                             validation_errors(exc))]


def _open(record: ConsumerRecord, sealed: SealedEvent, engine: Engine,
          settings: MatcherSettings) -> StandardisedEvent | list[Outgoing]:
    """The event a sealed record holds; else what the record produces instead (the DLQ, or
    nothing if its data key was deleted)."""
    try:
        return open_event(sealed, engine.index.keystore)
    except ValidationError as exc:  # opened, but not an event of ours
        logger.warning("%s: sealed content is not an event; dead-lettered",
                       record_location(record))
        return [dlq_outgoing(settings.topics.events_dlq, record, DlqReason.processing_failed,
                             validation_errors(exc))]
    except KeyShredded:
        SHREDDED.inc()  # its child was deleted after ingest sealed it: nothing to do, ever
        logger.info("%s: record deleted (data key gone); skipped", record_location(record))
        return []
    except CryptoError as exc:
        logger.warning("%s: sealed event does not open; dead-lettered", record_location(record))
        return [dlq_outgoing(settings.topics.events_dlq, record, DlqReason.processing_failed,
                             [DlqError(loc="sealed", type="sealed_invalid", msg=str(exc))])]


def _audit_merge(audit: AuditLog, result: Result) -> None:
    """An automatic merge is a change to who a child is: on the audit chain, by ids only.
    (At least once: an event replayed after a crash before its commit may be audited twice.)"""
    d = result.decision
    audit.record(actor="matcher", role="service", action=AuditAction.merge_records,
                 child_id=d.child_id, target=f"event {d.event_id}",
                 count=len(d.merged_child_ids))


def main(settings: MatcherSettings, stop: threading.Event) -> None:
    settings.check()
    engine = build_engine(settings)
    redis_probes("matcher", stop, store=settings.redis_url, keystore=keystore_url(settings))
    consumer = make_consumer(settings, [settings.topics.events], settings.matcher_group,
                             fetch_max_wait_ms=PIPELINE_FETCH_MAX_WAIT_MS)
    producer = make_producer(settings)
    console = build_console(settings, engine) if settings.matcher_http_port else None
    server = serve_api_in_thread(settings, producer, console)  # Who else?, console, /healthz
    purger = start_purge_schedule(settings, engine.index, stop)  # retention (DESIGN §7)
    audit = build_audit_log(settings, engine.index.r, producer, "matcher")
    try:
        run_loop(consumer, producer, lambda rs: handle_batch(rs, engine, settings, audit),
                 stop, "matcher", batch_scope=engine.exclusive)
    finally:
        if purger is not None:
            purger.join(timeout=PURGE_STOP_S)
        close_consumer(consumer)
        producer.close()
        if server is not None:
            server.should_exit = True
        if console is not None:
            console.close()
