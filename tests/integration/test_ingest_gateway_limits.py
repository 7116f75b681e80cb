"""The gateway's limits over real HTTP: events per second per agency (429 + Retry-After)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from signpost.auth import hash_api_key
from signpost.embedded import free_port
from signpost.kafka import ensure_topics
from signpost.settings import CommonSettings
from tests.support.events import make_event
from tests.support.ingest import running_ingest

pytestmark = pytest.mark.integration

KEYS = {"school-0042": "limits-school-key-0123456789abcdef", "gp-1": "limits-gp-key-0123456789abc"}


@pytest.fixture
def gateway(common: CommonSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    monkeypatch.setenv("SIGNPOST_GATEWAY_PORT", str(port))
    monkeypatch.setenv("SIGNPOST_INGEST_GROUP", f"{common.topic_prefix}ingest")  # its own group
    monkeypatch.setenv("SIGNPOST_AGENCY_KEY_HASHES",
                       json.dumps({a: hash_api_key(k) for a, k in KEYS.items()}))
    monkeypatch.setenv("SIGNPOST_MAX_BATCH_EVENTS", "5")
    monkeypatch.setenv("SIGNPOST_GATEWAY_BURST_EVENTS", "5")
    monkeypatch.setenv("SIGNPOST_GATEWAY_EVENTS_PER_S", "0.5")
    ensure_topics(common)
    with running_ingest(port) as url:
        yield url



def _post(url: str, agency: str, n: int) -> httpx.Response:
    kind = "gp" if agency.startswith("gp") else "school"
    body = "\n".join(json.dumps(make_event(agency_id=agency, agency_kind=kind, record_id=f"R{i}"))
                     for i in range(n))
    return httpx.post(f"{url}/v1/events", content=body.encode(), timeout=10,
                      headers={"Authorization": f"Bearer {KEYS[agency]}",
                               "Content-Type": "application/x-ndjson"})


def test_an_agency_over_its_rate_gets_429_with_retry_after(gateway: str) -> None:
    assert _post(gateway, "school-0042", 4).status_code == 202
    limited = _post(gateway, "school-0042", 3)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) == 4  # 2 events short at 0.5 a second
    assert _post(gateway, "gp-1", 5).status_code == 202  # another agency is not slowed
    assert _post(gateway, "school-0042", 1).status_code == 202  # what is left is usable
    assert _post(gateway, "school-0042", 6).status_code == 413  # over the batch size
