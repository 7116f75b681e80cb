"""The three services as real child processes (`python -m signpost.cli <service>`), events
published signed to `contact.events.raw`, and what came out on the output topics, for fault tests.

Each process can be killed with SIGKILL and started again with the same environment, as an
operator's supervisor would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaConsumer

from signpost.embedded import die_with_parent, free_port
from signpost.kafka import close_consumer, make_producer
from signpost.settings import CommonSettings
from signpost.signing import signed_headers
from tests.support.receiver import WebhookReceiver
from tests.support.wait import wait_until

__all__ = [
    "HTTP_PORT_SETTING",
    "FaultRun",
    "ServiceProcess",
    "TopicLog",
    "healthz",
    "publish_signed",
    "service_env",
    "signing_keys",
]

#: Which setting holds each service's /healthz port.
HTTP_PORT_SETTING = {"ingest": "SIGNPOST_GATEWAY_PORT", "matcher": "SIGNPOST_MATCHER_HTTP_PORT",
                     "notifier": "SIGNPOST_INBOX_PORT"}


def signing_keys(events: Iterable[dict[str, Any]]) -> dict[str, str]:
    """A signing key for each agency of `events` (test keys, not secrets)."""
    return {a: f"signing-key-of-{a}" for a in sorted({e["agency"]["id"] for e in events})}


def service_env(env: dict[str, str], keys: dict[str, str], webhook_url: str | None = None,
                **extra: str) -> dict[str, str]:
    """The test's SIGNPOST_* values plus what every service process needs."""
    values = {
        **env,
        "SIGNPOST_AGENCY_SIGNING_KEYS": json.dumps(keys),
        "SIGNPOST_BLOCKING_SECRET": "fault-blocking-secret",
        "SIGNPOST_WEBHOOK_SECRET": "fault-webhook-secret",
        "SIGNPOST_TOKEN_SECRET": "fault-token-secret",
        "SIGNPOST_FOLD_WINDOW_S": "0",  # every alert delivered as itself: countable
        "SIGNPOST_ESCALATE_AFTER_S": "0",
        "SIGNPOST_WEBHOOK_TIMEOUT_S": "2",
        "SIGNPOST_LOG_LEVEL": "WARNING",
    }
    if webhook_url is not None:
        values["SIGNPOST_WEBHOOK_URL"] = webhook_url
    return values | extra


@dataclass
class ServiceProcess:
    """One service as its own process; `kill()` is SIGKILL, `start()` runs it again."""

    service: str
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        self.starts += 1
        values = os.environ | self.env | {HTTP_PORT_SETTING[self.service]: str(self.port)}
        log = (self.log_dir / f"{self.service}-{self.port}-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "signpost.cli", self.service], env=values,
            stdout=subprocess.DEVNULL, stderr=log, preexec_fn=die_with_parent)
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL: no clean-up, no last commit, as a crash or an OOM kill."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int | None:
        """SIGTERM and wait; the exit code (None if it had to be killed)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:]
                         for p in sorted(self.log_dir.glob(f"{self.service}-{self.port}-*.log")))


def healthz(service: ServiceProcess) -> dict[str, Any] | None:
    """The service's /healthz answer, or None if it does not answer."""
    try:
        answer = httpx.get(f"{service.url}/healthz", timeout=2)
    except httpx.TransportError:
        return None
    return answer.json() if answer.status_code == 200 else None


def failing(service: ServiceProcess, check: str) -> dict[str, Any] | None:
    """The service's /healthz report once it names `check` among its failing checks (it
    then says degraded; another check, a failed poll say, may fail a moment before)."""
    report = healthz(service)
    return report if report and check in report.get("failing", {}) else None


def wait_all_ok(services: Iterable[ServiceProcess], timeout_s: float = 30) -> None:
    """Until every service's /healthz says ok."""
    for service in services:
        wait_until(lambda s=service: (healthz(s) or {}).get("status") == "ok",
                   timeout_s=timeout_s)


def publish_signed(settings: CommonSettings, events: Iterable[dict[str, Any]],
                   keys: dict[str, str], rate: float | None = None) -> int:
    """Send events to `contact.events.raw`, each signed by its agency, at `rate` per second
    (None: at once). Waits for the acks."""
    producer = make_producer(settings)
    sent = 0
    started = time.monotonic()
    try:
        for event in events:
            if rate is not None:
                time.sleep(max(0.0, started + sent / rate - time.monotonic()))
            raw = json.dumps(event).encode()
            agency = event["agency"]["id"]
            producer.send(settings.topics.raw, value=raw,
                          headers=signed_headers(agency, keys[agency], raw))
            sent += 1
        producer.flush()
    finally:
        producer.close()
    return sent


