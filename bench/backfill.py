"""Benchmark: a bulk load (a school census) with `signpost publish`, until every event has
its link.

The pipeline of bench/e2e.py (ingest, matcher, notifier as processes on the embedded broker
and redis-server, 3 partitions); N demo events written to a JSONL file and sent by the real
`signpost publish FILE` command (its progress bar on the terminal), then the time until all N
are on `child.links`. Prints publish and end-to-end events/s and the time a million events
would take at that pace, and each service's resident memory (sampled every second from
/proc) from before the load to the end: with the whole load queued on the broker at once, a
service's memory must stay flat (back-pressure: consumers fetch bounded batches). With
--burst-seconds S it stops S seconds after the publish instead of waiting for every link: a
1M-event burst's memory, without the hours of draining. Writes bench/results/backfill.json
(or burst.json). Not a test; not run in CI.

    python bench/backfill.py --events 20000
    python bench/backfill.py --events 1000000 --burst-seconds 120
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from e2e import SERVICES, pipeline, warm_up
from engine import machine
from notifier_latency import _wait

from signpost.demo import EVENTS_PER_CHILD, demo_dataset
from signpost.settings import random_secret

RESULTS = Path(__file__).parent / "results" / "backfill.json"
TARGET_1M_S = 600.0


def rss_mib(pid: int) -> float | None:
    """Resident memory of a process, from /proc (None once it has gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kib = next((int(line.split()[1]) for line in text.splitlines()
                if line.startswith("VmRSS:")), None)
    return None if kib is None else round(kib / 1024, 1)


class MemorySampler:
    """Samples each service's RSS every second on a thread: first, max and last reading."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.samples: dict[str, list[float]] = {name: [] for name in pids}
        self._pids = pids
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            for name, pid in self._pids.items():
                value = rss_mib(pid)
                if value is not None:
                    self.samples[name].append(value)

    def close(self) -> dict[str, dict[str, float]]:
        self._stop.set()
        self._thread.join(timeout=5)
        return {name: {"first": v[0], "max": max(v), "last": v[-1], "samples": len(v)}
                for name, v in self.samples.items() if v}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after (s)")
    parser.add_argument("--burst-seconds", type=float, default=None,
                        help="stop this long after the publish (memory under a queued burst)")
    args = parser.parse_args()
    events, _ = demo_dataset(-(-(args.events + 1) // EVENTS_PER_CHILD), args.seed)
    warm, bulk = events[0], events[1:args.events + 1]
    key = random_secret()
    with tempfile.TemporaryDirectory() as tmp, pipeline(events, shared_key=key) as p:
        path = Path(tmp) / "census.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in bulk), encoding="utf-8")
        warm_up(p, warm)
        sampler = MemorySampler(dict(zip(SERVICES, (c.pid for c in p.children), strict=True)))
        env = os.environ | {"SIGNPOST_KAFKA_BOOTSTRAP": p.settings.kafka_bootstrap,
                            "SIGNPOST_TOPIC_PREFIX": p.settings.topic_prefix,
                            "SIGNPOST_SIGNING_KEY": key}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "signpost.cli", "publish", str(path)], env=env,
                       check=True)
        published = time.perf_counter() - started
        ids = {e["event_id"] for e in bulk}
        done = _wait(lambda: p.links.has_all(ids),
                     args.burst_seconds if args.burst_seconds is not None else args.timeout)
        linked = [p.links.first[e] for e in ids if e in p.links.first]
        total = (max(linked) - started) if linked else float("nan")
        memory = sampler.close()
    rate = len(linked) / total
    figures = {
        "benchmark": "burst" if args.burst_seconds is not None else "backfill",
        "events": len(bulk), "linked": len(linked), "complete": done,
        "publish_seconds": round(published, 1),
        "publish_events_per_s": round(len(bulk) / published, 1),
        "all_linked_seconds": round(total, 1), "end_to_end_events_per_s": round(rate, 1),
        "projected_1m_minutes": round(1_000_000 / rate / 60, 1),
        "target_1m_minutes": TARGET_1M_S / 60,
        "rss_mib": memory,
        **machine(),
    }
    print(json.dumps(figures, indent=2))
    out = RESULTS if args.burst_seconds is None else RESULTS.with_name("burst.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
