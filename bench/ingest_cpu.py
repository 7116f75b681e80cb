"""Benchmark: the ingest service's CPU time per event at full speed, and while idle.

Ingest runs as its own process (`python -m signpost.cli ingest`, gateway on, as
`bench/e2e.py` runs it) on the embedded broker and redis-server (or SIGNPOST_KAFKA_BOOTSTRAP /
SIGNPOST_REDIS_URL), topics with 3 partitions. This process waits until one warm-up event is
through (the group has joined), measures ingest's CPU over `--idle` seconds with nothing to
do, then publishes `--events` signed demo events as fast as it can and waits until every one
is on `contact.events` (or the DLQ). Figures are the ingest process's user + system CPU time
(/proc): per event over the busy stretch (as `bench/e2e.py` counts it), and per second idle
(polling an empty topic; `bench/e2e.py` counts that too while the matcher drains). Run it
for each revision back to back on a shared machine. Prints and writes
bench/results/ingest_cpu.json. Not a test; not run in CI.

    python bench/ingest_cpu.py --events 3000 --idle 5
    python bench/ingest_cpu.py --events 1000 --rate 100   # a steady trickle, small batches
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from e2e import cpu_seconds, publish_signed, service_env
from engine import demo_events, machine
from kafka import KafkaConsumer
from notifier_latency import _servers, _wait

from signpost.dev import _spawn, _stop_children
from signpost.embedded import free_port
from signpost.kafka import close_consumer, ensure_topics
from signpost.settings import CommonSettings, random_secret

RESULTS = Path(__file__).parent / "results" / "ingest_cpu.json"
PARTITIONS = 3
DRAIN_S = 120.0


class Counter:
    """Counts the messages on some topics from their start, on a thread."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.count = 0
        self._stop = threading.Event()
        self._consumer = KafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=None,
                                       auto_offset_reset="earliest", fetch_max_wait_ms=10)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            got = self._consumer.poll(timeout_ms=100)
            self.count += sum(len(batch) for batch in got.values())
        close_consumer(self._consumer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000, help="events sent at full speed")
    parser.add_argument("--rate", type=float, default=None,
                        help="events per second (default: as fast as possible)")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds measured idle")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    events = demo_events(args.events + 1, args.seed)
    with ExitStack() as opened:
        bootstrap, redis_url = _servers(opened)
        keys = {a: random_secret() for a in sorted({e["agency"]["id"] for e in events})}
        env = service_env(bootstrap, redis_url, keys, PARTITIONS, f"i{uuid.uuid4().hex[:8]}") | {
            "SIGNPOST_GATEWAY_PORT": str(free_port()), "SIGNPOST_MASTER_KEY": random_secret()}
        settings = CommonSettings(kafka_bootstrap=bootstrap, redis_url=redis_url,
                                  topic_prefix=env["SIGNPOST_TOPIC_PREFIX"],
                                  partitions=PARTITIONS)
        ensure_topics(settings)
        ingest = _spawn("ingest", env)
        opened.callback(_stop_children, [ingest])
        out = Counter(bootstrap, [settings.topics.events, settings.topics.events_dlq])
        opened.callback(out.close)
        publish_signed(settings, keys, events[:1])
        if not _wait(lambda: out.count >= 1, 90):
            raise SystemExit("ingest did not pass the warm-up event within 90 s")
        time.sleep(1.0)  # the warm-up batch's commit and the first lag refresh
        cpu0, t0 = cpu_seconds(ingest.pid), time.monotonic()
        time.sleep(args.idle)
        idle_ms_per_s = (cpu_seconds(ingest.pid) - cpu0) / (time.monotonic() - t0) * 1000
        cpu1, t1 = cpu_seconds(ingest.pid), time.monotonic()
        publish_signed(settings, keys, events[1:], args.rate)
        drained = _wait(lambda: out.count >= len(events), DRAIN_S)
        busy_s = time.monotonic() - t1
        busy_cpu = cpu_seconds(ingest.pid) - cpu1
    n = args.events
    figures = {"benchmark": "ingest_cpu", "events": n, "drained": drained,
               "offered_per_s": args.rate or "full speed",
               "partitions": PARTITIONS,
               "busy_seconds": round(busy_s, 2),
               "events_per_s": round(n / busy_s, 1),
               "cpu_us_per_event": round(busy_cpu / n * 1e6),
               "idle_cpu_ms_per_s": round(idle_ms_per_s, 1), **machine()}
    print(json.dumps(figures, indent=2))
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