class TopicLog:
    """Reads a topic from its start on a thread, keeping every value (duplicates too)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.values: list[bytes] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                       auto_offset_reset="earliest",
                                       reconnect_backoff_max_ms=1000)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            got = self._consumer.poll(timeout_ms=200)
            with self._lock:
                self.values.extend(r.value for batch in got.values() for r in batch)
        close_consumer(self._consumer)

    def decisions(self) -> dict[str, set[bytes]]:
        """event id -> the distinct decision messages about it (exactly one each, if right)."""
        out: dict[str, set[bytes]] = {}
        with self._lock:
            values = list(self.values)
        for value in values:
            out.setdefault(json.loads(value)["event_id"], set()).add(value)
        return out

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def deliveries_expected(alert_values: Iterable[bytes]) -> set[str]:
    """Idempotency keys ("<alert_id>:<recipient_id>") of every webhook the alerts call for:
    each practitioner recipient of each distinct alert (the services run with a default
    webhook URL, no folding and no escalation)."""
    keys = set()
    for value in alert_values:
        alert = json.loads(value)
        keys |= {f"{alert['alert_id']}:{r['id']}" for r in alert["recipients"]
                 if r["kind"] == "practitioner"}
    return keys


def check_one_decision_each(event_ids: Iterable[str], decisions: dict[str, set[bytes]]) -> None:
    """Exactly one distinct decision per event: none missing, none for an unknown event, and
    any repeat on the topic (a batch replayed after a crash) identical to the first."""
    wanted = set(event_ids)
    missing = wanted - set(decisions)
    extra = set(decisions) - wanted
    conflicting = {e: len(v) for e, v in decisions.items() if len(v) > 1}
    assert not missing, f"{len(missing)} events without a link"
    assert not extra, f"{len(extra)} links for events never sent"
    assert not conflicting, f"events with different decisions: {conflicting}"


__all__ += ["check_one_decision_each", "deliveries_expected"]


def clusters_from_links(values: Iterable[bytes]) -> set[frozenset[str]]:
    """The events grouped by child at the end, from `child.links` alone: a `merged` decision
    makes its child and every merged child one (child ids are random, so runs are compared
    by these groups, never by id)."""
    parent: dict[str, str] = {}

    def root(c: str) -> str:
        while parent.setdefault(c, c) != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    child_of: dict[str, str] = {}
    for value in values:
        d = json.loads(value)
        child_of[d["event_id"]] = d["child_id"]
        for other in d.get("merged_child_ids") or []:
            parent[root(other)] = root(d["child_id"])
    groups: dict[str, set[str]] = {}
    for event_id, child in child_of.items():
        groups.setdefault(root(child), set()).add(event_id)
    return {frozenset(g) for g in groups.values()}


def fresh_env(env: dict[str, str]) -> dict[str, str]:
    """The same SIGNPOST_* values with a new tag: other topics, groups and key prefix."""
    old = env["SIGNPOST_KEY_PREFIX"]
    new = f"t{uuid.uuid4().hex[:10]}"
    return {k: v.replace(old, new) for k, v in env.items()}


__all__ += ["clusters_from_links", "fresh_env"]


def clusters_from_file(path: Path) -> set[frozenset[str]]:
    """The events grouped by child from a `match-file` or `rebuild --out` file."""
    groups: dict[str, set[str]] = {}
    for line in path.read_text("utf-8").splitlines():
        row = json.loads(line)
        groups.setdefault(row["child_id"], set()).add(row["event_id"])
    return {frozenset(g) for g in groups.values()}


__all__ += ["clusters_from_file"]


def delivery_key(received: Any) -> str:
    """A webhook request's Idempotency-Key ("<alert_id>:<recipient_id>")."""
    return str(received.headers["idempotency-key"])


def check_delivered_once(received: Iterable[Any], wanted: set[str],
                         max_replays: int) -> dict[str, int]:
    """Every wanted webhook arrived, and none twice, except a POST in flight when a process
    or a server went (the sender cannot know it arrived): at most `max_replays` of those,
    each at most once more with the same body (a receiver keeping keys shows it once).
    Gives the replays (key -> times it arrived)."""
    received = list(received)
    deliveries = Counter(delivery_key(r) for r in received)
    assert set(deliveries) == wanted, (f"{len(wanted - set(deliveries))} alerts missing, "
                                       f"{len(set(deliveries) - wanted)} not wanted")
    replays = {k: n for k, n in deliveries.items() if n > 1}
    assert len(replays) <= max_replays and all(n == 2 for n in replays.values()), replays
    for key in replays:
        assert len({r.body for r in received if delivery_key(r) == key}) == 1, key
    return replays


@dataclass
class FaultRun:
    """What a fault test runs: the three services as processes, signed for the events'
    agencies and posting to one webhook receiver, and logs of `child.links`, `alerts` and any
    other topic asked for (`log`). Started from the calling thread (die_with_parent)."""

    keys: dict[str, str]
    receiver: WebhookReceiver
    services: dict[str, ServiceProcess]
    links: TopicLog
    alerts: TopicLog
    bootstrap: str
    _logs: list[TopicLog] = field(default_factory=list)

    @classmethod
    def start(cls, env: dict[str, str], events: Iterable[dict[str, Any]],
              settings: CommonSettings, tmp_path: Path,
              names: Iterable[str] = ("ingest", "matcher", "notifier")) -> FaultRun:
        keys = signing_keys(events)
        receiver = WebhookReceiver().start()
        values = service_env(env, keys, receiver.url)
        services = {name: ServiceProcess(name, values, tmp_path).start() for name in names}
        bootstrap = settings.kafka_bootstrap
        links = TopicLog(bootstrap, settings.topics.links)
        alerts = TopicLog(bootstrap, settings.topics.alerts)
        return cls(keys, receiver, services, links, alerts, bootstrap, [links, alerts])

    def log(self, topic: str) -> TopicLog:
        """A log of one more topic, closed with the others."""
        log = TopicLog(self.bootstrap, topic)
        self._logs.append(log)
        return log

    def stop(self) -> dict[str, int | None]:
        """Close the logs, stop the services and the receiver; each service's exit code."""
        for log in self._logs:
            log.close()
        codes = {name: s.stop() for name, s in self.services.items()}
        self.receiver.stop()
        return codes

