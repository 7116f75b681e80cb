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
from prometheus_client import Gauge

from signpost.errors import InfrastructureError
from signpost.health import HEALTH, broker_probe
from signpost.settings import CommonSettings

__all__ = [
    "ConsumerRecord",
    "Outgoing",
    "client_options",
    "close_consumer",
    "ensure_topics",
    "make_consumer",
    "make_producer",
    "run_loop",
]

logger = logging.getLogger(__name__)

POLL_TIMEOUT_MS = 500  # short enough that a stop request is seen within half a second
RETRY_BACKOFF_S = 1.0  # pause after a failed batch before the same records are read again
RETRY_BACKOFF_MAX_S = 8.0  # so a service is back within seconds of a long outage's end
#: kafka-python reconnects to a lost broker with exponential backoff from 50 ms, capped at
#: this (its default cap, 30 s, would leave a service idle up to 30 s after a broker is back).
RECONNECT_BACKOFF_MAX_MS = 1000
CLOSE_IO_TIMEOUT_MS = 5000  # longest close_consumer waits for the I/O thread to stop
LAG_INTERVAL_S = 1.0  # how often the lag gauges are refreshed
#: fetch_max_wait_ms of the ingest's and matcher's consumers: the embedded broker holds a
#: fetch up to this long before answering, and Kafka's default (500 ms) was most of the
#: publish-to-link latency (bench/e2e.py); the notifier has its own setting.
PIPELINE_FETCH_MAX_WAIT_MS = 20

LAG = Gauge("signpost_consumer_lag", "Records of the partition not yet committed by this "
            "service's group: end offset minus committed offset (on Apache Kafka; the embedded "
            "Tansu broker's end offsets can be wrong, so this can be too)",
            ["service", "topic", "partition"])
COMMITTED = Gauge("signpost_consumer_committed_offset",
                  "Next offset the group will read after a restart (committed by this process)",
                  ["service", "topic", "partition"])
END = Gauge("signpost_consumer_end_offset", "End (highwater) offset of the partition as last "
            "fetched", ["service", "topic", "partition"])


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message a handler wants produced."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


Handler = Callable[[ConsumerRecord], Iterable[Outgoing]]
BatchHandler = Callable[[Sequence[ConsumerRecord]], Iterable[Outgoing]]


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


#: kafka-python's own metrics (sensors recorded on every send, fetch and request) are read by
#: nothing here: the lag gauges come from committed offsets and fetch highwaters. Turned off
#: in producers and consumers (~9% of the ingest's CPU: bench/ingest_cpu.py; README, "Speed
#: and memory"); not in `client_options`, which the admin client also takes and which has no
#: such option.
NO_CLIENT_METRICS: dict[str, Any] = {"metrics_enabled": False}


def client_options(settings: CommonSettings) -> dict[str, Any]:
    """What every Kafka client Signpost builds is given: the brokers and how to reach them."""
    return {"bootstrap_servers": settings.kafka_bootstrap, **security_options(settings)}


def make_producer(settings: CommonSettings) -> KafkaProducer:
    """A producer that waits for the broker's full acknowledgement."""
    return KafkaProducer(
        **client_options(settings),
        **NO_CLIENT_METRICS,
        acks="all",
        linger_ms=5,
        retries=5,
        max_in_flight_requests_per_connection=1,  # keeps per-partition order across retries
        reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
    )


