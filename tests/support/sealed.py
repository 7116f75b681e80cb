"""Put events on `contact.events` exactly as ingest does: validated, then sealed."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from schemas import StandardisedEvent
from services.ingest.validate import validate
from signpost.crypto import keystore_for, seal_event
from signpost.kafka import make_producer
from signpost.settings import CommonSettings

__all__ = ["publish_sealed"]

SEND_TIMEOUT_S = 10.0


def publish_sealed(settings: CommonSettings,
                   events: Iterable[Mapping[str, Any]]) -> list[StandardisedEvent]:
    """Validate each event, seal it with its agency record's data key and send it to
    `contact.events`, waiting for each acknowledgement. Returns the standardised events."""
    keystore = keystore_for(settings)
    producer = make_producer(settings)
    sent = []
    try:
        for event in events:
            std = validate(json.dumps(event).encode(), datetime.now(UTC))
            assert isinstance(std, StandardisedEvent), std
            producer.send(settings.topics.events,
                          seal_event(std, keystore).model_dump_json().encode()
                          ).get(timeout=SEND_TIMEOUT_S)
            sent.append(std)
    finally:
        producer.close()
    return sent
