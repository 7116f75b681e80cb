"""The HTTP gateway over real HTTP onto the real broker, and `signpost publish` of a CSV file."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kafka import KafkaConsumer
from pydantic import SecretStr

from schemas import SealedEvent
from signpost.auth import hash_api_key
from signpost.crypto import keystore_for, open_event
from signpost.embedded import free_port
from signpost.kafka import ConsumerRecord, close_consumer, ensure_topics
from signpost.publish import CSV_COLUMNS
from signpost.settings import CommonSettings
from signpost.signing import check_signature
from tests.support.events import make_event
from tests.support.ingest import running_ingest
from tests.support.topics import read_topic
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

SCHOOL_KEY = "school-key-0123456789"
SIGNING_KEY = "school-signing-key-0123456789"


@pytest.fixture
def gateway(common: CommonSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    monkeypatch.setenv("SIGNPOST_GATEWAY_PORT", str(port))
    monkeypatch.setenv("SIGNPOST_AGENCY_KEY_HASHES",
                       json.dumps({"school-0042": hash_api_key(SCHOOL_KEY)}))
    ensure_topics(common)
    with running_ingest(port) as url:
        yield url



def _read(settings: CommonSettings, topic: str, n: int) -> list[bytes]:
    return read_topic(settings.kafka_bootstrap, topic, n, exact=False, timeout_s=20)


def _auth(key: str = SCHOOL_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_gateway_accepts_one_event_and_a_jsonl_batch(gateway: str,
                                                     common: CommonSettings) -> None:
    one = make_event()
    batch = [make_event(record_id=f"R{i}") for i in range(3)]
    r1 = httpx.post(f"{gateway}/v1/events", json=one, headers=_auth())
    body = "\n".join(json.dumps(e) for e in batch).encode()
    r2 = httpx.post(f"{gateway}/v1/events", content=body,
                    headers={**_auth(), "Content-Type": "application/x-ndjson"})
    assert (r1.status_code, r1.json()) == (202, {"event_ids": [one["event_id"]]})
    assert r2.status_code == 202 and len(r2.json()["event_ids"]) == 3
    keystore = keystore_for(common)
    published = [open_event(SealedEvent.model_validate_json(v), keystore)
                 for v in _read(common, common.topics.events, 4)]
    assert {str(p.event.event_id) for p in published} == {one["event_id"],
                                                          *(e["event_id"] for e in batch)}


def test_gateway_refuses_bad_keys_bad_events_and_other_agencies(gateway: str) -> None:
    url = f"{gateway}/v1/events"
    assert httpx.post(url, json=make_event()).status_code == 401
    assert httpx.post(url, json=make_event(), headers=_auth("wrong")).status_code == 401
    bad = {**make_event(given="Zebedee"), "hobby": "chess"}
    r = httpx.post(url, json=bad, headers=_auth())
    assert r.status_code == 422
    assert r.json()["rejections"][0]["reason"] == "unknown_field"
    assert "Zebedee" not in r.text and "chess" not in r.text
    other = make_event(agency_id="gp-1", agency_kind="gp")
    assert httpx.post(url, json=other, headers=_auth()).status_code == 403
    huge = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    assert httpx.post(url, content=huge, headers=_auth()).status_code == 413


def test_publish_sends_a_csv_file(common: CommonSettings, env: dict[str, str],
                                  tmp_path: Path) -> None:
    ensure_topics(common)
    path = tmp_path / "census.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for i in range(3):
            writer.writerow({"event_type": "registration", "occurred_at": "2026-09-05T08:00:00Z",
                             "agency_id": "school-0042", "agency_kind": "school",
                             "agency_record_id": f"UPN{i}", "given_name": "Ada",
                             "family_name": "Okafor", "date_of_birth": "2015-06-01",
                             "sex": "F", "address_lines": "1 High Street", "postcode": "M14 5RF",
                             "practitioner_id": "t-1", "practitioner_name": "T One",
                             "practitioner_role": "teacher", "lead_professional": "no",
                             "shielded": "no"})
    result = subprocess.run([sys.executable, "-m", "signpost.cli", "publish", str(path)],
                            env={**os.environ, **env, "SIGNPOST_SIGNING_KEY": SIGNING_KEY},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "sent 3 events" in result.stderr
    raw = _read_messages(common, common.topics.raw, 3)
    assert sorted(json.loads(m.value)["agency_record_id"] for m in raw) == ["UPN0", "UPN1", "UPN2"]
    keys = {"school-0042": [SecretStr(SIGNING_KEY)]}
    assert {check_signature(m.headers, m.value, keys) for m in raw} == {"school-0042"}


def _read_messages(settings: CommonSettings, topic: str, n: int) -> list[ConsumerRecord]:
    consumer = KafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", group_id=None)
    found: list[ConsumerRecord] = []
    try:
        wait_until(lambda: found.extend(r for b in consumer.poll(timeout_ms=200).values()
                                        for r in b) or len(found) >= n, timeout_s=20)
    finally:
        close_consumer(consumer)
    return found
