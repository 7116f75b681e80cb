"""Ingest on the real broker refuses unsigned, forged and agency-mismatched raw messages:
each lands in the DLQ as `bad_signature` naming the problem; signed events pass."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from kafka import KafkaProducer

from schemas import DlqReason, DlqRecord, SealedEvent
from services.ingest.service import main as ingest_main
from services.ingest.settings import IngestSettings
from signpost.crypto import keystore_for, open_event
from signpost.kafka import ensure_topics, make_producer
from signpost.settings import CommonSettings
from signpost.signing import AGENCY_HEADER, SIGNATURE_HEADER, sign, signed_headers
from tests.support.events import make_event
from tests.support.topics import read_topic

pytestmark = pytest.mark.integration

KEYS = {"school-1": "school-1-signing-key-0123456789abcdef",
        "gp-1": "gp-1-signing-key-0123456789abcdef0123"}


@pytest.fixture
def ingest(common: CommonSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CommonSettings]:
    monkeypatch.setenv("SIGNPOST_GATEWAY_PORT", "0")
    monkeypatch.setenv("SIGNPOST_INGEST_GROUP", f"{common.topic_prefix}ingest")  # its own group
    monkeypatch.setenv("SIGNPOST_AGENCY_SIGNING_KEYS", json.dumps(KEYS))
    ensure_topics(common)
    stop = threading.Event()
    thread = threading.Thread(target=ingest_main, args=(IngestSettings(), stop), daemon=True)
    thread.start()
    yield common
    stop.set()
    thread.join(timeout=10)


def _event(agency: str, record: str) -> bytes:
    kind = "gp" if agency.startswith("gp") else "school"
    return json.dumps(make_event(agency_id=agency, agency_kind=kind, record_id=record)).encode()


def test_only_validly_signed_events_pass(ingest: CommonSettings) -> None:
    good = _event("school-1", "OK-1")
    also_good = _event("gp-1", "OK-2")
    as_other = _event("school-1", "MISMATCH")
    tampered = _event("school-1", "TAMPERED")
    cases: list[tuple[bytes, list[tuple[str, bytes]], str | None]] = [
        (good, signed_headers("school-1", KEYS["school-1"], good), None),
        (also_good, signed_headers("gp-1", KEYS["gp-1"], also_good), None),
        (_event("school-1", "UNSIGNED"), [], "signature_missing"),
        (_event("school-1", "FORGED"),
         signed_headers("school-1", "a-guessed-key", _event("school-1", "FORGED")),
         "signature_mismatch"),
        # gp-1 signs correctly with its own key, but the event claims to come from school-1
        (as_other, signed_headers("gp-1", KEYS["gp-1"], as_other), "agency_mismatch"),
        (tampered.replace(b"Victoria", b"Vicky"),
         signed_headers("school-1", KEYS["school-1"], tampered), "signature_mismatch"),
        (good, signed_headers("police-9", KEYS["school-1"], good), "unknown_agency"),
        (good, [(AGENCY_HEADER, b"school-1"), (AGENCY_HEADER, b"gp-1"),
                (SIGNATURE_HEADER, sign(KEYS["school-1"], good).encode())],
         "signature_header_repeated"),
    ]
    producer: KafkaProducer = make_producer(ingest)
    for value, headers, _ in cases:
        producer.send(ingest.topics.raw, value, headers=headers).get(timeout=10)
    producer.close()

    expected_refusals = sorted(t for _, _, t in cases if t is not None)
    dlq = [DlqRecord.model_validate_json(v) for v in
           read_topic(ingest.kafka_bootstrap, ingest.topics.events_dlq, len(expected_refusals))]
    assert {d.reason for d in dlq} == {DlqReason.bad_signature}
    assert sorted(d.errors[0].type for d in dlq) == expected_refusals
    keystore = keystore_for(ingest)
    passed = [open_event(SealedEvent.model_validate_json(v), keystore)
              for v in read_topic(ingest.kafka_bootstrap, ingest.topics.events, 2)]
    assert sorted(p.event.agency_record_id for p in passed) == ["OK-1", "OK-2"]
