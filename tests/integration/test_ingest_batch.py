"""Ingest's batch handler on a real key store (redis-server): a mixed poll batch comes out one
message per record, in input order; valid events sealed with their record's key and exactly
what `validate` makes of them; the counters count each event once."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import redis
from kafka.consumer.fetcher import ConsumerRecord
from prometheus_client import REGISTRY

from schemas import DlqReason, DlqRecord, SealedEvent, StandardisedEvent
from services.ingest.service import handle_batch
from services.ingest.settings import IngestSettings
from services.ingest.validate import validate
from signpost.crypto import KeyStore, open_event
from signpost.signing import signed_headers
from tests.support.events import make_event

pytestmark = pytest.mark.integration

KEYS = {"school-1": "school-1-signing-key-0123456789abcdef",
        "gp-1": "gp-1-signing-key-0123456789abcdef0123"}


def _record(offset: int, value: bytes, headers: list[tuple[str, bytes]]) -> ConsumerRecord:
    return ConsumerRecord("raw", 0, -1, offset, 0, 0, None, value, headers, None, -1,
                          len(value), -1)


def _raw(agency: str, record: str, **extra: Any) -> bytes:
    kind = "gp" if agency.startswith("gp") else "school"
    event = make_event(agency_id=agency, agency_kind=kind, record_id=record,
                       postcode="n179ej", nhs="943 476 5919")
    return json.dumps({**event, **extra}).encode()


def _signed(offset: int, agency: str, value: bytes) -> ConsumerRecord:
    return _record(offset, value, signed_headers(agency, KEYS[agency], value))


def _count(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_mixed_batch_comes_out_in_order_once_each(redis_client: redis.Redis) -> None:
    settings = IngestSettings(topic_prefix="batch.", agency_signing_keys=KEYS)
    keystore = KeyStore(redis_client, f"ib{uuid.uuid4().hex[:8]}", b"m" * 32)
    values = [_raw("school-1", "S-1"), _raw("gp-1", "G-1"), _raw("school-1", "S-2"),
              _raw("school-1", "S-3", religion="x"), _raw("school-1", "S-1"),
              _raw("gp-1", "G-2")]
    records = [_signed(0, "school-1", values[0]), _signed(1, "gp-1", values[1]),
               _record(2, values[2], []),  # unsigned
               _signed(3, "school-1", values[3]),  # unknown field
               _signed(4, "school-1", values[4]),  # the same agency record again
               _signed(5, "school-1", values[5])]  # signed by another agency than it claims
    accepted = _count("signpost_ingest_accepted_total", {"source": "kafka"})
    bad_signature = _count("signpost_ingest_rejected_total",
                           {"source": "kafka", "reason": "bad_signature"})

    out = handle_batch(records, settings, keystore)

    topics = settings.topics
    assert [o.topic for o in out] == [topics.events, topics.events, topics.events_dlq,
                                      topics.events_dlq, topics.events, topics.events_dlq]
    dlq = [DlqRecord.model_validate_json(o.value) for o in out if o.topic == topics.events_dlq]
    assert [(d.reason, d.source_offset) for d in dlq] == [
        (DlqReason.bad_signature, 2), (DlqReason.unknown_field, 3), (DlqReason.bad_signature, 5)]
    passed = [(i, o) for i, o in enumerate(out) if o.topic == topics.events]
    for i, o in passed:
        sealed = SealedEvent.model_validate_json(o.value)
        assert o.key == sealed.key_id.encode()
        opened = open_event(sealed, keystore)
        expected = validate(values[i], opened.received_at)
        assert isinstance(expected, StandardisedEvent)
        assert opened == expected
        assert opened.std.postcode == "N17 9EJ" and opened.std.nhs_number == "9434765919"
    assert out[0].key == out[4].key  # one agency record, one data key
    assert out[0].key != out[1].key
    assert _count("signpost_ingest_accepted_total", {"source": "kafka"}) == accepted + 3
    assert _count("signpost_ingest_rejected_total",
                  {"source": "kafka", "reason": "bad_signature"}) == bad_signature + 2
    assert handle_batch([], settings, keystore) == []
