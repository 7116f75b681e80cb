"""The one place the matcher decides what to do when its engine raises on an event.

A server that is away (Redis, the key store, the broker) is infrastructure: the exception goes
up to run_loop, which retries the batch and never dead-letters. Anything else is a poison
message — this event makes Engine.process raise, and would again on every retry — so it goes
to `contact.events.dlq` with reason `engine_failed` and the stream goes on. The DLQ record
names the exception's type only: an exception's message may carry personal data.
"""

from __future__ import annotations

import logging

import redis
from kafka.errors import KafkaError
from prometheus_client import Counter

from schemas import DlqError, DlqReason
from services.matcher.settings import MatcherSettings
from signpost.dlq import dlq_outgoing
from signpost.errors import InfrastructureError
from signpost.kafka import ConsumerRecord, Outgoing, record_location

__all__ = ["INFRASTRUCTURE", "poisoned"]

logger = logging.getLogger(__name__)

#: Exceptions that mean "a server is away": retried, never dead-lettered.
INFRASTRUCTURE: tuple[type[BaseException], ...] = (
    redis.exceptions.RedisError, OSError, KafkaError, InfrastructureError)

POISONED = Counter("signpost_matcher_poisoned_total",
                   "Events dead-lettered because the engine raised on them", ["error"])


def poisoned(record: ConsumerRecord, exc: Exception, settings: MatcherSettings) -> list[Outgoing]:
    """The DLQ message for an event the engine raised on, logged by location and type only."""
    error = type(exc).__name__
    POISONED.labels(error).inc()
    logger.error("%s: the engine raised %s; dead-lettered as %s", record_location(record),
                 error, DlqReason.engine_failed.value)
    return [dlq_outgoing(settings.topics.events_dlq, record, DlqReason.engine_failed,
                         [DlqError(loc="$", type=error, msg="Engine.process raised")])]
