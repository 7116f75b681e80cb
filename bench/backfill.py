"""Benchmark: a bulk load (a school census) with `signpost publish`, until every event has
its link.

The pipeline of bench/e2e.py (ingest, matcher, notifier as processes on the embedded broker
and redis-server, 3 partitions); N demo events written to a JSONL file and sent by the real
`signpost publish FILE` command (its progress bar on the terminal), then the time until all N
are on `child.links`. Prints publish and end-to-end events/s and the time a million events
would take at that pace; writes bench/results/backfill.json. Not a test; not run in CI.

    python bench/backfill.py --events 20000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from e2e import pipeline, warm_up
from engine import machine
from notifier_latency import _wait

from signpost.demo import EVENTS_PER_CHILD, demo_dataset
from signpost.settings import random_secret

RESULTS = Path(__file__).parent / "results" / "backfill.json"
TARGET_1M_S = 600.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after (s)")
    args = parser.parse_args()
    events, _ = demo_dataset(-(-(args.events + 1) // EVENTS_PER_CHILD), args.seed)
    warm, bulk = events[0], events[1:args.events + 1]
    key = random_secret()
    with tempfile.TemporaryDirectory() as tmp, pipeline(events, shared_key=key) as p:
        path = Path(tmp) / "census.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in bulk), encoding="utf-8")
        warm_up(p, warm)
        env = os.environ | {"SIGNPOST_KAFKA_BOOTSTRAP": p.settings.kafka_bootstrap,
                            "SIGNPOST_TOPIC_PREFIX": p.settings.topic_prefix,
                            "SIGNPOST_SIGNING_KEY": key}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "signpost.cli", "publish", str(path)], env=env,
                       check=True)
        published = time.perf_counter() - started
        ids = {e["event_id"] for e in bulk}
        done = _wait(lambda: ids <= set(p.links.first), args.timeout)
        linked = [p.links.first[e] for e in ids if e in p.links.first]
        total = (max(linked) - started) if linked else float("nan")
    rate = len(linked) / total
    figures = {
        "benchmark": "backfill", "events": len(bulk), "linked": len(linked), "complete": done,
        "publish_seconds": round(published, 1),
        "publish_events_per_s": round(len(bulk) / published, 1),
        "all_linked_seconds": round(total, 1), "end_to_end_events_per_s": round(rate, 1),
        "projected_1m_minutes": round(1_000_000 / rate / 60, 1),
        "target_1m_minutes": TARGET_1M_S / 60,
        **machine(),
    }
    print(json.dumps(figures, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
