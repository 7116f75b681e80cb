"""Benchmark: where an event's time goes in the engine, phase by phase, and how it grows.

The `bench/engine.py` path (match-file engine, embedded redis-server): for each size N, N demo
events indexed, then M measured with the engine's steps wrapped in timers (exclusive time: a
step called inside another is counted once, in itself). Prints µs per event for each phase,
the candidates an event is scored against, and each phase's growth from the smallest size;
writes bench/results/engine_phases.json. The timers cost a little (~1-2%), so the total is
not the engine's speed: `bench/engine.py` is. Not a test; not run in CI.

    python bench/engine_phases.py --sizes 10000 60000 --measure 2000
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine import machine, match_file_engine, prefilled, timed

from services.matcher import engine as engine_module
from services.matcher.index import Index

RESULTS = Path(__file__).parent / "results" / "engine_phases.json"

#: (what, the object holding it, the attribute, the phase it is counted as)
PHASES: list[tuple[Any, str, str]] = [
    (engine_module.Engine, "_prepare", "standardise the event, key its blocking keys"),
    (Index, "prefetch_many", "prefetch: candidates ranked in Redis, their records read"),
    (Index, "open_records", "open the candidates' records (cache, AES-GCM, unpack)"),
    (engine_module._View, "resolve", "resolve the candidates' children (merges)"),
    (engine_module.Engine, "_score_stored", "score the candidates"),
    (engine_module._View, "of", "read children's facts"),
    (engine_module.Engine, "_decide", "decide (rules, cannot-link constraints)"),
    (engine_module.Engine, "_link_decision", "the decision record (LinkDecision)"),
    (engine_module, "build_alerts", "build the alerts"),
    (Index, "queue_commit", "queue the commit (seal the record, pack the result)"),
    (Index, "keystore_warm", "data keys of the batch's agency records"),
]


class Timers:
    """Exclusive time per phase: a phase's time less the phases it called."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._stack: list[float] = []  # per open phase: time spent in its callees

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self._stack.append(0.0)
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            inner = self._stack.pop()
            self.seconds[name] += elapsed - inner
            if self._stack:
                self._stack[-1] += elapsed


def wrapped(timers: Timers, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def timed_fn(*args: Any, **kwargs: Any) -> Any:
        with timers.phase(name):
            return fn(*args, **kwargs)
    return timed_fn


@contextmanager
def instrumented(engine: engine_module.Engine, timers: Timers) -> Iterator[list[int]]:
    """The engine with its phases timed; yields the list each event's candidate count is
    appended to."""
    saved: list[tuple[Any, str, Any]] = []
    counts: list[int] = []
    for owner, attr, name in PHASES:
        if attr == "keystore_warm":
            continue
        saved.append((owner, attr, getattr(owner, attr)))
        setattr(owner, attr, wrapped(timers, name, getattr(owner, attr)))
    score = engine_module.Engine._score_stored

    def counting(self: Any, e: Any, p: Any, *rest: Any) -> Any:
        counts.append(len(p.ranked))
        return score(self, e, p, *rest)
    engine_module.Engine._score_stored = counting  # type: ignore[method-assign]
    keystore = engine.index.keystore
    warm = keystore.warm
    keystore.warm = wrapped(timers, PHASES[-1][2], warm)  # type: ignore[method-assign]
    transaction = engine.index.transaction

    def timed_transaction(*args: Any, **kwargs: Any) -> Any:  # Index.transaction's own
        pipe = transaction(*args, **kwargs)
        pipe.execute = wrapped(timers, "write the batch (one MULTI)", pipe.execute)
        return pipe
    engine.index.transaction = timed_transaction  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        engine_module.Engine._score_stored = score  # type: ignore[method-assign]
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)
        keystore.warm = warm  # type: ignore[method-assign]
        engine.index.transaction = transaction  # type: ignore[method-assign]


def run_size(size: int, measure: int, seed: int) -> dict[str, Any]:
    fill, probe = prefilled(size, measure, seed)
    timers = Timers()
    with match_file_engine() as (engine, _):
        timed(engine, fill)
        with instrumented(engine, timers) as counts, timers.phase("the rest of the engine"):
            elapsed, _ = timed(engine, probe)
    n = len(probe)
    phases = {name: round(s / n * 1e6) for name, s in
              sorted(timers.seconds.items(), key=lambda kv: -kv[1])}
    return {"indexed": size, "measured": n, "us_per_event": round(elapsed / n * 1e6),
            "candidates_per_event": round(sum(counts) / max(1, len(counts)), 1),
            "phases_us_per_event": phases}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 60_000])
    parser.add_argument("--measure", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    runs = [run_size(size, args.measure, args.seed) for size in args.sizes]
    first = runs[0]["phases_us_per_event"]
    for run in runs:
        run["growth_vs_smallest_us"] = {
            name: us - first.get(name, 0) for name, us in run["phases_us_per_event"].items()}
    figures = {"benchmark": "engine_phases", "runs": runs, **machine()}
    print(json.dumps(figures, indent=2))
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
