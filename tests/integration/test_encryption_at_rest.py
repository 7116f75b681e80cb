"""Personal data at rest is sealed, and deleting a child's keys is its deletion (DESIGN §7).

Read directly, as an attacker with a copy would: the Redis dump files (RDB, written with
compression off so a plaintext value would show as itself) of the entity store and of the key
store, and every topic past `contact.events.raw`. Then a child is deleted, and its bytes kept
from before — the old dump's records, the messages on Kafka — no longer open with anything.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from schemas import LinkDecision, SealedEvent
from services.ingest.service import main as ingest_main
from services.ingest.settings import IngestSettings
from services.matcher.engine import Engine
from services.matcher.index import SealedRecord
from services.matcher.service import build_engine
from services.matcher.service import main as matcher_main
from services.matcher.settings import MatcherSettings
from signpost.crypto import KeyShredded, keystore_for, open_event
from signpost.embedded import EmbeddedServer
from signpost.kafka import ensure_topics, make_producer
from signpost.settings import CommonSettings
from signpost.signing import signed_headers
from tests.support.events import make_event
from tests.support.index import blocking_view
from tests.support.sealed import publish_sealed
from tests.support.services import running_services
from tests.support.topics import read_topic

pytestmark = pytest.mark.integration

SIGNING_KEYS = {"school-7": "rest-key-school", "gp-7": "rest-key-gp"}


def _nhs_number(rng: random.Random) -> str:
    """A random 10-digit NHS number whose mod-11 check digit is valid."""
    while True:
        body = [rng.randint(0, 9) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(body, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            return "".join(map(str, body)) + str(check)


def _child() -> dict[str, str]:
    """Values no other test uses, so finding one anywhere means this test's data leaked."""
    rng = random.Random()
    tag = "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(6))
    return {"given": f"Zeph{tag}ine", "family": f"Quill{tag}", "carer": f"Otto{tag}",
            "dob": f"20{rng.randint(10, 19)}-0{rng.randint(1, 9)}-2{rng.randint(1, 8)}",
            "postcode": f"YO{rng.randint(10, 99)} {rng.randint(1, 9)}EA",
            "nhs": _nhs_number(rng)}


def _needles(child: dict[str, str]) -> list[bytes]:
    """Each value as sent, and as the matcher would fold it."""
    values = [child["given"], child["family"], child["carer"], child["dob"], child["postcode"],
              child["postcode"].replace(" ", ""), child["nhs"]]
    return sorted({v.encode() for v in values} | {v.lower().encode() for v in values})


def _events(child: dict[str, str]) -> list[dict[str, object]]:
    common = {"given": child["given"], "family": child["family"], "dob": child["dob"],
              "postcode": child["postcode"], "nhs": child["nhs"],
              "carer": (child["carer"], child["family"])}
    return [make_event(agency_id="school-7", agency_kind="school", record_id="S-1", **common),
            make_event(agency_id="gp-7", agency_kind="gp", record_id="G-1", practitioner="gp-2",
                       **common)]


def _dump(server: EmbeddedServer) -> bytes:
    """The server's RDB file as written now, uncompressed."""
    client = redis.Redis.from_url(server.url)
    client.config_set("rdbcompression", "no")
    client.save()
    directory = client.config_get("dir")["dir"]
    name = client.config_get("dbfilename")["dbfilename"]
    client.close()
    return (Path(directory) / name).read_bytes()


def _found(needles: list[bytes], haystack: bytes) -> list[bytes]:
    return [n for n in needles if n in haystack]


@pytest.fixture
def pipeline(common: CommonSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CommonSettings]:
    for name in ("GATEWAY_PORT", "MATCHER_HTTP_PORT"):
        monkeypatch.setenv(f"SIGNPOST_{name}", "0")
    monkeypatch.setenv("SIGNPOST_AGENCY_SIGNING_KEYS", json.dumps(SIGNING_KEYS))
    ensure_topics(common)
    with running_services([(ingest_main, IngestSettings()), (matcher_main, MatcherSettings())]):
        yield common


