"""Benchmark: the matcher's engine alone, on the match-file path, with the index pre-filled.

For each size N: a fresh embedded redis-server, the engine `signpost match-file` builds
(`build_engine(..., shared=False)`, validate, `Engine.process_many` on batches of --batch
events, as match-file does; --batch 1: `Engine.process` one by one), N demo events processed
to fill the index, then M more measured: events/s, µs per event (mean; p50 and p99 of each
batch's time over its events), and how the cost grows with N. With --splink, Splink 5
(DuckDB, EM-trained, the same set-up as bench/accuracy.py) links the same N + M events in one
batch, training included, and the ratio of the two rates is reported. Prints and writes
bench/results/engine.json. Not a test; not run in CI.

    python bench/engine.py --sizes 10000 100000 --measure 2000 --splink
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from schemas import StandardisedEvent
from services.ingest.validate import validate
from services.matcher.engine import Engine
from services.matcher.service import build_engine
from services.matcher.settings import MatcherSettings
from signpost.demo import EVENTS_PER_CHILD, demo_dataset
from signpost.embedded import running_redis
from signpost.matchfile import BATCH
from signpost.runner import tune_gc

RESULTS = Path(__file__).parent / "results" / "engine.json"
SEED = 11


def standardised(events: list[dict[str, Any]]) -> list[StandardisedEvent]:
    """What ingest passes on, for each event (all demo events are valid)."""
    now = datetime.now(UTC)
    out = [validate(json.dumps(e).encode(), now) for e in events]
    assert all(isinstance(s, StandardisedEvent) for s in out)
    return out  # type: ignore[return-value]


@contextmanager
def match_file_engine() -> Iterator[tuple[Engine, str]]:
    """The engine of `signpost match-file` on a private redis-server; yields it and the URL."""
    tune_gc()  # as match-file does
    with running_redis() as server:
        settings = MatcherSettings(redis_url=server.url, environment="test",
                                   key_prefix=f"b{uuid.uuid4().hex[:8]}",
                                   blocking_secret=SecretStr("bench-blocking-secret"))
        engine = build_engine(settings, shared=False)
        try:
            yield engine, server.url
        finally:
            engine.index.r.close()


class CollectorTime:
    """The cyclic garbage collector's runs and seconds while it is installed (gc.callbacks),
    per generation."""

    def __init__(self) -> None:
        self.runs = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.runs[info["generation"]] += 1
            self.seconds[info["generation"]] += time.perf_counter() - self._started

    def figures(self, events: int) -> dict[str, object]:
        return {"gc_runs_by_generation": self.runs,
                "gc_us_per_event": round(sum(self.seconds) / events * 1e6, 1)}


def timed(engine: Engine, stds: list[StandardisedEvent],
          tick: Callable[[int], None] = lambda i: None,
          batch: int = BATCH, collector: CollectorTime | None = None) -> tuple[float, list[float]]:
    """Process the events `batch` at a time (Engine.process_many, as match-file does; 1: one
    by one with Engine.process); (elapsed s, per-event s: each batch's time over its events).
    `collector` counts the garbage collector's runs meanwhile."""
    latencies: list[float] = []
    if collector is not None:
        gc.callbacks.insert(0, collector)  # first: timed from before the other callbacks
    try:
        return _timed(engine, stds, tick, batch, latencies)
    finally:
        if collector is not None:
            gc.callbacks.remove(collector)


def _timed(engine: Engine, stds: list[StandardisedEvent], tick: Callable[[int], None],
           batch: int, latencies: list[float]) -> tuple[float, list[float]]:
    started = time.perf_counter()
    for i in range(0, len(stds), batch):
        chunk = stds[i:i + batch]
        t0 = time.perf_counter()
        if batch == 1:
            engine.process(chunk[0])
        else:
            assert all(not isinstance(r, Exception) for r in engine.process_many(chunk))
        latencies.extend([(time.perf_counter() - t0) / len(chunk)] * len(chunk))
        tick(i + len(chunk) - 1)
    return time.perf_counter() - started, latencies


def summary(elapsed: float, latencies: list[float],
            collector: CollectorTime | None = None) -> dict[str, object]:
    q = statistics.quantiles(latencies, n=100)
    return {"events": len(latencies), "seconds": round(elapsed, 2),
            "events_per_s": round(len(latencies) / elapsed, 1),
            "us_per_event_mean": round(elapsed / len(latencies) * 1e6, 1),
            "us_p50": round(q[49] * 1e6, 1), "us_p99": round(q[98] * 1e6, 1),
            **(collector.figures(len(latencies)) if collector else {})}


def progress(label: str, total: int) -> Callable[[int], None]:
    step = max(1, total // 10)

    def tick(i: int) -> None:
        if (i + 1) % step == 0:
            print(f"  {label}: {i + 1}/{total}", flush=True)
    return tick


def machine() -> dict[str, object]:
    return {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                       f"{platform.python_version()}",
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}


def demo_events(count: int, seed: int) -> list[dict[str, Any]]:
    """The first `count` events of one demo stream."""
    events, _ = demo_dataset(-(-count // EVENTS_PER_CHILD), seed)
    return events[:count]


def prefilled(size: int, measure: int, seed: int) -> tuple[list[StandardisedEvent],
                                                           list[StandardisedEvent]]:
    """Demo events: `size` to fill the index, then the next `measure` of the same stream."""
    stds = standardised(demo_events(size + measure, seed))
    return stds[:size], stds[size:]


def bench_size(size: int, measure: int, seed: int, splink: bool,
               batch: int = BATCH) -> dict[str, object]:
    events = demo_events(size + measure, seed)
    stds = standardised(events)
    fill, probe = stds[:size], stds[size:]
    in_fill, measuring = CollectorTime(), CollectorTime()
    with match_file_engine() as (engine, _):
        fill_s, fill_lat = timed(engine, fill, progress(f"fill {size}", size), batch, in_fill)
        elapsed, latencies = timed(engine, probe, batch=batch, collector=measuring)
    run: dict[str, Any] = {
        "indexed": size, "batch": batch,
        "fill": summary(fill_s, fill_lat, in_fill) if fill else None,
        "measured": summary(elapsed, latencies, measuring),
        "rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if splink:
        run["splink"] = splink_batch(events)
        signpost_rate = (size + measure) / (fill_s + elapsed)
        run["splink"]["signpost_events_per_s_same_events"] = round(signpost_rate, 1)
        run["splink"]["signpost_vs_splink_rate"] = round(
            signpost_rate / run["splink"]["events_per_s"], 3)
    return run


def splink_batch(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Splink 5 on the same events, one batch, training included (bench/accuracy.py's set-up):
    events/s over the whole run, one core or both as DuckDB chooses."""
    import tempfile

    from accuracy import load_table, run_splink

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
        table = load_table(path)
    started = time.perf_counter()
    try:
        run, _ = run_splink(table)
    except MemoryError:
        return {"events": len(events), "failed": "MemoryError"}
    seconds = time.perf_counter() - started
    return {"events": len(events), "seconds": round(seconds, 2),
            "events_per_s": round(len(events) / seconds, 1), "note": run.note}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000],
                        help="events in the index before measuring (1000000 takes ~1 h)")
    parser.add_argument("--measure", type=int, default=2000, help="events measured per size")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--batch", type=int, default=BATCH,
                        help="events per Engine.process_many (match-file's); 1: one by one")
    parser.add_argument("--splink", action="store_true",
                        help="also run Splink 5 batch on the same events, as a ratio")
    args = parser.parse_args()
    runs = []
    for size in args.sizes:
        print(f"engine with {size} events indexed", flush=True)
        runs.append(bench_size(size, args.measure, args.seed, args.splink, args.batch))
        print(json.dumps(runs[-1]), flush=True)
    base = runs[0]["measured"]["us_per_event_mean"]  # type: ignore[index]
    for run in runs:
        run["cost_vs_smallest"] = round(run["measured"]["us_per_event_mean"] / base, 2)  # type: ignore[index]
    figures = {"benchmark": "engine", "path": "match-file (validate + Engine.process_many in "
               f"batches of {args.batch}, shared=False, embedded redis-server)",
               "data": f"signpost demo, seed {args.seed}",
               "runs": runs, **machine()}
    print(json.dumps(figures, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
