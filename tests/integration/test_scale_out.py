"""Scale-out: 2 and 3 matcher processes in one consumer group over a 3-partition
`contact.events` make the same children as one matcher given the same events in the same
order.

Each run has its own topics, group and Redis key prefix; the events go through a real ingest
(which seals them and keys them by agency record, so a record's events stay in one partition)
to N `signpost matcher` processes sharing one Redis. The matchers take one Redis lock per
event, so their decisions have one order (`decided_at`); one matcher (`match_file`, the same
engine) then replays the events in that order, and the two are compared as groups of event
ids (child ids are random). Online clustering depends on arrival order: two runs that
interleave the partitions differently can differ in a few borderline children, which the
test prints but does not fail on. Every matcher must have had partitions and made decisions,
or the run did not test scale-out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from services.matcher.settings import MatcherSettings
from signpost.demo import demo_dataset
from signpost.kafka import ensure_topics
from signpost.matchfile import match_file
from signpost.settings import CommonSettings
from tests.support.pipeline import (
    ServiceProcess,
    TopicLog,
    check_one_decision_each,
    clusters_from_file,
    clusters_from_links,
    fresh_env,
    publish_signed,
    service_env,
    signing_keys,
)
from tests.support.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

CHILDREN = 200  # x4 events
PARTITIONS = 3
SEED = 5


@pytest.fixture(scope="module")
def earlier() -> dict[int, set[frozenset[str]]]:
    """Clusters per number of matchers, filled by the parametrised runs in order."""
    return {}


@pytest.fixture
def events() -> Iterator[list[dict[str, object]]]:
    yield demo_dataset(CHILDREN, SEED)[0]


def _partitions(matcher: ServiceProcess, topic: str) -> set[int]:
    """Partitions of `topic` this matcher has now (its lag gauges' labels)."""
    try:
        text = httpx.get(f"{matcher.url}/metrics", timeout=2).text
    except httpx.TransportError:
        return set()
    pattern = re.compile(r'^signpost_consumer_committed_offset\{partition="(\d+)",'
                         r'service="matcher",topic="' + re.escape(topic) + '"}', re.M)
    return {int(p) for p in pattern.findall(text)}


def _decisions(matcher: ServiceProcess) -> float:
    text = httpx.get(f"{matcher.url}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("signpost_matcher_decisions_total{"))


@pytest.mark.parametrize("matchers", [2, 3])
def test_n_matchers_make_the_same_children_as_one(
    matchers: int, env: dict[str, str], tmp_path: Path, events: list[dict[str, object]],
    earlier: dict[int, set[frozenset[str]]]
) -> None:
    run_env = fresh_env(env) | {"SIGNPOST_PARTITIONS": str(PARTITIONS)}
    settings = CommonSettings(kafka_bootstrap=run_env["SIGNPOST_KAFKA_BOOTSTRAP"],
                              topic_prefix=run_env["SIGNPOST_TOPIC_PREFIX"],
                              partitions=PARTITIONS)
    ensure_topics(settings)
    keys = signing_keys(events)  # type: ignore[arg-type]
    values = service_env(run_env, keys)
    ingest = ServiceProcess("ingest", values, tmp_path).start()
    group = [ServiceProcess("matcher", values, tmp_path).start() for _ in range(matchers)]
    links = TopicLog(settings.kafka_bootstrap, settings.topics.links)
    topic = settings.topics.events
    try:
        def settled() -> bool:  # every matcher has partitions, none shared, all covered
            held = [_partitions(m, topic) for m in group]
            return all(held) and sum(map(len, held)) == PARTITIONS and \
                set().union(*held) == set(range(PARTITIONS))
        wait_until(settled, timeout_s=60, interval_s=0.3)
        publish_signed(settings, events, keys)  # type: ignore[arg-type]
        ids = [str(e["event_id"]) for e in events]
        wait_until(lambda: set(links.decisions()) >= set(ids), timeout_s=120)
        per_matcher = [_decisions(m) for m in group]
    finally:
        links.close()
        codes = [m.stop() for m in [ingest, *group]]

    check_one_decision_each(ids, links.decisions())
    assert all(n > 0 for n in per_matcher), f"a matcher decided nothing: {per_matcher}"
    assert codes == [0] * (matchers + 1), codes
    clusters = clusters_from_links(links.values)
    one = _one_matcher_in_the_same_order(events, links.values, run_env, tmp_path)
    others = {n: len(clusters ^ c) for n, c in earlier.items()}
    earlier[matchers] = clusters
    print(f"{matchers} matchers: decisions per process {per_matcher}, {len(clusters)} children "
          f"from {len(ids)} events; children not in other runs (other arrival order): {others}")
    assert clusters == one, _difference(clusters, one)


def _one_matcher_in_the_same_order(events: list[dict[str, object]], links: list[bytes],
                                   env: dict[str, str], tmp_path: Path) -> set[frozenset[str]]:
    """One matcher over the events in the order the matchers decided them."""
    order = sorted({json.loads(v)["event_id"]: json.loads(v)["decided_at"] for v in links}
                   .items(), key=lambda item: item[1])
    by_id = {str(e["event_id"]): e for e in events}
    ordered, out = tmp_path / "ordered.jsonl", tmp_path / "one.jsonl"
    ordered.write_text("".join(json.dumps(by_id[i]) + "\n" for i, _ in order), "utf-8")
    settings = MatcherSettings(redis_url=env["SIGNPOST_REDIS_URL"], environment="test",
                               blocking_secret=SecretStr("one-matcher"))
    match_file(ordered, out, settings)
    return clusters_from_file(out)


def _difference(got: set[frozenset[str]], want: set[frozenset[str]]) -> str:
    return (f"{len(got - want)} children differ from one matcher's "
            f"({len(want - got)} of its children not found)")