def test_dumps_and_topics_hold_no_plaintext(pipeline: CommonSettings,
                                            redis_server: EmbeddedServer,
                                            keystore_server: EmbeddedServer) -> None:
    child = _child()
    producer = make_producer(pipeline)
    for event in _events(child):
        raw = json.dumps(event).encode()
        agency = str(event["agency"]["id"])  # type: ignore[index]
        producer.send(pipeline.topics.raw, raw,
                      headers=signed_headers(agency, SIGNING_KEYS[agency], raw)).get(timeout=10)
    producer.close()
    topics = pipeline.topics
    links = [LinkDecision.model_validate_json(v)
             for v in read_topic(pipeline.kafka_bootstrap, topics.links, 2)]
    assert len({d.child_id for d in links}) == 1, "the two records are one child"

    needles = _needles(child)
    raw_topic = b"\n".join(read_topic(pipeline.kafka_bootstrap, topics.raw, 2))
    assert _found(needles, raw_topic), "the values are on the raw topic: the search works"
    for topic, count in ((topics.events, 2), (topics.links, 2)):
        values = b"\n".join(read_topic(pipeline.kafka_bootstrap, topic, count))
        assert _found(needles, values) == [], f"plaintext personal data on {topic}"
    alerts = b"\n".join(read_topic(pipeline.kafka_bootstrap, topics.alerts, 1, exact=False))
    assert _found(needles, alerts) == []
    for server in (redis_server, keystore_server):
        assert _found(needles, _dump(server)) == [], f"plaintext in the {server.name} dump"


def _processed(engine: Engine, settings: CommonSettings,
               events: list[dict[str, object]]) -> tuple[list[bytes], dict[str, str]]:
    """Seal each event as ingest does, put it on contact.events, match it. Returns the topic's
    messages and event id -> child id."""
    children = {str(std.event.event_id): engine.process(std).decision.child_id
                for std in publish_sealed(settings, events)}
    return read_topic(settings.kafka_bootstrap, settings.topics.events, len(events)), children


def test_deleting_a_child_shreds_every_copy(common: CommonSettings,
                                            redis_server: EmbeddedServer,
                                            keystore_server: EmbeddedServer) -> None:
    settings = MatcherSettings()
    ensure_topics(settings)
    engine = build_engine(settings)
    index = engine.index
    gone, kept = _child(), _child()
    events = [*_events(gone), make_event(agency_id="school-7", agency_kind="school",
                                         record_id="S-2", given=kept["given"],
                                         family=kept["family"], dob=kept["dob"],
                                         postcode=kept["postcode"], nhs=kept["nhs"])]
    messages, children = _processed(engine, settings, events)
    gone_id = children[str(events[0]["event_id"])]
    kept_id = children[str(events[2]["event_id"])]
    assert gone_id != kept_id and children[str(events[1]["event_id"])] == gone_id
    gone_refs = index.record_seqs(gone_id)
    gone_records = sorted(gone_refs)
    old_values = index.stored(gone_refs)
    key_ids = {SealedRecord.parse(raw, seq).key_id for _, seq, raw in old_values}
    ks = keystore_for(settings)
    wrapped = [str(ks.r.get(f"{{{settings.key_prefix}}}:ks:{k}")) for k in key_ids]
    data_keys = list(ks.get_many(key_ids).values())
    entity_dump_before = _dump(redis_server)
    assert len(key_ids) == 2 and len(data_keys) == 2, "one data key per agency record"
    for _, seq, raw in old_values:
        assert SealedRecord.parse(raw, seq).sealed.encode() in entity_dump_before
    for secret in [*data_keys, *(w.encode() for w in wrapped)]:
        assert secret not in entity_dump_before, "a key that opens the records is beside them"

    seqs, ids = blocking_view(index)
    assert set(gone_records) < set(ids.values()) and seqs == set(ids)
    with index.lock():
        forgotten = index.forget_child(gone_id)
    assert (forgotten.records, forgotten.keys) == (2, 2)
    seqs, ids = blocking_view(index)  # the blocking index holds the kept child's alone
    assert set(ids.values()) == index.record_ids(kept_id) and seqs == set(ids)

    assert _found([w.encode() for w in wrapped], _dump(keystore_server)) == []
    fresh = keystore_for(settings)  # another process: nothing cached
    opened_kept = 0
    for value in messages:
        sealed = SealedEvent.model_validate_json(value)
        if sealed.key_id in key_ids:
            with pytest.raises(KeyShredded):
                open_event(sealed, fresh)
        else:
            assert open_event(sealed, fresh).event.child.given_name == kept["given"]
            opened_kept += 1
    assert opened_kept == 1

    # A backup of the entity store, restored: its records of the deleted child stay noise.
    for _, seq, raw in old_values:
        index.r.hset(*index.k.record(seq), raw)
    assert index.open_records(index.stored(gone_refs)) == []
    assert [f.given for f in index.child_features(kept_id)] == [(kept["given"].lower(),)]
