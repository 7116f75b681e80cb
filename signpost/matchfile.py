"""`signpost match-file`: the matcher's engine over a JSONL file, in file order.

The same engine as the service, in file (arrival) order, never looking ahead: events are
decided in batches of BATCH (Engine.process_many), each exactly as one at a time. Each
run uses a fresh key prefix, so runs never see each other's state; its keys are deleted after.
Output (fixed, DESIGN §5): one JSON line per input event, {"event_id", "child_id", ...}, where
child_id is the child the event belongs to at the end of the run (after any later merges).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import redis

from schemas import StandardisedEvent
from services.ingest.validate import Rejection, validate
from services.matcher.engine import Engine
from services.matcher.service import build_engine
from services.matcher.settings import MatcherSettings
from signpost.crypto import KeyStore, master_key
from signpost.embedded import running_redis
from signpost.publish import read_event_lines
from signpost.redis import make_redis
from signpost.runner import tune_gc

__all__ = ["MatchSummary", "match_file", "redis_for_matchfile"]

DELETE_BATCH = 1000
BATCH = 200  # events decided together: the same decisions as one at a time, fewer round trips


@dataclass
class MatchSummary:
    events: int = 0
    rejected: int = 0
    children: int = 0
    outcomes: dict[str, int] | None = None


@contextlib.contextmanager
def redis_for_matchfile(url: str | None) -> Iterator[str]:
    """The Redis URL to use: SIGNPOST_REDIS_URL if set, else an embedded redis-server."""
    if url:
        yield url
        return
    with running_redis() as server:
        yield server.url


def _event_id_of(line: bytes) -> str | None:
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        value = json.loads(line).get("event_id")
        return str(value) if value is not None else None
    return None


def _run(engine: Engine, path: Path, tick: Callable[[], None]) -> tuple[list[dict[str, object]],
                                                                         MatchSummary]:
    rows: list[dict[str, object]] = []
    summary = MatchSummary(outcomes={})
    waiting: list[tuple[int, StandardisedEvent]] = []  # (row, event) not decided yet

    def decide_waiting() -> None:
        assert summary.outcomes is not None
        for (row, _), result in zip(waiting, engine.process_many([s for _, s in waiting]),
                                    strict=True):
            if isinstance(result, Exception):
                raise result
            d = result.decision
            summary.outcomes[d.outcome.value] = summary.outcomes.get(d.outcome.value, 0) + 1
            rows[row] = {"event_id": str(d.event_id), "child_id": d.child_id,
                         "outcome": d.outcome.value, "score": d.score, "rule": d.rule}
            tick()
        waiting.clear()

    for line in read_event_lines(path):
        outcome = validate(line, datetime.now(UTC))
        summary.events += 1
        if isinstance(outcome, Rejection):
            summary.rejected += 1
            rows.append({"event_id": _event_id_of(line), "child_id": None,
                         "rejected": outcome.reason.value})
            tick()
        else:
            rows.append({})
            waiting.append((len(rows) - 1, outcome))
            if len(waiting) >= BATCH:
                decide_waiting()
    decide_waiting()
    return rows, summary


def match_file(events: Path, out: Path, settings: MatcherSettings,
               tick: Callable[[], None] = lambda: None) -> MatchSummary:
    """Run the engine over `events`, write `out`; `settings.redis_url` must be reachable."""
    tune_gc()
    prefix = f"mf-{uuid.uuid4().hex[:12]}"
    run_settings = settings.model_copy(update={"key_prefix": prefix})
    # The run's data keys live and die with its private prefix, in the same Redis: nothing
    # of a match-file run outlives it.
    keystore = KeyStore(make_redis(run_settings), prefix, master_key(run_settings),
                        run_settings.key_cache_entries)
    engine = build_engine(run_settings, shared=False, keystore=keystore)
    try:
        rows, summary = _run(engine, events, tick)
        final = engine.index.resolve_many([str(r["child_id"]) for r in rows if r["child_id"]])
        with out.open("w", encoding="utf-8") as fh:
            for row in rows:
                if row["child_id"]:
                    row["decided_child_id"] = row["child_id"]
                    row["child_id"] = final[str(row["child_id"])]
                fh.write(json.dumps(row) + "\n")
        summary.children = len(set(final.values()))
        return summary
    finally:
        _delete_prefix(engine.index.r, prefix)


def _delete_prefix(client: redis.Redis, prefix: str) -> None:
    batch: list[str] = []
    for key in client.scan_iter(match=f"{{{prefix}}}:*", count=DELETE_BATCH):
        batch.append(key)
        if len(batch) >= DELETE_BATCH:
            client.unlink(*batch)
            batch.clear()
    if batch:
        client.unlink(*batch)
