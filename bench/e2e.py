"""Benchmark: the whole pipeline through the real broker, at fixed offered rates and at full
speed.

Ingest, matcher and notifier run as their own processes (`python -m signpost.cli <service>`,
as `signpost dev` starts them) on the embedded broker and redis-server (or
SIGNPOST_KAFKA_BOOTSTRAP / SIGNPOST_REDIS_URL), topics with 3 partitions. This process
publishes signed demo events to `contact.events.raw`, reads `child.links` and `alerts`, and
runs the webhook receiver, so every timestamp comes from one clock: t0 just before the send,
t1 when a link is read (consumer fetch wait 10 ms) or when the receiver has read the POST.
Per phase: sustained events/s (events / first send to last link), p50/p99 publish->link and
publish->webhook (an event's first alert to arrive), and whether the matcher kept up (all
linked within 5 s of the last send), and the CPU time per 1,000 events (from /proc) of each
service, of the embedded broker and redis-server, and of this process: where the two cores
went. Phases continue one demo stream, so later events
link to earlier children. Prints and writes bench/results/e2e.json. Not a test; not run in CI.

    python bench/e2e.py --rates 100 300 --seconds 20 --full 5000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import machine
from kafka import KafkaConsumer
from notifier_latency import Receiver, _servers, _wait

from signpost.demo import EVENTS_PER_CHILD, demo_dataset
from signpost.dev import _spawn, _stop_children
from signpost.embedded import free_port
from signpost.kafka import NO_CLIENT_METRICS, close_consumer, ensure_topics, make_producer
from signpost.settings import CommonSettings, random_secret
from signpost.signing import signed_headers

RESULTS = Path(__file__).parent / "results" / "e2e.json"
SERVICES = ("ingest", "matcher", "notifier")
KEPT_UP_S = 5.0
DRAIN_S = 120.0


class Arrivals:
    """One topic's values as a `Reader` reads them: first arrival time per key of each."""

    def __init__(self, key: str, also: str | None = None) -> None:
        self.first: dict[str, float] = {}
        self.also: dict[str, str] = {}  # value[key] -> value[also]
        self.order: list[tuple[str, str]] = []  # (value[key], value[also]) as they arrived
        self._key, self._also = key, also

    def add(self, raw: bytes, at: float) -> None:
        value = json.loads(raw)
        self.first.setdefault(value[self._key], at)
        if self._also:
            self.also[value[self._key]] = value[self._also]
            self.order.append((value[self._key], value[self._also]))

    def has_all(self, keys: set[str]) -> bool:
        """Has each of these arrived? Cheap while they have not: polled every 10 ms, where
        `set(self.first)` of a million keys each time took a core from the services."""
        return len(self.first) >= len(keys) and self.first.keys() >= keys


