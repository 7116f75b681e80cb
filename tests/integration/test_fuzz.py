"""Hostile input at ingest: malformed, oversized, wrongly typed, wrongly encoded, deeply nested
and extra-field events, at `validate` (many examples), through Kafka and through the HTTP
gateway (fewer). Nothing crashes or hangs; each event is accepted or refused with a reason.

More examples: SIGNPOST_FUZZ_EXAMPLES (validate), SIGNPOST_FUZZ_KAFKA_BATCHES (25 events each),
SIGNPOST_FUZZ_HTTP_EXAMPLES.
"""

from __future__ import annotations

import copy
import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from schemas import DlqRecord, SealedEvent, StandardisedEvent
from services.ingest.validate import Rejection, validate
from signpost.auth import hash_api_key
from signpost.embedded import free_port
from signpost.kafka import close_consumer, ensure_topics, make_producer
from signpost.settings import CommonSettings
from signpost.signing import signed_headers
from tests.support.events import make_event
from tests.support.ingest import running_ingest
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration

VALIDATE_EXAMPLES = int(os.environ.get("SIGNPOST_FUZZ_EXAMPLES", "400"))
KAFKA_BATCHES = int(os.environ.get("SIGNPOST_FUZZ_KAFKA_BATCHES", "2"))
HTTP_EXAMPLES = int(os.environ.get("SIGNPOST_FUZZ_HTTP_EXAMPLES", "100"))
BATCH = 25
VALIDATE_BUDGET_S = 0.5  # one event, however hostile; real ones take ~50 µs
NO_SHRINK = [Phase.explicit, Phase.generate]  # a round trip per example: shrinking takes ages
MARKER = "Zqxj-Marker"  # in hostile strings: must never come back in an error message
AGENCY = "school-0042"
SIGNING_KEY = "fuzz-signing-key-0123456789abcdef0123"
API_KEY = "fuzz-api-key-0123456789abcdef0123456789"

PLACEHOLDER_ID = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"  # made unique per message when sent
BASE = {**make_event(agency_id=AGENCY, nhs="9434765919", other_names=["Anna Kouao"]),
        "event_id": PLACEHOLDER_ID}

# --- strategies -----------------------------------------------------------------------------

hostile_text = st.one_of(
    st.text(max_size=40).map(lambda t: f"{MARKER}{t}"),
    st.integers(500, 6000).map(lambda n: MARKER * n),
    st.sampled_from([f"{MARKER}\x00nul", f"{MARKER}\u202eevil", f"{MARKER}' OR 1=1 --",
                     f"<script>{MARKER}</script>", "${jndi:ldap://x/" + MARKER + "}",
                     f"../../{MARKER}", f"\ufeff{MARKER}",
                     f"\U0001d54d\U0001d55a{MARKER}", "", " ", "Baby", "Unborn"]),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30),
                    st.floats(allow_nan=False, allow_infinity=False), hostile_text)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(max_size=8), inner, max_size=4), max_leaves=12)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


PATHS = _paths(BASE)


def _parent(event: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        event = event[step]
    return event


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """The base event with a few fields replaced, removed or added."""
    event = copy.deepcopy(BASE)
    event["event_id"] = PLACEHOLDER_ID
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(PATHS))
        try:
            parent = _parent(event, path)
            op = draw(st.sampled_from(["replace", "delete", "add"]))
            if op == "replace":
                parent[path[-1]] = draw(json_values)
            elif op == "delete" and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif isinstance(parent, dict):
                parent[draw(st.sampled_from(["extra", "notes", "religion"]))] = draw(json_values)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or retyped the parent
    return event


def _encode(draw: st.DrawFn, event: dict[str, Any]) -> bytes:
    text = json.dumps(event, ensure_ascii=draw(st.booleans()))
    encoding = draw(st.sampled_from(["utf-8"] * 6 + ["utf-16", "latin-1", "utf-8-sig"]))
    return text.encode(encoding, errors="replace")


