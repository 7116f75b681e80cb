"""Benchmark: Redis bytes per agency record and per child, and the matcher's RSS.

For each size N: the engine of `signpost match-file` (bench/engine.py) processes N demo
events, 200 at a time as match-file does, into a fresh embedded redis-server; then Redis's
`used_memory` growth (INFO memory) is divided by the agency records and by the children
made, and `MEMORY USAGE` of every key is summed by kind (records, blocking index, children
and each of their sets, stored results, ...), also per agency record; the key store's
wrapped data keys, which live in a Redis of their own in production, are counted apart.
Then the stored results (`evt`) are deleted, as their TTL (SIGNPOST_RESULT_TTL_HOURS) does
once the events are older, and `used_memory` is read again: the long-run figure. The
matcher's RSS is this process's (the engine runs here, as in `signpost matcher`, with its
cache of opened records). Prints and writes bench/results/memory.json. Not a test; not run
in CI.

    python bench/memory.py --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections import Counter
from pathlib import Path

import redis
from engine import machine, match_file_engine, prefilled, progress

from schemas import StandardisedEvent
from services.matcher.engine import Engine
from signpost.matchfile import BATCH as ENGINE_BATCH

RESULTS = Path(__file__).parent / "results" / "memory.json"
BATCH = 1000


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def key_bytes(client: redis.Redis, prefix: str) -> tuple[Counter[str], Counter[str]]:
    """(bytes, keys) per kind of key under the prefix: the word after '{prefix}:m:' (the
    matcher's; a child's sets as 'child:recs' etc.), or 'keystore' for the data keys."""
    size: Counter[str] = Counter()
    count: Counter[str] = Counter()
    names: list[str] = []

    def flush() -> None:
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.memory_usage(name, samples=0)
        for name, used in zip(names, pipe.execute(), strict=True):
            parts = name.split(":")
            kind = "keystore" if parts[1] == "ks" else ":".join(parts[2:3]) or parts[1]
            if kind == "child" and len(parts) > 4:
                kind = f"child:{parts[4]}"
            size[kind] += int(used or 0)
            count[kind] += 1
        names.clear()

    for name in client.scan_iter(match=f"{{{prefix}}}:*", count=BATCH):
        names.append(name)
        if len(names) >= BATCH:
            flush()
    flush()
    return size, count


def bench_size(size: int, seed: int) -> dict[str, object]:
    fill, _ = prefilled(size, 0, seed)
    records = len({(s.event.agency.id, s.event.agency_record_id) for s in fill})
    with match_file_engine() as (engine, url):
        client = redis.Redis.from_url(url, decode_responses=True)
        before = int(client.info("memory")["used_memory"])
        rss_before = _rss_mib()
        started = time.perf_counter()
        children = _fill(engine, fill)
        seconds = time.perf_counter() - started
        info = client.info("memory")
        grown = int(info["used_memory"]) - before
        by_kind, keys = key_bytes(client, engine.index.k.prefix)
        expired = _expire_results(client, f"{engine.index.k.p}:evt:")
        grown_expired = int(client.info("memory")["used_memory"]) - before
        cached = len(getattr(engine.index, "_cache", ()))
        client.close()
    store = grown - by_kind.get("keystore", 0)
    store_expired = grown_expired - by_kind.get("keystore", 0)
    return {
        "events": size, "agency_records": records, "children": children,
        "seconds_to_fill": round(seconds, 1),
        "redis_used_memory_growth_mib": round(grown / 2**20, 1),
        "bytes_per_agency_record": round(store / records),
        "bytes_per_child": round(store / children),
        "bytes_per_event": round(store / size),
        "results_expired": {"evt_keys_deleted": expired,
                            "bytes_per_agency_record": round(store_expired / records),
                            "bytes_per_child": round(store_expired / children),
                            "bytes_per_event": round(store_expired / size)},
        "memory_usage_bytes_per_agency_record_by_kind": {
            kind: round(used / records) for kind, used in by_kind.most_common()},
        "keystore_bytes_per_agency_record": round(by_kind.get("keystore", 0) / records),
        "memory_usage_bytes_by_kind": dict(by_kind.most_common()),
        "keys_by_kind": dict(keys.most_common()),
        "redis_fragmentation_ratio": info.get("mem_fragmentation_ratio"),
        "matcher_rss_mib": _rss_mib(), "matcher_rss_before_fill_mib": rss_before,
        "matcher_records_cached": cached,
        "matcher_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                                      1),
    }


def _expire_results(client: redis.Redis, head: str) -> int:
    """Delete every stored result (what their TTL does later); how many there were."""
    deleted = 0
    batch: list[str] = []
    for name in client.scan_iter(match=f"{head}*", count=BATCH):
        batch.append(name)
        if len(batch) >= BATCH:
            deleted += int(client.delete(*batch))
            batch.clear()
    if batch:
        deleted += int(client.delete(*batch))
    return deleted


def _fill(engine: Engine, fill: list[StandardisedEvent]) -> int:
    """Process the events as match-file does (Engine.process_many, ENGINE_BATCH at a time);
    the number of children at the end (after merges)."""
    tick = progress(f"fill {len(fill)}", len(fill))
    child_ids = set()
    for i in range(0, len(fill), ENGINE_BATCH):
        for result in engine.process_many(fill[i:i + ENGINE_BATCH]):
            assert not isinstance(result, Exception), result
            child_ids.add(result.decision.child_id)
        tick(min(i + ENGINE_BATCH, len(fill)) - 1)
    return len(set(engine.index.resolve_many(list(child_ids)).values()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000],
                        help="events processed (1000000 takes about an hour)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    runs = []
    for size in args.sizes:
        runs.append(bench_size(size, args.seed))
        print(json.dumps(runs[-1]), flush=True)
    figures = {"benchmark": "memory", "target_bytes_per_agency_record": 1024, "runs": runs,
               **machine()}
    print(json.dumps(figures, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
