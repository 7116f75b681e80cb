"""The broker unreachable for some seconds mid-stream, then back on the same port: every
service says `degraded` on /healthz meanwhile, reconnects by itself, and nothing is lost —
every event ends with exactly one link, every alert reaches the webhook once — and the
consumer-lag gauges account for every message read.

A private broker (signpost.embedded) behind a TCP proxy on the port it advertises; the outage
cuts the proxy (see tests/support/tcpproxy.py for why not the broker process itself). The
three services run as processes. SIGNPOST_FAULT_OUTAGE_S sets the outage (default 8 s).
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from signpost.demo import demo_dataset
from signpost.embedded import EmbeddedServer, free_port, start_broker
from signpost.kafka import ensure_topics
from signpost.settings import CommonSettings
from tests.support.pipeline import (
    FaultRun,
    ServiceProcess,
    TopicLog,
    check_delivered_once,
    check_one_decision_each,
    deliveries_expected,
    delivery_key,
    failing,
    publish_signed,
    wait_all_ok,
)
from tests.support.tcpproxy import TcpProxy
from tests.support.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

OUTAGE_S = float(os.environ.get("SIGNPOST_FAULT_OUTAGE_S", "8"))
CHILDREN = 500  # x4 events: 2,000, half before the outage and half after (a poll batch
# decides up to 200 at once: the first half must outlast a few of them for the cut to land
# mid-stream)
SERVICES = ("ingest", "matcher", "notifier")


@pytest.fixture
def proxied_broker() -> Iterator[tuple[EmbeddedServer, TcpProxy]]:
    proxy_port = free_port()
    broker = start_broker(advertised_port=proxy_port)
    proxy = TcpProxy(broker.port, proxy_port).restore()
    yield broker, proxy
    proxy.cut()
    broker.stop()


def _metric_sum(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_broker_outage_degrades_then_recovers_losing_nothing(
    proxied_broker: tuple[EmbeddedServer, TcpProxy], env: dict[str, str], tmp_path: Path
) -> None:
    _, proxy = proxied_broker
    bootstrap = f"127.0.0.1:{proxy.port}"
    env = env | {"SIGNPOST_KAFKA_BOOTSTRAP": bootstrap}
    settings = CommonSettings(kafka_bootstrap=bootstrap, topic_prefix=env["SIGNPOST_TOPIC_PREFIX"],
                              partitions=1)
    ensure_topics(settings)
    events, _ = demo_dataset(CHILDREN, seed=int(uuid.uuid4().int % 1000))
    first, second = events[: len(events) // 2], events[len(events) // 2:]
    run = FaultRun.start(env, events, settings, tmp_path, SERVICES)
    keys, receiver, services, links, alerts = (run.keys, run.receiver, run.services, run.links,
                                               run.alerts)
    try:
        publish_signed(settings, first, keys)
        wait_until(lambda: len(links.decisions()) >= 50, timeout_s=60)

        proxy.cut()
        cut_at = time.monotonic()
        linked_at_cut = len(links.decisions())
        for service in services.values():  # each says degraded, naming the broker
            report = wait_until(lambda s=service: failing(s, f"{s.service}.broker"),
                                timeout_s=OUTAGE_S + 5)
            # the reason is the probe's fixed words: no address, no exception text
            assert report["failing"][f"{service.service}.broker"] == "broker unreachable", report
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - cut_at)))
        proxy.restore()

        publish_signed(settings, second, keys)
        ids = [e["event_id"] for e in events]
        wait_until(lambda: set(links.decisions()) >= set(ids), timeout_s=90)
        wait_all_ok(services.values())
        # The alerts log reconnects after the outage too, and may still be catching up with
        # the topic: what is wanted is read again on every check, and once more at the end.
        wait_until(lambda: {delivery_key(r) for r in receiver.received}
                   >= deliveries_expected(alerts.values), timeout_s=60)
        events_read = _wait_committed(services["matcher"], settings.topics.events,
                                      _count(bootstrap, settings.topics.events))
        time.sleep(1.5)  # stragglers: anything more would be a duplicate
    finally:
        codes = run.stop()

    assert linked_at_cut < len(first), "the outage came after the stream ended"
    check_one_decision_each(ids, links.decisions())
    wanted = deliveries_expected(alerts.values)
    check_delivered_once(receiver.received, wanted, max_replays=0)  # no process died
    assert all(c == 0 for c in codes.values()), codes
    assert events_read >= len(events)
    print(f"outage {OUTAGE_S:.0f} s after {linked_at_cut} of {len(events)} links; "
          f"{len(wanted)} webhooks; matcher committed {events_read:.0f} contact.events records")


def _count(bootstrap: str, topic: str) -> int:
    log = TopicLog(bootstrap, topic)
    try:
        time.sleep(2.0)
        return len(log.values)
    finally:
        log.close()


def _wait_committed(matcher: ServiceProcess, topic: str, records: int) -> float:
    """The matcher's committed-offset gauges over `topic` reach the records on it (no end
    offsets involved: Tansu's are not reliable)."""
    def committed() -> float:
        text = httpx.get(f"{matcher.url}/metrics", timeout=5).text
        assert re.search(r'signpost_consumer_lag\{.*service="matcher"', text), "no lag gauge"
        value = _metric_sum(text, "signpost_consumer_committed_offset", service="matcher",
                            topic=topic)
        return value if value >= records else 0.0
    return wait_until(committed, timeout_s=30)
