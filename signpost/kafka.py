"""The one place Signpost builds Kafka clients and runs a consume-handle-produce loop."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import TopicAlreadyExistsError

from signpost.settings import CommonSettings

__all__ = [
    "ConsumerRecord",
    "Outgoing",
    "client_options",
    "ensure_topics",
    "make_consumer",
    "make_producer",
    "run_loop",
]

logger = logging.getLogger(__name__)

POLL_TIMEOUT_MS = 500  # short enough that a stop request is seen within half a second
RETRY_BACKOFF_S = 1.0  # pause after a failed batch before the same records are read again
RETRY_BACKOFF_MAX_S = 30.0


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message a handler wants produced."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


Handler = Callable[[ConsumerRecord], Iterable[Outgoing]]


def security_options(settings: CommonSettings) -> dict[str, Any]:
    """kafka-python's security keyword arguments from SIGNPOST_KAFKA_*; only those set.

    The same for producers, consumers and admin clients: `security_protocol`,
    `sasl_mechanism`, `sasl_plain_username`, `sasl_plain_password` (kafka-python uses the
    "plain" names for SCRAM too) and `ssl_cafile`.
    """
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_sasl_mechanism is not None:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
    if settings.kafka_sasl_username is not None:
        options["sasl_plain_username"] = settings.kafka_sasl_username
    if settings.kafka_sasl_password is not None:
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    if settings.kafka_ssl_cafile is not None:
        options["ssl_cafile"] = settings.kafka_ssl_cafile
    return options


def client_options(settings: CommonSettings) -> dict[str, Any]:
    """What every Kafka client Signpost builds is given: the brokers and how to reach them."""
    return {"bootstrap_servers": settings.kafka_bootstrap, **security_options(settings)}


def make_producer(settings: CommonSettings) -> KafkaProducer:
    """A producer that waits for the broker's full acknowledgement."""
    return KafkaProducer(
        **client_options(settings),
        acks="all",
        linger_ms=5,
        retries=5,
        max_in_flight_requests_per_connection=1,  # keeps per-partition order across retries
    )


def consumer_options(settings: CommonSettings, group: str,
                     fetch_max_wait_ms: int | None = None) -> dict[str, Any]:
    """A group consumer's keyword arguments: manual commits, a new group from the beginning,
    the session timeout, and `fetch_max_wait_ms` when given (else Kafka's 500 ms)."""
    options = {
        **client_options(settings),
        "group_id": group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": max(100, settings.session_timeout_ms // 4),
        "max_poll_records": settings.max_poll_records,
    }
    if fetch_max_wait_ms is not None:
        options["fetch_max_wait_ms"] = fetch_max_wait_ms
    return options


def make_consumer(settings: CommonSettings, topics: Sequence[str], group: str,
                  fetch_max_wait_ms: int | None = None) -> KafkaConsumer:
    """A consumer with manual commits, reading a new group from the beginning.

    `fetch_max_wait_ms` bounds how long an idle broker holds a fetch: latency-sensitive
    consumers (the notifier's, of `alerts`) pass a short one.
    """
    return KafkaConsumer(*topics, **consumer_options(settings, group, fetch_max_wait_ms))


def ensure_topics(settings: CommonSettings, topics: Iterable[str] | None = None) -> None:
    """Create Signpost's topics if they are missing (idempotent)."""
    admin = KafkaAdminClient(**client_options(settings))
    try:
        existing = set(admin.list_topics())
        wanted = [t for t in (topics or settings.topics.all()) if t not in existing]
        if not wanted:
            return
        new = [NewTopic(t, num_partitions=settings.partitions, replication_factor=1)
               for t in wanted]
        with contextlib.suppress(TopicAlreadyExistsError):  # another process was first
            admin.create_topics(new)
    finally:
        admin.close()


def _rewind(consumer: KafkaConsumer) -> None:
    """Put every assigned partition back to its committed offset, to read the batch again."""
    for tp in consumer.assignment():
        committed = consumer.committed(tp)
        if committed is None:
            consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, committed)


def _commit_batch(
    consumer: KafkaConsumer, producer: KafkaProducer, outgoing: list[Outgoing]
) -> None:
    """Make one polled batch's effects durable, then mark the batch done.

    The delivery contract, in order:
    1. the handler has already applied its own side effects idempotently (keyed by event_id
       or alert_id), so doing them again after a crash changes nothing;
    2. every outgoing message is sent and `flush()` waits until the broker has acknowledged
       all of them (acks=all);
    3. only then are the consumed offsets committed.
    A crash before 3 means the batch is read again: at-least-once input, idempotent output.
    A crash never commits an offset whose output was not written, so nothing is lost.
    """
    futures = [
        producer.send(o.topic, value=o.value, key=o.key, headers=list(o.headers)) for o in outgoing
    ]
    producer.flush()
    for future in futures:
        future.get(timeout=30)  # raises if the broker refused a message
    consumer.commit()


def run_loop(
    consumer: KafkaConsumer,
    producer: KafkaProducer,
    handler: Handler,
    stop: threading.Event,
    name: str,
) -> None:
    """Poll, handle each record, produce, commit; until `stop` is set.

    Bad data is the handler's business (it returns a DLQ message). An exception out of the
    handler means infrastructure trouble: nothing is committed, the partitions are rewound
    and the same records are handled again after a backoff.
    """
    backoff = RETRY_BACKOFF_S
    while not stop.is_set():
        batches = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
        if not batches:
            continue
        outgoing: list[Outgoing] = []
        try:
            for records in batches.values():
                for record in records:
                    outgoing.extend(handler(record))
            _commit_batch(consumer, producer, outgoing)
            backoff = RETRY_BACKOFF_S
        except Exception:
            logger.exception("%s: batch failed; will retry from committed offsets", name)
            _rewind(consumer)
            stop.wait(backoff)
            backoff = min(backoff * 2, RETRY_BACKOFF_MAX_S)
    logger.info("%s: stopping", name)


def wait_for_assignment(consumer: KafkaConsumer, timeout_s: float = 30.0) -> bool:
    """Poll until the group has given this consumer partitions (tests and start-up)."""
    deadline = time.monotonic() + timeout_s
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(timeout_ms=100)
    return bool(consumer.assignment())


def record_location(record: ConsumerRecord) -> str:
    """topic/partition@offset, the only thing a log line says about a record."""
    return f"{record.topic}/{record.partition}@{record.offset}"


__all__ += ["TopicPartition", "consumer_options", "record_location", "security_options",
            "wait_for_assignment"]
