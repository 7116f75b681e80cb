"""Benchmark: the engine's CPU per event, the matcher's and Redis's, for A/B runs of two
revisions in one window of a shared machine (wall time alone moves with the neighbours).

The `bench/engine.py` path (match-file engine, embedded redis-server): N demo events indexed,
then M measured; prints wall µs per event, the process's CPU µs per event (`os.times`) and
redis-server's (`INFO cpu`), and writes bench/results/engine_cpu.json. Run it from the root of
each revision, one after the other. Not a test; not run in CI.

    python bench/engine_cpu.py --size 5000 --measure 1500
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import redis
from engine import machine, match_file_engine, prefilled, timed

from signpost.matchfile import BATCH

RESULTS = Path(__file__).parent / "results" / "engine_cpu.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--measure", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--batch", type=int, default=BATCH,
                        help="events per Engine.process_many; 1: one by one")
    args = parser.parse_args()
    fill, probe = prefilled(args.size, args.measure, args.seed)
    with match_file_engine() as (engine, url):
        timed(engine, fill, batch=args.batch)
        server = redis.Redis.from_url(url)
        before, t0 = server.info("cpu"), os.times()
        elapsed, _ = timed(engine, probe, batch=args.batch)
        after, t1 = server.info("cpu"), os.times()
    n = len(probe)
    redis_s = sum(after[k] - before[k] for k in ("used_cpu_sys", "used_cpu_user"))
    figures = {"benchmark": "engine_cpu", "indexed": args.size, "measured": n,
               "batch": args.batch,
               "wall_us_per_event": round(elapsed / n * 1e6),
               "matcher_cpu_us_per_event": round((t1.user + t1.system - t0.user - t0.system)
                                                 / n * 1e6),
               "redis_cpu_us_per_event": round(redis_s / n * 1e6), **machine()}
    print(json.dumps(figures, indent=2))
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
