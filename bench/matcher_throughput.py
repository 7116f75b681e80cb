"""Benchmark: the matcher's Engine.process, one event at a time, on an embedded redis-server.

Prints events/s, per-event latency percentiles and peak memory; writes
bench/results/matcher_throughput.json. Not a test; not run in CI.

    python bench/matcher_throughput.py --children 5000
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
from datetime import UTC, datetime
from pathlib import Path

import redis
from engine import match_file_engine, standardised, timed

from signpost.demo import demo_dataset

RESULTS = Path(__file__).parent / "results" / "matcher_throughput.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--children", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    events, _ = demo_dataset(args.children, args.seed)
    stds = standardised(events)
    with match_file_engine() as (engine, url):
        elapsed, latencies = timed(engine, stds)
        redis_mem = int(redis.Redis.from_url(url).info("memory")["used_memory"])
    q = statistics.quantiles(latencies, n=100)
    figures = {
        "children": args.children, "events": len(stds), "seconds": round(elapsed, 2),
        "events_per_s": round(len(stds) / elapsed, 1),
        "latency_ms_p50": round(q[49] * 1000, 2), "latency_ms_p99": round(q[98] * 1000, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "redis_used_memory_mib": round(redis_mem / 2**20, 1),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(figures, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
