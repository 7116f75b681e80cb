"""A poison message: an event that makes Engine.process raise goes to `contact.events.dlq`
with reason `engine_failed`, and the stream goes on (no crash loop, nothing else lost).

The poison is made the way it happens in production: state the engine trusts is broken (here
the stored result of one event id, as a bad upgrade or a hand edit would leave it), so the
engine raises on that event every time it is tried. Ingest and matcher run as processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from schemas import DlqReason, DlqRecord, LinkDecision
from services.matcher.keys import Keys
from signpost.kafka import ensure_topics
from signpost.settings import CommonSettings
from tests.support.events import make_event
from tests.support.pipeline import (
    ServiceProcess,
    healthz,
    publish_signed,
    service_env,
    signing_keys,
)
from tests.support.topics import read_topic
from tests.support.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
def services(env: dict[str, str], common: CommonSettings,
             tmp_path: Path) -> Iterator[dict[str, ServiceProcess]]:
    ensure_topics(common)
    keys = signing_keys([make_event(agency_id="school-1")])
    values = service_env(env, keys)
    running = {name: ServiceProcess(name, values, tmp_path).start()
               for name in ("ingest", "matcher")}
    yield running
    for process in running.values():
        process.stop()


def test_an_event_the_engine_raises_on_is_dead_lettered_and_the_stream_goes_on(
    services: dict[str, ServiceProcess], common: CommonSettings, env: dict[str, str],
    redis_client: redis.Redis
) -> None:
    before = make_event(agency_id="school-1", record_id="A-1", given="Amara", family="Okafor",
                        dob="2015-03-04")
    poison = make_event(agency_id="school-1", record_id="P-1", given="Pavel", family="Novak",
                        dob="2013-07-08")
    after = make_event(agency_id="school-1", record_id="B-1", given="Bea", family="Lund",
                       dob="2016-09-10")
    redis_client.set(Keys(env["SIGNPOST_KEY_PREFIX"]).event(poison["event_id"]), "{broken")

    publish_signed(common, [before, poison, after], signing_keys([before]))

    links = [LinkDecision.model_validate_json(v)
             for v in read_topic(common.kafka_bootstrap, common.topics.links, 2)]
    assert {str(d.event_id) for d in links} == {before["event_id"], after["event_id"]}
    dlq = [DlqRecord.model_validate_json(v)
           for v in read_topic(common.kafka_bootstrap, common.topics.events_dlq, 1)]
    assert dlq[0].reason is DlqReason.engine_failed
    assert [(e.loc, e.type) for e in dlq[0].errors] == [("$", "ValidationError")]
    assert dlq[0].source_topic == common.topics.events
    assert poison["event_id"] in dlq[0].original  # the message as it was, to replay once fixed
    assert "Pavel" not in dlq[0].model_dump_json()  # sealed on contact.events, never in clear

    matcher = services["matcher"]
    assert matcher.alive(), matcher.logs()
    health = wait_until(lambda: healthz(matcher), timeout_s=10)
    assert health["status"] == "ok", health
    assert "engine_failed" in matcher.logs() and "Pavel" not in matcher.logs()
