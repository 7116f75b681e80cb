"""kill -9 the ingest, the matcher and the notifier at random points of a stream, start each
again, and check the outputs against what was sent:

- every event has exactly one link: one distinct decision per event id on `child.links`
  (a batch replayed after a crash may repeat a decision on the topic, identical byte for byte,
  because the matcher returns the stored result of an event it already decided);
- every alert (distinct alert id on `alerts`, repeats identical) reaches the webhook for each
  of its practitioners: none missing;
- none is delivered twice: one delivery per idempotency key; a POST in flight at a notifier
  kill may arrive again after the restart, with the same key and the same body (which is how
  a receiver shows it once), at most once per delivery worker per notifier kill;
- nothing went to a DLQ.

Services run as processes (`python -m signpost.cli <service>`), the stream is published at a
steady rate while the kills happen. SIGNPOST_FAULT_EVENTS (default 2000),
SIGNPOST_FAULT_ROUNDS (kills of each service, default 1) and SIGNPOST_FAULT_SEED change it;
`SIGNPOST_FAULT_EVENTS=20000 SIGNPOST_FAULT_ROUNDS=5` is the long run.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from pathlib import Path

import pytest

from signpost.demo import demo_dataset
from signpost.kafka import ensure_topics
from signpost.settings import CommonSettings
from tests.support.pipeline import (
    FaultRun,
    check_delivered_once,
    check_one_decision_each,
    deliveries_expected,
    delivery_key,
    publish_signed,
)
from tests.support.wait import wait_until

EVENTS = int(os.environ.get("SIGNPOST_FAULT_EVENTS", "2000"))
ROUNDS = int(os.environ.get("SIGNPOST_FAULT_ROUNDS", "1"))
SEED = int(os.environ.get("SIGNPOST_FAULT_SEED", str(random.randrange(10**6))))
RATE_PER_S = 150.0  # offered load: below the pipeline's pace, so kills land mid-stream
WORKERS = 2  # notifier delivery workers: the most POSTs in flight at a kill
SERVICES = ("ingest", "matcher", "notifier")
DELIVERIES_PER_EVENT = 0.6  # webhooks per demo event, about: how far the notifier has got
# A matcher killed while it holds the matchers' Redis lock holds everyone up until the lock
# times out (services/matcher/index.py MATCHER_LOCK_TIMEOUT_S, 10 s): allowed for per kill,
# with room to spare.
DRAIN_S = 60.0 + 35.0 * ROUNDS

pytestmark = [pytest.mark.integration,
              pytest.mark.timeout(int(EVENTS / RATE_PER_S + DRAIN_S * 2 + 60))]


def _kill_plan(rng: random.Random) -> list[tuple[float, str]]:
    """(share of its own work done, service) at which to kill: each service ROUNDS times, at
    random points between 5% and 90% of what it has to do."""
    return sorted((rng.uniform(0.05, 0.9), s) for s in SERVICES for _ in range(ROUNDS))


def test_kill_9_each_service_mid_stream_loses_and_duplicates_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    env = env | {"SIGNPOST_PARTITIONS": "3", "SIGNPOST_DELIVERY_WORKERS": str(WORKERS)}
    settings = CommonSettings(kafka_bootstrap=env["SIGNPOST_KAFKA_BOOTSTRAP"],
                              topic_prefix=env["SIGNPOST_TOPIC_PREFIX"], partitions=3)
    ensure_topics(settings)
    events, _ = demo_dataset(max(1, EVENTS // 4), seed=SEED)
    run = FaultRun.start(env, events, settings, tmp_path, SERVICES)
    keys, receiver, services, links, alerts = (run.keys, run.receiver, run.services, run.links,
                                               run.alerts)
    accepted = run.log(settings.topics.events)  # ingest's output
    dlqs = [run.log(t) for t in (settings.topics.events_dlq, settings.topics.alerts_dlq)]
    kills: list[str] = []
    feeder = threading.Thread(target=publish_signed, args=(settings, events, keys, RATE_PER_S),
                              daemon=True)
    ids = [e["event_id"] for e in events]
    try:
        feeder.start()
        done = {"ingest": lambda: len(accepted.values) / len(events),
                "matcher": lambda: len(links.decisions()) / len(events),
                "notifier": lambda: len(receiver.received) / (DELIVERIES_PER_EVENT * len(events))}
        # Each service is killed on its own clock: one waiting for its next share does not
        # hold up another's kills (a matcher killed holding the lock stalls links for 10 s,
        # while the ingest goes on), so every kill lands while its service still has work.
        # The processes are started from this thread: a child dies with the thread that
        # started it (tests.support.pipeline.die_with_parent).
        plan = _kill_plan(rng)
        due = {name: [s for s, n in plan if n == name] for name in SERVICES}
        deadline = time.monotonic() + DRAIN_S * ROUNDS
        while any(due.values()):
            assert time.monotonic() < deadline, f"kills not all made: {kills}, due {due}"
            for name, shares in due.items():
                if shares and done[name]() >= shares[0]:
                    shares.pop(0)
                    services[name].kill()
                    kills.append(f"{name}@{done[name]():.0%}")
                    time.sleep(rng.uniform(0.0, 1.0))
                    services[name].start()
            time.sleep(0.2)
        feeder.join(timeout=60)
        wait_until(lambda: set(links.decisions()) >= set(ids), timeout_s=DRAIN_S)
        # The alerts log may still be catching up with the topic: what is wanted is read
        # again on every check, and once more when everything has settled.
        wait_until(lambda: {delivery_key(r) for r in receiver.received}
                   >= deliveries_expected(alerts.values), timeout_s=DRAIN_S)
        time.sleep(2.0)  # stragglers: anything more would be a duplicate
    finally:
        codes = run.stop()
    wanted = deliveries_expected(alerts.values)
    print(f"seed {SEED}: {len(events)} events, kills (service@its share done): {kills}")

    check_one_decision_each(ids, links.decisions())
    by_alert: dict[str, set[bytes]] = {}
    for value in alerts.values:
        by_alert.setdefault(_alert_id(value), set()).add(value)
    assert all(len(v) == 1 for v in by_alert.values()), "one alert id, different alerts"
    replays = check_delivered_once(receiver.received, wanted, max_replays=WORKERS * ROUNDS)
    print(f"{len(by_alert)} alerts, {len(wanted)} webhooks, replays of in-flight POSTs: "
          f"{replays}")
    assert [len(log.values) for log in dlqs] == [0, 0], "something was dead-lettered"
    assert all(c == 0 for c in codes.values()), codes


def _alert_id(value: bytes) -> str:
    return str(json.loads(value)["alert_id"])