@st.composite
def byte_damage(draw: st.DrawFn, raw: bytes) -> bytes:
    kind = draw(st.sampled_from(["none", "none", "truncate", "invalid_utf8", "nul", "splice"]))
    at = draw(st.integers(0, len(raw)))
    if kind == "truncate":
        return raw[:at]
    if kind == "invalid_utf8":
        return raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80",
                                                 b"\xf8\x88\x80\x80\x80"])) + raw[at:]
    if kind == "nul":
        return raw[:at] + b"\x00" + raw[at:]
    if kind == "splice":
        return raw[:at] + draw(st.binary(max_size=16)) + raw[at:]
    return raw


@st.composite
def payloads(draw: st.DrawFn) -> bytes:
    """Raw bytes of one would-be event: mostly near-valid, some pure garbage."""
    shape = draw(st.sampled_from(["event"] * 6 + ["binary", "deep", "huge", "array"]))
    if shape == "binary":
        return draw(st.binary(max_size=300))
    if shape == "deep":
        depth = draw(st.integers(10, 20_000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        return (opener * depth + "1" + closer * depth).encode()
    if shape == "huge":
        event = copy.deepcopy(BASE)
        event["child"]["given_name"] = MARKER * draw(st.integers(6000, 9000))
        return json.dumps(event).encode()
    if shape == "array":
        return json.dumps([BASE] * draw(st.integers(0, 3))).encode()
    raw = _encode(draw, draw(mutated_events()))
    return draw(byte_damage(raw))


def _no_values_in(rejection: Rejection) -> None:
    for error in rejection.errors:
        assert MARKER not in error.msg and MARKER not in error.type, error


# --- validate: fast, many examples ----------------------------------------------------------

@settings(max_examples=VALIDATE_EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(payloads())
def test_validate_never_raises_and_names_no_values(raw: bytes) -> None:
    started = time.perf_counter()
    outcome = validate(raw, datetime.now(UTC))
    assert time.perf_counter() - started < VALIDATE_BUDGET_S
    event(outcome.reason.value if isinstance(outcome, Rejection) else "accepted")
    if isinstance(outcome, Rejection):
        assert outcome.errors, "a rejection always says why"
        _no_values_in(outcome)
    else:
        assert isinstance(outcome, StandardisedEvent)
        StandardisedEvent.model_validate_json(outcome.model_dump_json())  # round-trips


# --- through Kafka -------------------------------------------------------------------------

@pytest.fixture
def ingest(common: CommonSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CommonSettings]:
    port = free_port()
    monkeypatch.setenv("SIGNPOST_GATEWAY_PORT", str(port))
    monkeypatch.setenv("SIGNPOST_INGEST_GROUP", f"{common.topic_prefix}ingest")  # its own group
    monkeypatch.setenv("SIGNPOST_AGENCY_SIGNING_KEYS", json.dumps({AGENCY: SIGNING_KEY}))
    monkeypatch.setenv("SIGNPOST_AGENCY_KEY_HASHES", json.dumps({AGENCY: hash_api_key(API_KEY)}))
    monkeypatch.setenv("SIGNPOST_GATEWAY_EVENTS_PER_S", "100000")
    monkeypatch.setenv("SIGNPOST_GATEWAY_BURST_EVENTS", "100000")
    ensure_topics(common)
    with running_ingest(port):
        yield common



def _expected(raw: bytes, signed: bool) -> str:
    """What ingest must do with one message: 'accepted' or the DLQ reason."""
    if not signed:
        return "bad_signature"
    outcome = validate(raw, datetime.now(UTC))
    if isinstance(outcome, Rejection):
        return outcome.reason.value
    return "accepted" if outcome.event.agency.id == AGENCY else "bad_signature"


class Outputs:
    """What ingest wrote, read continuously from both output topics."""

    def __init__(self, settings: CommonSettings) -> None:
        self.consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
        partitions = [TopicPartition(settings.topics.events, 0),
                      TopicPartition(settings.topics.events_dlq, 0)]
        self.consumer.assign(partitions)
        self.consumer.seek_to_beginning(*partitions)
        self.accepted: list[str] = []  # event ids
        self.refused: dict[int, str] = {}  # source offset -> reason
        self.events_topic = settings.topics.events

    def poll(self) -> None:
        for tp, batch in self.consumer.poll(timeout_ms=200).items():
            for r in batch:
                if tp.topic == self.events_topic:
                    self.accepted.append(str(SealedEvent.model_validate_json(r.value).event_id))
                else:
                    dlq = DlqRecord.model_validate_json(r.value)
                    assert dlq.source_offset is not None
                    self.refused[dlq.source_offset] = dlq.reason.value


@settings(max_examples=KAFKA_BATCHES, deadline=None, database=None, phases=NO_SHRINK,
          suppress_health_check=list(HealthCheck))
@given(batch=st.lists(st.tuples(payloads(), st.booleans()), min_size=BATCH, max_size=BATCH))
def test_kafka_path_puts_each_event_in_exactly_one_place(
        ingest: CommonSettings, batch: list[tuple[bytes, bool]]) -> None:
    outputs = Outputs(ingest)
    producer: KafkaProducer = make_producer(ingest)
    expected: dict[int, tuple[bytes, str]] = {}
    for generated, signed in batch:
        raw = generated.replace(PLACEHOLDER_ID.encode(), str(uuid.uuid4()).encode())
        headers = signed_headers(AGENCY, SIGNING_KEY if signed else "a-wrong-key", raw)
        offset = producer.send(ingest.topics.raw, raw, headers=headers).get(timeout=10).offset
        expected[offset] = (raw, _expected(raw, signed))
    producer.close()
    refused = {o: reason for o, (_, reason) in expected.items() if reason != "accepted"}
    accepted = sorted(str(json.loads(raw)["event_id"]) for raw, reason in expected.values()
                      if reason == "accepted")

    def done() -> bool:
        outputs.poll()
        return set(refused) <= set(outputs.refused) and set(accepted) <= set(outputs.accepted)

    wait_until(done, timeout_s=30)
    close_consumer(outputs.consumer)
    assert {o: r for o, r in outputs.refused.items() if o in expected} == refused
    assert sorted(a for a in outputs.accepted if a in accepted) == accepted  # each once


# --- through the HTTP gateway --------------------------------------------------------------

CONTENT_TYPES = ["application/json", "application/x-ndjson", "text/plain", "",
                 "application/json; charset=latin-1", "multipart/form-data; boundary=x"]


@pytest.fixture
def gateway(ingest: CommonSettings) -> Iterator[httpx.Client]:
    """One client for every example (a new httpx client costs an SSL context)."""
    url = f"http://127.0.0.1:{os.environ['SIGNPOST_GATEWAY_PORT']}"
    with httpx.Client(base_url=url, timeout=10) as client:
        yield client


@settings(max_examples=HTTP_EXAMPLES, deadline=None, database=None, phases=NO_SHRINK,
          suppress_health_check=list(HealthCheck))
@given(bodies=st.lists(payloads(), min_size=1, max_size=3),
       content_type=st.sampled_from(CONTENT_TYPES))
def test_gateway_answers_every_body_without_a_server_error(
        gateway: httpx.Client, bodies: list[bytes], content_type: str) -> None:
    response = gateway.post("/v1/events", content=b"\n".join(bodies),
                            headers={"Authorization": f"Bearer {API_KEY}",
                                     "Content-Type": content_type})
    event(str(response.status_code))
    assert response.status_code in {202, 403, 413, 422}, response.text[:300]
    assert MARKER not in response.text
    assert gateway.get("/healthz", timeout=5).status_code == 200