class Reader:
    """Reads topics from their start on one thread, into each topic's `Arrivals`: one consumer
    for all of them, since each consumer's fetch loop costs this process CPU that the services
    it measures could use."""

    def __init__(self, bootstrap: str, topics: dict[str, Arrivals]) -> None:
        self._topics = topics
        self._stop = threading.Event()
        self._consumer = KafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=None,
                                       auto_offset_reset="earliest", fetch_max_wait_ms=10,
                                       **NO_CLIENT_METRICS)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            got = self._consumer.poll(timeout_ms=100)
            at = time.perf_counter()
            for tp, batch in got.items():
                arrivals = self._topics[tp.topic]
                for record in batch:
                    arrivals.add(record.value, at)
        close_consumer(self._consumer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class Pipeline:
    """The three services as processes, what they output, and how to feed them."""

    settings: CommonSettings
    keys: dict[str, str]
    receiver: Receiver
    links: Arrivals
    alerts: Arrivals
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    servers: dict[str, int] = field(default_factory=dict)  # embedded: "broker", "redis" -> pid

    def processes(self) -> dict[str, int]:
        """Every process whose CPU a phase counts: the services, the embedded servers and this
        one ("bench": the publisher, the topic reader and the webhook receiver)."""
        return ({s: c.pid for s, c in zip(SERVICES, self.children, strict=True)}
                | self.servers | {"bench": os.getpid()})

    def publish(self, events: list[dict[str, Any]], rate: float | None) -> dict[str, float]:
        return publish_signed(self.settings, self.keys, events, rate)


def publish_signed(settings: CommonSettings, keys: dict[str, str],
                   events: list[dict[str, Any]], rate: float | None = None) -> dict[str, float]:
    """Send `events` signed with their agency's key, at `rate` per second (None: as fast as
    possible); event id -> perf_counter just before its send."""
    producer = make_producer(settings)
    sent: dict[str, float] = {}
    start = time.perf_counter()
    for i, event in enumerate(events):
        if rate is not None:
            pause = start + i / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        raw = json.dumps(event).encode()
        agency = event["agency"]["id"]
        sent[event["event_id"]] = time.perf_counter()
        producer.send(settings.topics.raw, value=raw,
                      headers=signed_headers(agency, keys[agency], raw))
    producer.flush()
    producer.close()
    return sent


def service_env(bootstrap: str, redis_url: str, keys: dict[str, str], partitions: int,
                tag: str) -> dict[str, str]:
    """What every service process of a benchmark runs with: this process's environment
    without SIGNPOST_*, then the servers, topic and key prefix (`tag`), partitions and the
    agencies' signing keys."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SIGNPOST_")} | {
        "SIGNPOST_ENVIRONMENT": "dev", "SIGNPOST_LOG_LEVEL": "WARNING",
        "SIGNPOST_KAFKA_BOOTSTRAP": bootstrap, "SIGNPOST_REDIS_URL": redis_url,
        "SIGNPOST_TOPIC_PREFIX": f"{tag}.", "SIGNPOST_KEY_PREFIX": tag,
        "SIGNPOST_PARTITIONS": str(partitions), "SIGNPOST_SESSION_TIMEOUT_MS": "3000",
        "SIGNPOST_AGENCY_SIGNING_KEYS": json.dumps(keys)}


@contextmanager
def pipeline(events: list[dict[str, Any]], partitions: int = 3,
             shared_key: str | None = None) -> Iterator[Pipeline]:
    """Servers (embedded unless given), topics, the three services, the receiver and the
    readers; everything stopped on exit. `shared_key`: every agency signs with this one
    (as `signpost publish` does with SIGNPOST_SIGNING_KEY), else each has its own."""
    with ExitStack() as opened:
        servers: dict[str, int] = {}
        bootstrap, redis_url = _servers(opened, servers)
        receiver = Receiver()
        opened.callback(receiver.server.shutdown)
        keys = {a: shared_key or random_secret()
                for a in sorted({e["agency"]["id"] for e in events})}
        env = service_env(bootstrap, redis_url, keys, partitions, f"b{uuid.uuid4().hex[:8]}") | {
            "SIGNPOST_WEBHOOK_URL": receiver.url, "SIGNPOST_FOLD_WINDOW_S": "0",
            "SIGNPOST_ESCALATE_AFTER_S": "0",
            **{f"SIGNPOST_{n}": str(free_port()) for n in
               ("GATEWAY_PORT", "INBOX_PORT", "MATCHER_HTTP_PORT")},
            **{f"SIGNPOST_{n}": random_secret() for n in
               ("BLOCKING_SECRET", "WEBHOOK_SECRET", "TOKEN_SECRET", "MASTER_KEY")}}
        settings = CommonSettings(kafka_bootstrap=bootstrap, redis_url=redis_url,
                                  topic_prefix=env["SIGNPOST_TOPIC_PREFIX"],
                                  partitions=partitions)
        ensure_topics(settings)
        children = [_spawn(s, env) for s in SERVICES]
        opened.callback(_stop_children, children)
        links, alerts = Arrivals("event_id"), Arrivals("alert_id", also="event_id")
        reader = Reader(bootstrap, {settings.topics.links: links, settings.topics.alerts: alerts})
        opened.callback(reader.close)
        yield Pipeline(settings, keys, receiver, links, alerts, children, servers)


def warm_up(p: Pipeline, event: dict[str, Any]) -> None:
    """One event through: every consumer group has joined once it is linked."""
    p.publish([event], None)
    if not _wait(lambda: event["event_id"] in p.links.first, 90):
        sys.exit("the pipeline did not link the warm-up event within 90 s")


def _ms(values: list[float]) -> dict[str, float | None]:
    if len(values) < 2:
        return {"p50": None, "p99": None}
    q = statistics.quantiles(values, n=100)
    return {"p50": round(statistics.median(values), 1), "p99": round(q[98], 1)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def phase(p: Pipeline, events: list[dict[str, Any]], rate: float | None) -> dict[str, object]:
    cpu_before = {name: cpu_seconds(pid) for name, pid in p.processes().items()}
    sent = p.publish(events, rate)
    last_send = max(sent.values())
    sent_ids = set(sent)
    _wait(lambda: p.links.has_all(sent_ids), DRAIN_S)
    linked = {e: p.links.first[e] for e in sent if e in p.links.first}
    _wait(WebhooksIn(p, sent), 15)
    to_link = [(linked[e] - t0) * 1000 for e, t0 in sent.items() if e in linked]
    first_hook: dict[str, float] = {}
    for alert_id, event_id in list(p.alerts.also.items()):
        at = p.receiver.arrived.get(alert_id)
        if event_id in sent and at is not None:
            first_hook[event_id] = min(at, first_hook.get(event_id, at))
    to_hook = [(at - sent[e]) * 1000 for e, at in first_hook.items()]
    end = max(linked.values()) if linked else last_send
    cpu = {name: round((cpu_seconds(pid) - cpu_before[name]) / len(sent) * 1000, 2)
           for name, pid in p.processes().items()}
    return {
        "offered_per_s": rate if rate is not None else "full speed",
        "events": len(sent), "linked": len(linked),
        "send_seconds": round(last_send - min(sent.values()), 2),
        "sustained_events_per_s": round(len(linked) / (end - min(sent.values())), 1),
        "kept_up": bool(linked) and end - last_send <= KEPT_UP_S,
        "publish_to_link_ms": _ms(to_link),
        "publish_to_webhook_ms": _ms(to_hook), "events_with_webhook": len(to_hook),
        "cpu_s_per_1000_events": cpu,
    }


class WebhooksIn:
    """A probe: has the webhook of every alert about the `sent` events arrived? Each call
    reads only the alerts and the webhooks that came since the last call (a scan of every
    alert each 10 ms took a third of this process's CPU, from the services, while a
    full-speed phase drained; a scan of those still missing, a tenth)."""

    def __init__(self, p: Pipeline, sent: dict[str, float]) -> None:
        self._p, self._sent = p, sent
        self._alerts_read = self._hooks_read = 0
        self._missing: set[str] = set()

    def __call__(self) -> bool:
        new = self._p.alerts.order[self._alerts_read:]
        self._alerts_read += len(new)
        arrived = self._p.receiver.arrived
        self._missing.update(a for a, e in new if e in self._sent and a not in arrived)
        hooks = self._p.receiver.order[self._hooks_read:]
        self._hooks_read += len(hooks)
        self._missing.difference_update(hooks)
        return not self._missing


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", type=float, nargs="*", default=[100.0, 300.0],
                        help="fixed offered loads, events per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="per fixed rate")
    parser.add_argument("--full", type=int, default=5000, help="events sent at full speed")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    sizes = [int(r * args.seconds) for r in args.rates] + ([args.full] if args.full else [])
    events, _ = demo_dataset(-(-(sum(sizes) + 1) // EVENTS_PER_CHILD), args.seed)
    results = []
    with pipeline(events) as p:
        warm_up(p, events[0])
        start = 1
        for size, rate in zip(sizes, [*args.rates, None], strict=False):
            print(f"phase: {size} events at {rate or 'full speed'}/s", flush=True)
            results.append(phase(p, events[start:start + size], rate))
            print(json.dumps(results[-1]), flush=True)
            start += size
    figures = {"benchmark": "e2e", "pipeline": "ingest, matcher, notifier processes; embedded "
               "Tansu broker and redis-server; 3 partitions", "phases": results, **machine()}
    print(json.dumps(figures, indent=2))
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
