"""`signpost rebuild` makes the matcher's Redis store again from `contact.events`: the same
children as the live run, into a fresh prefix; and in place after the store was lost, after
which a matcher goes on linking new events to the rebuilt children.

Live: ingest and matcher processes over one partition, so the rebuild replays the events in
exactly the live order and must give exactly the live children. (Over several partitions the
rebuild merges them by timestamp; records one ingest batch wrote share a millisecond, and
which of those a live matcher took first is not in the log, so a few borderline children can
come out differently, as they can between two live runs; see test_scale_out.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from signpost.demo import demo_dataset
from signpost.kafka import ensure_topics
from signpost.settings import CommonSettings
from tests.support.pipeline import (
    ServiceProcess,
    TopicLog,
    check_one_decision_each,
    clusters_from_file,
    clusters_from_links,
    publish_signed,
    service_env,
    signing_keys,
)
from tests.support.wait import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

CHILDREN = 75  # x4 events


def _rebuild(values: dict[str, str], *args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-m", "signpost.cli", "rebuild", "--idle-s", "2",
                           *args], env=os.environ | values, capture_output=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    report: dict[str, object] = json.loads(done.stdout)
    return report


def test_rebuild_gives_the_live_children_and_a_usable_store(
    env: dict[str, str], tmp_path: Path, redis_client: redis.Redis
) -> None:
    settings = CommonSettings(kafka_bootstrap=env["SIGNPOST_KAFKA_BOOTSTRAP"],
                              topic_prefix=env["SIGNPOST_TOPIC_PREFIX"], partitions=1)
    ensure_topics(settings)
    events = demo_dataset(CHILDREN + 1, seed=21)[0]
    live, later = events[: CHILDREN * 4], events[CHILDREN * 4:]
    keys = signing_keys(events)
    values = service_env(env, keys)
    ingest = ServiceProcess("ingest", values, tmp_path).start()
    matcher = ServiceProcess("matcher", values, tmp_path).start()
    links = TopicLog(settings.kafka_bootstrap, settings.topics.links)
    try:
        publish_signed(settings, live[:1], keys)  # the group has joined once this is linked
        wait_until(lambda: len(links.decisions()) == 1, timeout_s=60)
        publish_signed(settings, live[1:], keys)
        wait_until(lambda: len(links.decisions()) >= len(live), timeout_s=60)
        assert matcher.stop() == 0  # the procedure: matchers stopped while rebuilding

        out = tmp_path / "rebuilt.jsonl"
        fresh = f"{env['SIGNPOST_KEY_PREFIX']}-rebuilt"
        report = _rebuild(values, "--prefix", fresh, "--out", str(out))
        live_clusters = clusters_from_links(links.values)
        assert report["events"] == len(live) and report["dead_lettered"] == 0, report
        assert report["children"] == len(live_clusters)
        assert clusters_from_file(out) == live_clusters

        # Redis lost the matcher's store (the key store, in its own Redis in production, not)
        prefix = env["SIGNPOST_KEY_PREFIX"]
        lost = list(redis_client.scan_iter(match=f"{{{prefix}}}:m:*", count=1000))
        redis_client.delete(*lost)
        in_place = tmp_path / "in_place.jsonl"
        assert _rebuild(values, "--out", str(in_place))["events"] == len(live)
        assert clusters_from_file(in_place) == live_clusters

        matcher.start()  # on the rebuilt store: new events still find their children
        publish_signed(settings, later, keys)
        wait_until(lambda: len(links.decisions()) >= len(events), timeout_s=60)
    finally:
        links.close()
        ingest.stop()
        matcher.stop()
    check_one_decision_each([e["event_id"] for e in events], links.decisions())
    rebuilt_child = {json.loads(line)["decided_child_id"]: json.loads(line)["child_id"]
                     for line in in_place.read_text("utf-8").splitlines()}
    linked = [json.loads(next(iter(links.decisions()[e["event_id"]]))) for e in later]
    known = [d for d in linked if d["outcome"] in {"linked", "merged"}]
    assert known, "no later event linked to a rebuilt child"
    assert all(d["child_id"] in set(rebuilt_child.values()) | set(rebuilt_child) for d in known)
    print(f"rebuild: {report}; later events: {[d['outcome'] for d in linked]}")
