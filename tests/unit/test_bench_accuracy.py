"""bench/accuracy.py's merging of results: a Signpost-only re-run keeps the other rows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH = Path(__file__).resolve().parents[2] / "bench" / "accuracy.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_accuracy", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _row(dataset: str, system: str, f1: float, at: str = "old") -> dict[str, Any]:
    return {"dataset": dataset, "system": system, "f1": f1, "generated_at": at}


def test_rerun_replaces_its_rows_and_keeps_the_others_in_order() -> None:
    bench = _bench()
    old = [_row("febrl3", "signpost", 0.7), _row("febrl3", "splink", 0.99),
           _row("febrl3", "splink (best threshold, uses truth)", 0.995),
           _row("febrl3", "recordlinkage ECM", 0.98), _row("febrl4", "signpost", 0.8),
           _row("febrl4", "splink", 0.99)]
    new = [_row("febrl4", "signpost", 0.9, "new"), _row("febrl3", "signpost", 0.85, "new")]
    rows = bench.merged_rows(new, old)
    assert [(r["dataset"], r["system"], r["f1"], r["generated_at"]) for r in rows] == [
        ("febrl3", "signpost", 0.85, "new"), ("febrl3", "splink", 0.99, "old"),
        ("febrl3", "splink (best threshold, uses truth)", 0.995, "old"),
        ("febrl3", "recordlinkage ECM", 0.98, "old"),
        ("febrl4", "signpost", 0.9, "new"), ("febrl4", "splink", 0.99, "old")]


def test_kept_rows_keep_their_own_provenance() -> None:
    bench = _bench()
    rows = bench._stamped([{"dataset": "d", "system": "s"},
                           {"dataset": "d", "system": "t", "generated_at": "earlier"}],
                          {"generated_at": "now", "signpost_revision": "abc"})
    assert [r["generated_at"] for r in rows] == ["now", "earlier"]
    assert rows[0]["signpost_revision"] == "abc"
