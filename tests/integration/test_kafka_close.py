"""close_consumer (its I/O thread stopped before kafka-python's close) still closes as close
does: a consumer that has joined its group and fetched stops its I/O thread, logs no error,
and leaves its committed offsets to the next member (real broker). The race it avoids is
too rare to provoke in a test (2 in 30 Ctrl-Cs of `signpost dev`)."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from signpost.embedded import EmbeddedServer
from signpost.kafka import close_consumer, ensure_topics, make_consumer, make_producer
from signpost.settings import CommonSettings
from tests.conftest import TEST_SESSION_TIMEOUT_MS

pytestmark = pytest.mark.integration


def _io_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("kafka-io-") and t.is_alive()}


def _poll_until(consumer: KafkaConsumer, wanted: int, timeout_s: float = 30.0) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < wanted and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=200).values():
            got.extend(r.value for r in records)
    return got


def test_a_closed_consumer_stops_its_io_thread_and_keeps_its_commits(
        broker: EmbeddedServer, caplog: pytest.LogCaptureFixture) -> None:
    settings = CommonSettings(kafka_bootstrap=broker.url, partitions=1,
                              topic_prefix=f"c{uuid.uuid4().hex[:8]}.",
                              session_timeout_ms=TEST_SESSION_TIMEOUT_MS)
    topic = settings.topics.raw
    ensure_topics(settings, [topic])
    producer = make_producer(settings)
    for i in range(6):
        producer.send(topic, value=f"m{i}".encode())
    producer.flush()
    producer.close()
    before = _io_threads()
    group = f"g{uuid.uuid4().hex[:8]}"

    first = make_consumer(settings, [topic], group)
    assert _poll_until(first, 3)[:3] == [b"m0", b"m1", b"m2"]
    first.commit({TopicPartition(topic, 0): OffsetAndMetadata(3, "", -1)})
    first.poll(timeout_ms=50)  # a fetch in flight as it is closed
    caplog.set_level(logging.WARNING, logger="kafka")
    started = time.monotonic()
    close_consumer(first)
    assert time.monotonic() - started < 10
    assert _io_threads() <= before, "the consumer's I/O thread outlived its close"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text

    second = make_consumer(settings, [topic], group)
    try:
        assert _poll_until(second, 3)[:3] == [b"m3", b"m4", b"m5"]
    finally:
        close_consumer(second)
