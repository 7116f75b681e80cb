"""Read what landed on a topic, from its start, in a test."""

from __future__ import annotations

import time

from kafka import KafkaConsumer

from signpost.kafka import close_consumer
from tests.support.wait import wait_until

__all__ = ["read_topic"]

SETTLE_S = 1.5  # after the expected count arrives, keep reading this long to catch extras


def read_topic(bootstrap: str, topic: str, expected: int, *, exact: bool = True,
               timeout_s: float = 45.0) -> list[bytes]:
    """At least `expected` values from the topic's start; with `exact`, exactly that many."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             group_id=None)
    values: list[bytes] = []

    def probe() -> bool:
        values.extend(r.value for batch in consumer.poll(timeout_ms=200).values() for r in batch)
        return len(values) >= expected

    try:
        wait_until(probe, timeout_s=timeout_s)
        deadline = time.monotonic() + (SETTLE_S if exact else 0)
        while time.monotonic() < deadline:
            probe()
    finally:
        close_consumer(consumer)
    if exact:
        assert len(values) == expected, f"{len(values)} messages on {topic}, not {expected}"
    return values
