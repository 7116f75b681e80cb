"""tune_gc: the collector policy of every long-running process (signpost/runner.py).

Run in a child interpreter: the policy is process-wide, and the test process keeps its own.
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json, weakref
from signpost.runner import GC_YOUNG_THRESHOLD, tune_gc

class Node:
    pass

tune_gc()
tune_gc()  # idempotent: one callback, not two
frozen_at_start = gc.get_freeze_count()
kept = [Node() for _ in range(1000)]  # survives the collection below
cycle = Node(); cycle.me = cycle  # cyclic garbage, made before the collection
gone = weakref.ref(cycle)
del cycle
gc.collect()
print(json.dumps({
    "threshold": gc.get_threshold()[0], "expected_threshold": GC_YOUNG_THRESHOLD,
    "callbacks": sum(1 for cb in gc.callbacks if cb.__name__ == "_freeze_survivors"),
    "frozen_more": gc.get_freeze_count() - frozen_at_start,
    "cycle_collected": gone() is None,
    "tracked_left": len(gc.get_objects()),
}))
"""


def probe() -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          timeout=60, check=True)
    return dict(json.loads(done.stdout))


def test_tune_gc_freezes_what_outlives_a_collection_and_still_collects_cycles() -> None:
    out = probe()
    assert out["threshold"] == out["expected_threshold"]
    assert out["callbacks"] == 1
    assert isinstance(out["frozen_more"], int) and out["frozen_more"] >= 1000  # `kept`
    assert out["cycle_collected"] is True
    assert out["tracked_left"] == 0  # nothing left for the next collection to scan again