def consumer_options(settings: CommonSettings, group: str,
                     fetch_max_wait_ms: int | None = None) -> dict[str, Any]:
    """A group consumer's keyword arguments: manual commits, a new group from the beginning,
    the session timeout, and `fetch_max_wait_ms` when given (else Kafka's 500 ms)."""
    options = {
        **client_options(settings),
        **NO_CLIENT_METRICS,
        "group_id": group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": max(100, settings.session_timeout_ms // 4),
        "max_poll_records": settings.max_poll_records,
        "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS,
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


def close_consumer(consumer: KafkaConsumer) -> None:
    """`consumer.close()`, with kafka-python 3's I/O thread stopped first.

    kafka-python 3.0.12's close shuts the consumer's connections from the calling thread while
    its I/O thread may still be reading them, which now and then logs a traceback (an
    `AttributeError` in `kafka.net.transport`) as a service stops: 2 in 30 Ctrl-Cs of
    `signpost dev`. With the thread stopped first, close drives the loop on the calling
    thread alone (its leave-group request included). Clients without that thread (2.x): as is.
    """
    stop = getattr(getattr(consumer, "_net", None), "stop", None)
    if callable(stop):
        stop(timeout_ms=CLOSE_IO_TIMEOUT_MS)
    consumer.close()


def make_reader(settings: CommonSettings, topic: str,
                timeout_s: float = 30.0) -> tuple[KafkaConsumer, list[TopicPartition]]:
    """A consumer of every partition of `topic` from its beginning, in no group (it commits
    nothing and disturbs no service): for replaying a topic, e.g. `signpost rebuild`."""
    consumer = KafkaConsumer(**client_options(settings), **NO_CLIENT_METRICS, group_id=None,
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
                             max_poll_records=settings.max_poll_records)
    deadline = time.monotonic() + timeout_s
    partitions = consumer.partitions_for_topic(topic)
    while not partitions and time.monotonic() < deadline:
        consumer.topics()  # refreshes the metadata
        time.sleep(0.2)
        partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        close_consumer(consumer)
        raise InfrastructureError(f"topic {topic} has no partitions (does it exist?)")
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    return consumer, tps


def ensure_topics(settings: CommonSettings, topics: Iterable[str] | None = None) -> None:
    """Create Signpost's topics if they are missing (idempotent)."""
    admin = KafkaAdminClient(**client_options(settings))
    try:
        existing = set(admin.list_topics())
        wanted = [t for t in (topics or settings.topics.all()) if t not in existing]
        if not wanted:
            return
        short = {settings.topics.raw, settings.topics.events_dlq}  # plaintext: kept briefly
        retention = {"retention.ms": str(settings.plaintext_retention_hours * 3_600_000)}
        new = [NewTopic(t, num_partitions=settings.partitions, replication_factor=1,
                        topic_configs=retention if t in short else {})
               for t in wanted]
        with contextlib.suppress(TopicAlreadyExistsError):  # another process was first
            admin.create_topics(new)
    finally:
        admin.close()


def _rewind(consumer: KafkaConsumer, first: dict[TopicPartition, int]) -> None:
    """Put each partition of a failed batch back to the batch's first offset, which is its
    committed offset (every batch before it was committed), to read the batch again.

    Local only, no request to the broker, so it works while the broker is away. A partition
    no longer assigned needs nothing: its next owner starts from the committed offset.
    """
    assigned = consumer.assignment()
    for tp, offset in first.items():
        if tp in assigned:
            consumer.seek(tp, offset)


class _LagMeter:
    """Consumer lag per partition as Prometheus gauges, from what this consumer already knows:
    the offsets it committed and the highwater marks of its fetches (no extra requests)."""

    def __init__(self, consumer: KafkaConsumer, service: str) -> None:
        self.consumer = consumer
        self.service = service
        self.committed: dict[TopicPartition, int] = {}
        self.labelled: set[TopicPartition] = set()
        self.next_update = 0.0

    def done(self, offsets: dict[TopicPartition, int]) -> None:
        """A batch was committed: these are the partitions' next offsets now."""
        self.committed.update(offsets)
        self.next_update = 0.0

    def _labels(self, tp: TopicPartition) -> tuple[str, str, str]:
        return self.service, tp.topic, str(tp.partition)

    def update(self) -> None:
        now = time.monotonic()
        if now < self.next_update:
            return
        self.next_update = now + LAG_INTERVAL_S
        assigned = set(self.consumer.assignment())
        for tp in self.labelled - assigned:
            for gauge in (LAG, COMMITTED, END):
                with contextlib.suppress(KeyError):
                    gauge.remove(*self._labels(tp))
            self.committed.pop(tp, None)
        self.labelled &= assigned
        for tp in assigned:
            self._update_one(tp)

    def _update_one(self, tp: TopicPartition) -> None:
        done = self.committed.get(tp)
        if done is None:  # nothing committed here yet: the position is where the group was
            with contextlib.suppress(Exception):
                done = self.consumer.position(tp, timeout_ms=100)
        end = self.consumer.highwater(tp)
        if done is None:
            return
        labels = self._labels(tp)
        COMMITTED.labels(*labels).set(done)
        if end is not None:
            END.labels(*labels).set(end)
            LAG.labels(*labels).set(max(end - done, 0))
        self.labelled.add(tp)


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


def _bootstrap(consumer: KafkaConsumer) -> str | list[str]:
    servers: str | list[str] = consumer.config["bootstrap_servers"]
    return servers


def each_record(handle: Handler) -> BatchHandler:
    """A batch handler that handles each record on its own, in order."""
    return lambda records: [out for record in records for out in handle(record)]


def run_loop(
    consumer: KafkaConsumer,
    producer: KafkaProducer,
    handler: BatchHandler,
    stop: threading.Event,
    name: str,
    batch_scope: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext,
) -> None:
    """Poll, handle each partition's records, produce, commit; until `stop` is set. `handler`
    takes a partition's records at once (ingest: one key-store round trip per batch; a
    service that handles records one by one passes `each_record(handle)`). Each poll batch is
    handled inside one `batch_scope()` (the matcher's: its shared lock, held once per batch
    rather than once per event).

    Bad data is the handler's business (it returns a DLQ message). An exception out of the
    handler, the producer or the commit means infrastructure trouble: nothing is committed,
    the partitions are rewound and the same records are handled again after a backoff
    (doubling from 1 s to 8 s). Meanwhile /healthz says degraded (`<name>.batches`), and
    while no broker accepts a connection it says so too (`<name>.broker`). Consumer lag per
    partition is exported as `signpost_consumer_lag` (see _LagMeter).
    """
    backoff = RETRY_BACKOFF_S
    batches_check = f"{name}.batches"
    probe_stop = threading.Event()
    broker_probe(_bootstrap(consumer), f"{name}.broker", probe_stop).start()
    lag = _LagMeter(consumer, name)
    try:
        while not stop.is_set():
            try:
                batches = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
                lag.update()
            except Exception:
                logger.exception("%s: poll failed; will poll again", name)
                HEALTH.failing(batches_check, "poll failing")
                stop.wait(backoff)
                backoff = min(backoff * 2, RETRY_BACKOFF_MAX_S)
                continue
            if not batches:
                continue
            first = {tp: records[0].offset for tp, records in batches.items() if records}
            outgoing: list[Outgoing] = []
            try:
                with batch_scope():
                    for records in batches.values():
                        outgoing.extend(handler(records))
                _commit_batch(consumer, producer, outgoing)
            except Exception:
                logger.exception("%s: batch failed; will retry from committed offsets", name)
                HEALTH.failing(batches_check, "batch retrying")
                _rewind(consumer, first)
                stop.wait(backoff)
                backoff = min(backoff * 2, RETRY_BACKOFF_MAX_S)
                continue
            HEALTH.ok(batches_check)
            backoff = RETRY_BACKOFF_S
            lag.done({tp: records[-1].offset + 1 for tp, records in batches.items() if records})
    finally:
        probe_stop.set()
        HEALTH.forget(batches_check)
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


__all__ += ["PIPELINE_FETCH_MAX_WAIT_MS", "TopicPartition", "consumer_options", "each_record",
            "make_reader", "record_location", "security_options", "wait_for_assignment"]
