"""Logs, metrics and error answers never carry personal data: events with distinctive values
are sent (valid, invalid, unsigned, forged; over Kafka and HTTP), with every logger at DEBUG,
and none of the values appears in captured logs (caplog), in the services' stderr (a real
subprocess run of ingest, matcher and notifier), in /metrics, or in the gateway's answers."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from signpost.auth import hash_api_key
from signpost.embedded import free_port
from signpost.kafka import ensure_topics, make_producer
from signpost.settings import CommonSettings
from signpost.signing import signed_headers
from tests.support.events import make_event
from tests.support.topics import read_topic
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

SCHOOL, GP = "school-0042", "gp-0007"
SIGNING = {SCHOOL: "logs-school-signing-key-0123456789abcdef", GP: "logs-gp-signing-key-0123456789"}
API_KEY = "logs-api-key-0123456789abcdef0123456789"
#: Distinctive values of one child: none may appear in any log line, metric or error.
SECRETS = ("Zebulonia", "Quixotrop", "Marigoldine", "2013-07-29", "ZE2 9QX", "ZE29QX",
           "9434765919", "Xylophone Crescent", "Quillbury", "Wilhelmina", "Pargeter")
STOP_TIMEOUT_S = 15
QUIETED = ("kafka", "httpx", "httpcore")  # signpost/logs.py keeps these at WARNING


def _event(agency: str, record: str, **extra: Any) -> dict[str, Any]:
    kind = "gp" if agency == GP else "school"
    event = make_event(agency_id=agency, agency_kind=kind, record_id=record, given="Zebulonia",
                       family="Quixotrop", dob="2013-07-29", postcode="ze29qx",
                       line="4 Xylophone Crescent", town="Quillbury", nhs="943 476 5919",
                       carer=("Wilhelmina", "Pargeter"), other_names=["Marigoldine"],
                       practitioner=f"{kind}-p1")
    return {**event, **extra}


def _send_kafka(settings: CommonSettings) -> int:
    """Valid events from two agencies (one child), a bad one, an unsigned and a forged one;
    returns how many should be dead-lettered."""
    producer = make_producer(settings)
    good = [_event(SCHOOL, "S-1"), _event(GP, "G-1")]
    bad = _event(SCHOOL, "S-2", religion="Quixotrop")
    for event, key in [(good[0], SIGNING[SCHOOL]), (good[1], SIGNING[GP]),
                       (bad, SIGNING[SCHOOL]), (_event(GP, "G-2"), "forged-key")]:
        raw = json.dumps(event).encode()
        producer.send(settings.topics.raw, raw, headers=signed_headers(
            event["agency"]["id"], key, raw)).get(timeout=10)
    producer.send(settings.topics.raw, json.dumps(_event(GP, "G-3")).encode()).get(timeout=10)
    producer.close()
    return 3


def _send_http(url: str) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    return [
        httpx.post(f"{url}/v1/events", json=_event(SCHOOL, "S-3"), headers=headers),
        httpx.post(f"{url}/v1/events", json=_event(SCHOOL, "S-4", notes="Zebulonia"),
                   headers=headers),
        httpx.post(f"{url}/v1/events", json={**_event(SCHOOL, "S-5"), "shielded": "Quillbury"},
                   headers=headers),
        httpx.post(f"{url}/v1/events", json=_event(GP, "G-4"), headers=headers),  # 403
        httpx.post(f"{url}/v1/events", json=_event(SCHOOL, "S-6"),
                   headers={"Authorization": "Bearer Zebulonia"}),  # 401
    ]


def _leaks(text: str) -> list[str]:
    folded = text.casefold()
    return [s for s in SECRETS if s.casefold() in folded]


def _env(base: dict[str, str], gateway_port: int) -> dict[str, str]:
    own_groups = {f"SIGNPOST_{s.upper()}_GROUP": base["SIGNPOST_TOPIC_PREFIX"] + s
                  for s in ("ingest", "matcher", "notifier")}
    return {**base, **own_groups, "SIGNPOST_LOG_LEVEL": "DEBUG",
            "SIGNPOST_AGENCY_SIGNING_KEYS": json.dumps(SIGNING),
            "SIGNPOST_AGENCY_KEY_HASHES": json.dumps({SCHOOL: hash_api_key(API_KEY)}),
            "SIGNPOST_GATEWAY_PORT": str(gateway_port), "SIGNPOST_INBOX_PORT": "0",
            "SIGNPOST_MATCHER_HTTP_PORT": "0", "SIGNPOST_TOKEN_SECRET": "logs-token-secret"}


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz").status_code == 200
    except httpx.TransportError:
        return False


def test_ingest_logs_name_no_values(common: CommonSettings, env: dict[str, str],
                                    monkeypatch: pytest.MonkeyPatch,
                                    caplog: pytest.LogCaptureFixture) -> None:
    from services.ingest.service import main as ingest_main
    from services.ingest.settings import IngestSettings

    port = free_port()
    for k, v in _env(env, port).items():
        monkeypatch.setenv(k, v)
    for noisy in QUIETED:  # as configure_logging does in every service (kafka-python's DEBUG
        caplog.set_level(logging.WARNING, logger=noisy)  # lines dump raw protocol bytes)
    caplog.set_level(logging.DEBUG)  # last: it also sets the capturing handler's level
    ensure_topics(common)
    stop = threading.Event()
    thread = threading.Thread(target=ingest_main, args=(IngestSettings(), stop), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _up(url), timeout_s=10)
        dead = _send_kafka(common)
        answers = _send_http(url)
        read_topic(common.kafka_bootstrap, common.topics.events_dlq, dead, exact=False)
        metrics = httpx.get(f"{url}/metrics").text
    finally:
        stop.set()
        thread.join(timeout=10)
    assert [a.status_code for a in answers] == [202, 422, 422, 403, 401]
    assert "rejected: bad_signature" in caplog.text  # the logs do speak, by field and reason
    assert _leaks(caplog.text) == []
    assert _leaks(metrics) == []
    assert _leaks("".join(a.text for a in answers)) == []


@pytest.fixture
def services(env: dict[str, str], common: CommonSettings,
             tmp_path: Path) -> Iterator[tuple[str, list[Path]]]:
    """ingest, matcher and notifier as real processes at DEBUG, their stderr to files."""
    ensure_topics(common)
    port = free_port()
    child_env = {**{k: v for k, v in os.environ.items() if not k.startswith("SIGNPOST_")},
                 **_env(env, port)}
    logs, procs = [], []
    for name in ("ingest", "matcher", "notifier"):
        logs.append(tmp_path / f"{name}.stderr")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "signpost.cli", name], env=child_env,
            stdout=subprocess.DEVNULL, stderr=logs[-1].open("wb")))
    try:
        wait_until(lambda: _up(f"http://127.0.0.1:{port}"), timeout_s=20)
        yield f"http://127.0.0.1:{port}", logs
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                p.kill()


def test_services_stderr_names_no_values(services: tuple[str, list[Path]],
                                         common: CommonSettings) -> None:
    url, logs = services
    dead = _send_kafka(common)
    _send_http(url)
    # one child at two agencies: a link per valid event, and alerts to the lead
    read_topic(common.kafka_bootstrap, common.topics.links, 3, exact=False, timeout_s=30)
    read_topic(common.kafka_bootstrap, common.topics.alerts, 1, exact=False, timeout_s=30)
    read_topic(common.kafka_bootstrap, common.topics.events_dlq, dead, exact=False)
    text = "".join(p.read_text(encoding="utf-8", errors="replace") for p in logs)
    assert "rejected: bad_signature" in text, "the services logged nothing: the test is blind"
    assert _leaks(text) == []
