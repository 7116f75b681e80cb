"""A Redis killed (-9) mid-stream and started again on the same port and data: every service
that uses it says `degraded` on /healthz meanwhile, naming it, reconnects by itself, and
nothing is lost - every event ends with exactly one link, every alert reaches the webhook,
once (a POST in flight when Redis went may come again with the same key and body), and
nothing is dead-lettered.

Two private redis-servers, each keeping an append-only file written before each reply
(docker-compose.yml's keep one too): the entity store with the notifier's ledger, and the
key store (DESIGN §7); the test kills one or the other. The three services run as
processes. SIGNPOST_FAULT_REDIS_OUTAGE_S sets the outage (default 6 s). (Redis lost with its
data is the other case: `signpost rebuild`, test_rebuild.py.)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from services.matcher.engine import Engine
from services.matcher.index import MATCHER_LOCK_TIMEOUT_S, Index
from services.matcher.model import default_model
from signpost.demo import demo_dataset
from signpost.embedded import EmbeddedServer, free_port, start_redis
from signpost.health import Health, redis_probe
from signpost.kafka import ensure_topics
from signpost.settings import CommonSettings
from tests.support.events import make_standardised as std
from tests.support.pipeline import (
    FaultRun,
    check_delivered_once,
    check_one_decision_each,
    deliveries_expected,
    delivery_key,
    failing,
    healthz,
    publish_signed,
    wait_all_ok,
)
from tests.support.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

OUTAGE_S = float(os.environ.get("SIGNPOST_FAULT_REDIS_OUTAGE_S", "6"))
CHILDREN = 500  # x4 events: 2,000, half before Redis goes and half while it is away
WORKERS = 2  # notifier delivery workers: the most POSTs in flight when Redis goes
SERVICES = ("ingest", "matcher", "notifier")
# The server killed -> the services that use it, and the check each names on /healthz.
USERS = {"store": {"matcher": "matcher.redis", "notifier": "notifier.redis"},
         "keystore": {"ingest": "ingest.keystore", "matcher": "matcher.keystore"}}


class _Restartable:
    """A redis-server on a fixed port and data directory: kill -9 it, start it again."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.server: EmbeddedServer = start_redis(self.port, data_dir)
        self.url = self.server.url

    def kill(self) -> None:
        self.server.process.kill()
        self.server.process.wait()

    def start(self) -> None:
        self.server = start_redis(self.port, self.data_dir)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[_Restartable]:
    yield from _own(tmp_path / "redis-data")


@pytest.fixture
def own_keystore(tmp_path: Path) -> Iterator[_Restartable]:
    yield from _own(tmp_path / "keystore-data")


def _own(data_dir: Path) -> Iterator[_Restartable]:
    data_dir.mkdir()
    server = _Restartable(data_dir)
    yield server
    server.server.stop()


@pytest.mark.parametrize("killed", ["store", "keystore"])
def test_redis_killed_and_restarted_mid_stream_loses_and_duplicates_nothing(
    killed: str, own_redis: _Restartable, own_keystore: _Restartable, env: dict[str, str],
    tmp_path: Path
) -> None:
    env = env | {"SIGNPOST_REDIS_URL": own_redis.url, "SIGNPOST_KEYSTORE_URL": own_keystore.url,
                 "SIGNPOST_DELIVERY_WORKERS": str(WORKERS)}
    server = own_redis if killed == "store" else own_keystore
    settings = CommonSettings(kafka_bootstrap=env["SIGNPOST_KAFKA_BOOTSTRAP"],
                              topic_prefix=env["SIGNPOST_TOPIC_PREFIX"], partitions=1)
    ensure_topics(settings)
    events, _ = demo_dataset(CHILDREN, seed=7)
    first, second = events[: len(events) // 2], events[len(events) // 2:]
    run = FaultRun.start(env, events, settings, tmp_path, SERVICES)
    keys, receiver, services, links, alerts = (run.keys, run.receiver, run.services, run.links,
                                               run.alerts)
    dlqs = [run.log(t) for t in (settings.topics.events_dlq, settings.topics.alerts_dlq)]
    ids = [e["event_id"] for e in events]
    try:
        wait_all_ok(services.values())
        publish_signed(settings, first, keys)
        wait_until(lambda: len(links.decisions()) >= 50, timeout_s=60)

        server.kill()
        killed_at = time.monotonic()
        linked_at_kill = len(links.decisions())
        feeder = threading.Thread(target=publish_signed, args=(settings, second, keys),
                                  daemon=True)
        feeder.start()  # the stream goes on while Redis is away
        for name, check in USERS[killed].items():  # degraded, naming it, in fixed words
            report = wait_until(lambda n=name, c=check: failing(services[n], c),
                                timeout_s=OUTAGE_S + 5)
            assert report["failing"][check] == "redis unreachable", report
        for name in set(SERVICES) - set(USERS[killed]):  # the others do not use it
            assert (healthz(services[name]) or {}).get("failing", {}) == {}, name
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - killed_at)))
        server.start()
        feeder.join(timeout=60)

        wait_until(lambda: set(links.decisions()) >= set(ids), timeout_s=120)
        wait_until(lambda: {delivery_key(r) for r in receiver.received}
                   >= deliveries_expected(alerts.values), timeout_s=60)
        wait_all_ok(services.values())
        time.sleep(2.0)  # stragglers: anything more would be a duplicate
    finally:
        codes = run.stop()

    assert linked_at_kill < len(first), "Redis went after the first half was all linked"
    check_one_decision_each(ids, links.decisions())
    wanted = deliveries_expected(alerts.values)
    replays = check_delivered_once(receiver.received, wanted, max_replays=WORKERS)
    assert [len(log.values) for log in dlqs] == [0, 0], "something was dead-lettered"
    assert all(c == 0 for c in codes.values()), codes
    print(f"{killed} Redis away {OUTAGE_S:.0f} s after {linked_at_kill} of {len(events)} links; "
          f"{len(wanted)} webhooks, replays of in-flight POSTs: {replays}")


def test_the_redis_probe_follows_the_server(tmp_path: Path) -> None:
    server = _Restartable(tmp_path)
    health, stop = Health(), threading.Event()
    redis_probe(server.url, "t.redis", stop, health).start()
    try:
        wait_until(lambda: health.report("t")["status"] == "ok", timeout_s=5)
        server.kill()
        wait_until(lambda: health.report("t")["failing"] == {"t.redis": "redis unreachable"},
                   timeout_s=5)
        server.start()
        wait_until(lambda: health.report("t")["status"] == "ok", timeout_s=5)
    finally:
        stop.set()
        server.server.stop()


def test_a_matcher_frees_the_lock_it_held_when_redis_went_away(own_redis: _Restartable) -> None:
    """The lock is on disk with the rest: without this, Redis back after a blip would find it
    held, and every matcher, this one too, would wait for it to lapse (MATCHER_LOCK_TIMEOUT_S)."""
    client = redis.Redis.from_url(own_redis.url, decode_responses=True, socket_timeout=2,
                                  socket_connect_timeout=2)
    engine = Engine(Index.private(client, "tlock", b"test-secret"), default_model())
    with pytest.raises(redis.RedisError), engine.exclusive():
        engine.process(std())
        own_redis.kill()
    own_redis.start()
    assert client.exists(engine.index.k.lock), "the lock was kept on disk"
    began = time.monotonic()
    with engine.exclusive():
        waited = time.monotonic() - began
        engine.process(std(record_id="R2"))
    assert waited < MATCHER_LOCK_TIMEOUT_S / 3, f"waited {waited:.1f} s for its own lock"
    assert not client.exists(engine.index.k.lock)
