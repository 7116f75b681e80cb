"""`signpost match-file`: the fixed contract, and the same answer as the engine event by event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from schemas import StandardisedEvent
from services.ingest.validate import validate
from services.matcher.engine import Engine
from services.matcher.index import Index
from services.matcher.model import default_model
from signpost.demo import demo_dataset

pytestmark = pytest.mark.integration


def test_match_file_cli_matches_the_engine(tmp_path: Path, redis_client: redis.Redis) -> None:
    events, _ = demo_dataset(40, 3)
    path = tmp_path / "events.jsonl"
    lines = [json.dumps(e) for e in events] + ['{"broken": true}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "SIGNPOST_REDIS_URL"}  # embedded Redis
    done = subprocess.run([sys.executable, "-m", "signpost.cli", "match-file", str(path),
                           str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(lines)
    assert rows[-1]["child_id"] is None and rows[-1]["rejected"] == "unknown_field"
    by_event = {r["event_id"]: r["child_id"] for r in rows[:-1]}

    engine = Engine(Index.private(redis_client, f"mf{uuid.uuid4().hex[:8]}"), default_model())
    direct: dict[str, str] = {}
    for e in events:
        std = validate(json.dumps(e).encode(), datetime.now(UTC))
        assert isinstance(std, StandardisedEvent)
        direct[e["event_id"]] = engine.process(std).decision.child_id
    final = engine.index.resolve_many(list(direct.values()))
    # Child ids are random per run: compare the partitions, not the labels.
    assert _partition(by_event) == _partition({k: final[v] for k, v in direct.items()})


def _partition(assignment: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for event, child in assignment.items():
        groups.setdefault(child, set()).add(event)
    return {frozenset(g) for g in groups.values()}
