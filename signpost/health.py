"""The one place a process keeps what its /healthz reports: ok, or degraded and why.

Parts of a service (its Kafka loop, probes of the brokers and of Redis) mark a named check
ok or failing; /healthz answers 200 either way (the process is alive, and restarting it
would not bring a server back) with `"status": "degraded"` and the failing checks while any
check fails.
Check names and problems are fixed words: never a value from a message.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Sequence

import redis
from prometheus_client import Gauge

__all__ = ["HEALTH", "Health", "Probe", "broker_probe", "parse_bootstrap", "redis_probe",
           "redis_probes"]

logger = logging.getLogger(__name__)

PROBE_INTERVAL_S = 1.0
PROBE_TIMEOUT_S = 1.0

DEGRADED = Gauge("signpost_health_degraded", "1 while the named check fails, else 0", ["check"])


class Health:
    """Named checks of one process: each ok, or failing with a short fixed reason."""

    def __init__(self) -> None:
        self._failing: dict[str, str] = {}
        self._lock = threading.Lock()

    def ok(self, check: str) -> None:
        with self._lock:
            was = self._failing.pop(check, None)
        DEGRADED.labels(check).set(0)
        if was is not None:
            logger.warning("health: %s recovered", check)

    def failing(self, check: str, problem: str) -> None:
        with self._lock:
            was = self._failing.get(check)
            self._failing[check] = problem
        DEGRADED.labels(check).set(1)
        if was != problem:
            logger.warning("health: %s %s", check, problem)

    def forget(self, check: str) -> None:
        """The part that owned the check stopped: it no longer counts either way."""
        with self._lock:
            self._failing.pop(check, None)
        with contextlib.suppress(KeyError):
            DEGRADED.remove(check)

    def report(self, service: str) -> dict[str, object]:
        """What /healthz answers."""
        with self._lock:
            failing = dict(sorted(self._failing.items()))
        return {"status": "degraded" if failing else "ok", "service": service,
                "failing": failing}


#: The process's one health registry.
HEALTH = Health()


def parse_bootstrap(bootstrap: str | Sequence[str]) -> list[tuple[str, int]]:
    """'h1:9092,h2:9092' (or a list of 'host:port') -> [(host, port), ...]."""
    items = bootstrap.split(",") if isinstance(bootstrap, str) else list(bootstrap)
    out = []
    for item in items:
        host, _, port = item.strip().rpartition(":")
        out.append((host.strip("[]") or "127.0.0.1", int(port or 9092)))
    return out


def _reachable(servers: list[tuple[str, int]]) -> bool:
    for host, port in servers:
        try:
            with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
                return True
        except OSError:
            continue
    return False


class Probe:
    """A daemon thread that marks `check` failing with `problem` (fixed words) while
    `is_up()` is false, asked every second. The clients reconnect by themselves, with
    backoff; a probe only says so on /healthz and `signpost_health_degraded`, also while the
    service has nothing to do (an idle service's batches would not notice)."""

    def __init__(self, check: str, is_up: Callable[[], bool], problem: str,
                 stop: threading.Event, health: Health = HEALTH) -> None:
        self.check = check
        self.is_up = is_up
        self.problem = problem
        self.stop = stop
        self.health = health
        self._thread = threading.Thread(target=self._run, name=f"probe-{check}", daemon=True)

    def start(self) -> Probe:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.is_set():
            if self.is_up():
                self.health.ok(self.check)
            else:
                self.health.failing(self.check, self.problem)
            self.stop.wait(PROBE_INTERVAL_S)
        self.health.forget(self.check)


def broker_probe(bootstrap: str | Sequence[str], check: str, stop: threading.Event,
                 health: Health = HEALTH) -> Probe:
    """Failing ("broker unreachable") while no bootstrap server accepts a TCP connection."""
    servers = parse_bootstrap(bootstrap)
    return Probe(check, lambda: _reachable(servers), "broker unreachable", stop, health)


def redis_probe(url: str, check: str, stop: threading.Event, health: Health = HEALTH) -> Probe:
    """Failing ("redis unreachable") while the Redis at `url` does not answer PING: away, or
    still loading its data after a restart (on a client of the probe's own, whose timeouts
    bound how long one probe waits)."""
    client = redis.Redis.from_url(url, socket_timeout=PROBE_TIMEOUT_S,
                                  socket_connect_timeout=PROBE_TIMEOUT_S)

    def pings() -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    return Probe(check, pings, "redis unreachable", stop, health)


def redis_probes(service: str, stop: threading.Event, *, store: str | None = None,
                 keystore: str | None = None) -> None:
    """Probe the Redis servers a service uses, one probe per server: `<service>.redis` (the
    entity store, or the notifier's ledger) and `<service>.keystore` (the data keys), the
    latter only where it is a server of its own."""
    for name, url in (("redis", store), ("keystore", keystore if keystore != store else None)):
        if url:
            redis_probe(url, f"{service}.{name}", stop).start()
