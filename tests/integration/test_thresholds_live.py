"""Live thresholds: a change made with `signpost thresholds set` reaches a running matcher
within 5 seconds, without a restart; history and audit keep who, when, old, new and why."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import redis
from typer.testing import CliRunner

from schemas import LinkDecision, LinkOutcome
from services.matcher.engine import Result
from services.matcher.index import Index
from services.matcher.service import main
from services.matcher.settings import MatcherSettings
from signpost.auth import Role, issue_token
from signpost.cli import app
from signpost.crypto import keystore_for
from signpost.kafka import ensure_topics
from tests.support.events import make_event
from tests.support.sealed import publish_sealed
from tests.support.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

TOKEN_SECRET = "thresholds-token-secret"
PICK_UP_S = 5.0  # the promise: every running matcher follows a change within 5 seconds
VARIANT = {"given": "Vicky", "agency_id": "gp-7", "agency_kind": "gp", "practitioner": "gp-9"}


@pytest.fixture
def matcher(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> MatcherSettings:
    for key, value in (env | {"SIGNPOST_TOKEN_SECRET": TOKEN_SECRET,
                              "SIGNPOST_MATCHER_HTTP_PORT": "0"}).items():
        monkeypatch.setenv(key, value)
    settings = MatcherSettings()
    ensure_topics(settings)
    return settings


def _cli(*args: str) -> Any:
    token = issue_token(TOKEN_SECRET, "op-1", Role.operator)
    result = CliRunner().invoke(app, [*args, "--token", token, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _send(settings: MatcherSettings, **kwargs: Any) -> str:
    [std] = publish_sealed(settings, [make_event(**kwargs)])
    return str(std.event.event_id)


def _result(client: redis.Redis, settings: MatcherSettings, event_id: str) -> Result:
    index = Index(client, settings.key_prefix, b"", 50, keystore_for(settings))
    raw = wait_until(lambda: index.stored_result(event_id), timeout_s=20)
    return Result.model_validate_json(raw)


def _first_link(client: redis.Redis, settings: MatcherSettings,
                deadline: float) -> LinkDecision | None:
    """Send the variant again and again until the matcher links it, or the deadline passes."""
    while time.monotonic() < deadline:
        decision = _result(client, settings, _send(settings, **VARIANT)).decision
        if decision.outcome in (LinkOutcome.linked, LinkOutcome.merged):
            return decision
        time.sleep(0.2)
    return None


def test_a_threshold_set_through_the_cli_changes_a_running_matcher_within_5_s(
    matcher: MatcherSettings, redis_client: redis.Redis
) -> None:
    assert _cli("thresholds", "set", "--upper", "60", "--lower", "10",
                "--reason", "start strict")["version"] == 1
    stop = threading.Event()
    thread = threading.Thread(target=main, args=(matcher, stop), daemon=True)
    thread.start()
    try:
        first = _result(redis_client, matcher, _send(matcher)).decision
        strict = _result(redis_client, matcher, _send(matcher, **VARIANT)).decision
        assert strict.outcome is LinkOutcome.review  # 38 bits: between 10 and 60

        changed = _cli("thresholds", "set", "--upper", "20", "--lower", "10",
                       "--reason", "evidence: recall too low")
        started = time.monotonic()
        loose = _first_link(redis_client, matcher, started + PICK_UP_S)
        took = time.monotonic() - started
    finally:
        stop.set()
        thread.join(timeout=15)
    assert changed["version"] == 2 and changed["actor"] == "op-1"
    assert loose is not None, f"no link within {PICK_UP_S} s of the change"
    assert loose.child_id == first.child_id and took < PICK_UP_S
    history = _cli("thresholds", "history")
    assert [(h["version"], h["upper"], h["reason"]) for h in history] == [
        (1, 60.0, "start strict"), (2, 20.0, "evidence: recall too low")]
    shown = _cli("thresholds", "show")
    assert (shown["upper"], shown["lower"]) == (20.0, 10.0)
