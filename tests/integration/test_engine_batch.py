"""Engine.process_many decides a batch exactly as Engine.process decides its events one at a
time (real Redis): the same outcomes, scores, rules, explanations, alerts and clusters, with
merges, reviews, corrections, replays within a batch, and the candidate windows and caps
binding. Child ids are random, so they are compared by order of first appearance."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from schemas import StandardisedEvent
from services.ingest.validate import validate
from services.matcher.engine import Engine, Result
from services.matcher.index import Index
from services.matcher.keys import Keys
from services.matcher.model import default_model
from signpost.synth import synthesise
from tests.support.events import make_standardised

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CHILD_ID = re.compile(r"C[0-9a-f]{20}")


def _events(children: int, seed: int) -> list[StandardisedEvent]:
    """A synthetic stream (twins, siblings, aliases, moves), with replays inside it and a few
    corrections."""
    rng = random.Random(seed)
    stds = []
    for event, _ in synthesise(children, seed).stream():
        std = validate(json.dumps(event).encode(), NOW)
        assert isinstance(std, StandardisedEvent)
        stds.append(std)
    for i in rng.sample(range(len(stds)), 12):  # corrections, each alone in its segment
        stds[i] = stds[i].model_copy(update={"correction": True})
    for i in sorted(rng.sample(range(len(stds)), 20), reverse=True):  # a replay close behind
        stds.insert(min(len(stds), i + rng.randint(1, 5)), stds[i])
    return stds


@pytest.fixture
def prefixes(new_prefix: Callable[[], str]) -> tuple[str, str]:
    """Two prefixes of this test's own, one per engine; their keys are deleted after."""
    return new_prefix(), new_prefix()


def _engine(client: redis.Redis, prefix: str, **options: Any) -> Engine:
    return Engine(Index.private(client, prefix, **options), default_model(), clock=lambda: NOW,
                  shared=False)


def _relabelled(results: list[Result]) -> list[str]:
    """Each result's JSON with child ids numbered by first appearance."""
    names: dict[str, str] = {}

    def name(m: re.Match[str]) -> str:
        return names.setdefault(m.group(0), f"child-{len(names)}")
    return [CHILD_ID.sub(name, r.model_dump_json()) for r in results]


def _clusters(engine: Engine, results: list[Result]) -> set[frozenset[str]]:
    final = engine.index.resolve_many([r.decision.child_id for r in results])
    groups: dict[str, set[str]] = {}
    for r in results:
        groups.setdefault(final[r.decision.child_id], set()).add(str(r.decision.event_id))
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize("options", [
    {}, {"cap_per_key": 4, "max_candidates": 5},
    {"cap_per_key": 6, "broad_cap_per_key": 1}],
    ids=["default-caps", "small-caps", "broad-caps"])
def test_a_batch_decides_exactly_as_one_at_a_time(redis_client: redis.Redis,
                                                  prefixes: tuple[str, str],
                                                  options: dict[str, Any]) -> None:
    stds = _events(110, 4)
    alone = _engine(redis_client, prefixes[0], **options)
    one_by_one = [alone.process(std) for std in stds]
    batched = _engine(redis_client, prefixes[1], **options)
    rng = random.Random(9)
    many: list[Result | Exception] = []
    while len(many) < len(stds):
        size = rng.choice([1, 2, 7, 40, 200])
        many.extend(batched.process_many(stds[len(many):len(many) + size]))
    assert all(isinstance(r, Result) for r in many)
    results = [r for r in many if isinstance(r, Result)]
    outcomes = {r.decision.outcome.value for r in one_by_one}
    assert {"linked", "new_child", "review", "merged"} <= outcomes  # the paths are exercised
    assert _relabelled(results) == _relabelled(one_by_one)
    assert _clusters(batched, results) == _clusters(alone, one_by_one)
    assert batched.index.r.get(batched.index.k.seq) is not None


def test_an_event_the_engine_raises_on_is_given_back_and_the_batch_goes_on(
        redis_client: redis.Redis, prefixes: tuple[str, str]) -> None:
    stds = _events(12, 2)[:60]
    poison = stds[30]
    redis_client.set(Keys(prefixes[1]).event(str(poison.event.event_id)), "{broken")
    alone = _engine(redis_client, prefixes[0])
    expected = [alone.process(s) for s in stds if s is not poison]
    batched = _engine(redis_client, prefixes[1])
    many = batched.process_many(stds)
    assert isinstance(many[30], ValueError)  # pydantic's ValidationError is a ValueError
    assert [isinstance(r, Exception) for r in many] == [s is poison for s in stds]
    got = [r for r in many if isinstance(r, Result)]
    assert _relabelled(got) == _relabelled(expected)


def _namesake_stream() -> list[StandardisedEvent]:
    """A child's record, two namesakes (the same name, born elsewhen, living elsewhere), then
    the child again with a mistyped birth date and a new address: it shares only broad keys
    (the name alone) with the child's first record, which is the oldest member there."""
    first = make_standardised(given="Olivia", family="Brown", dob="2015-01-01",
                              postcode="AB1 1AA", line="1 High Street", town="Aberdeen",
                              carer=("Jane", "Brown"), record_id="S1")
    namesakes = [make_standardised(given="Olivia", family="Brown", dob=dob, postcode=pc,
                                   line=line, town=town, carer=carer, record_id=rid,
                                   agency_id="school-9", practitioner="t-9")
                 for dob, pc, line, town, carer, rid in [
                     ("2011-05-20", "M1 1AA", "9 Mill Lane", "Manchester", ("Ann", "Jones"), "N1"),
                     ("2012-08-30", "L2 2BB", "3 Dock Road", "Liverpool", ("Sue", "Khan"), "N2")]]
    again = make_standardised(given="Olivia", family="Brown", dob="2015-01-07",
                              postcode="EH1 1AB", line="7 Castle Wynd", town="Edinburgh",
                              carer=("Jane", "Brown"), agency_id="gp-1", agency_kind="gp",
                              record_id="G1", practitioner="gp-1")
    return [first, *namesakes, again]


@pytest.mark.parametrize("broad", [50, 1])
def test_a_broad_key_reads_its_newest_members_in_a_batch_as_alone(
        redis_client: redis.Redis, prefixes: tuple[str, str], broad: int) -> None:
    stds = _namesake_stream()
    alone = _engine(redis_client, prefixes[0], broad_cap_per_key=broad)
    one_by_one = [alone.process(std) for std in stds]
    batched = _engine(redis_client, prefixes[1], broad_cap_per_key=broad)
    many = batched.process_many(stds)
    assert all(isinstance(r, Result) for r in many)
    assert _relabelled([r for r in many if isinstance(r, Result)]) == _relabelled(one_by_one)
    first, again = one_by_one[0].decision, one_by_one[-1].decision
    met = again.candidate_child_id == first.child_id or again.child_id == first.child_id
    # Read whole, the name key holds the child's first record; read 1 deep, only a namesake.
    assert met is (broad == 50), (again.outcome, again.score)
