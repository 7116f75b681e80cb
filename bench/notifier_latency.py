"""Benchmark: time from an alert produced on `alerts` to the webhook receiving it.

The notifier runs as its own process (`python -m signpost.cli notifier`), on the embedded
broker and redis-server (or SIGNPOST_KAFKA_BOOTSTRAP / SIGNPOST_REDIS_URL). This process
produces alerts at a steady rate and runs the local webhook receiver, so both timestamps come
from one clock: t0 just before `producer.send`, t1 when the receiver has read the request.
Prints and writes bench/results/notifier_latency.json. Not a test; not run in CI.

    python bench/notifier_latency.py --rate 200 --seconds 30
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from schemas import Alert, Recipient
from signpost.embedded import start_broker, start_redis
from signpost.kafka import ensure_topics, make_producer
from signpost.settings import CommonSettings

RESULTS = Path(__file__).parent / "results" / "notifier_latency.json"
TARGET_MEDIAN_MS = 50.0
TARGET_P99_MS = 250.0
DRAIN_S = 15.0  # after the last alert, wait this long at most for stragglers


class Receiver:
    """A webhook receiver that notes when each idempotency key first arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.order: list[str] = []  # alert ids in the order they first arrived
        self.posts = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a case system's server would

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                at = time.perf_counter()
                key = self.headers.get("Idempotency-Key", "")
                alert_id = key.partition(":")[0]
                with receiver._lock:
                    receiver.posts += 1
                    if alert_id not in receiver.arrived:
                        receiver.arrived[alert_id] = at
                        receiver.order.append(alert_id)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def _alert(i: int) -> Alert:
    """Alert `i`, about a child of its own (alerts about one child would fold into one)."""
    return Alert(alert_id=uuid.uuid4(), alert_type="new_agency_contact",
                 child_id=f"C{uuid.uuid4().hex[:20]}",
                 event_id=uuid.uuid4(), recipients=[Recipient(kind="practitioner",
                                                               id=f"p-{i % 50}")],
                 agency_kinds=["school", "gp"], shielded=False, created_at=datetime.now(UTC))


def _wait(probe: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if probe():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def _servers(opened: ExitStack, pids: dict[str, int] | None = None) -> tuple[str, str]:
    """The broker's and Redis's addresses: the environment's, else embedded ones started here
    (their process ids put in `pids`, if given, as "broker" and "redis")."""
    bootstrap = os.environ.get("SIGNPOST_KAFKA_BOOTSTRAP")
    redis_url = os.environ.get("SIGNPOST_REDIS_URL")
    started = {}
    if not bootstrap:
        broker = start_broker()
        opened.callback(broker.stop)
        bootstrap, started["broker"] = broker.url, broker.process.pid
    if not redis_url:
        redis = start_redis()
        opened.callback(redis.stop)
        redis_url, started["redis"] = redis.url, redis.process.pid
    if pids is not None:
        pids.update(started)
    return bootstrap, redis_url


def _notifier(env: dict[str, str], receiver: Receiver, workers: int) -> subprocess.Popen[bytes]:
    values = os.environ | env | {
        "SIGNPOST_WEBHOOK_URL": receiver.url, "SIGNPOST_WEBHOOK_SECRET": "bench-secret",
        "SIGNPOST_TOKEN_SECRET": "bench-token", "SIGNPOST_INBOX_PORT": "0",
        "SIGNPOST_DELIVERY_WORKERS": str(workers), "SIGNPOST_ESCALATE_AFTER_S": "0",
        "SIGNPOST_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "signpost.cli", "notifier"], env=values)


def _produce(settings: CommonSettings, rate: float, seconds: float) -> dict[str, float]:
    """Alerts at a steady `rate` for `seconds`; alert id -> perf_counter just before send."""
    producer = make_producer(settings)
    sent: dict[str, float] = {}
    interval = 1.0 / rate
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        due = start + i * interval
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        alert = _alert(i)
        value = alert.model_dump_json().encode()
        sent[str(alert.alert_id)] = time.perf_counter()
        producer.send(settings.topics.alerts, value=value, key=alert.child_id.encode())
    producer.flush()
    producer.close()
    return sent


def _figures(sent: dict[str, float], receiver: Receiver, rate: float, seconds: float,
             workers: int) -> dict[str, object]:
    latencies = sorted((receiver.arrived[a] - t0) * 1000 for a, t0 in sent.items()
                       if a in receiver.arrived)
    q = statistics.quantiles(latencies, n=100)
    return {
        "rate_per_s": rate, "seconds": seconds, "delivery_workers": workers,
        "alerts": len(sent), "delivered": len(latencies), "lost": len(sent) - len(latencies),
        "posts": receiver.posts - 1,  # minus the warm-up alert
        "latency_ms_p50": round(statistics.median(latencies), 2),
        "latency_ms_p90": round(q[89], 2), "latency_ms_p99": round(q[98], 2),
        "latency_ms_max": round(latencies[-1], 2),
        "target_median_ms": TARGET_MEDIAN_MS, "target_p99_ms": TARGET_P99_MS,
        "met": statistics.median(latencies) <= TARGET_MEDIAN_MS and q[98] <= TARGET_P99_MS,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}",
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),  # other work on the machine
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200.0, help="alerts per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=4, help="SIGNPOST_DELIVERY_WORKERS")
    args = parser.parse_args()
    receiver = Receiver()
    with ExitStack() as opened:
        bootstrap, redis_url = _servers(opened)
        tag = uuid.uuid4().hex[:8]
        env = {"SIGNPOST_KAFKA_BOOTSTRAP": bootstrap, "SIGNPOST_REDIS_URL": redis_url,
               "SIGNPOST_TOPIC_PREFIX": f"b{tag}.", "SIGNPOST_KEY_PREFIX": f"b{tag}",
               "SIGNPOST_PARTITIONS": "3"}
        settings = CommonSettings.model_validate({k.removeprefix("SIGNPOST_").lower(): v
                                                  for k, v in env.items()})
        ensure_topics(settings)
        notifier = _notifier(env, receiver, args.workers)
        opened.callback(notifier.wait, 30)
        opened.callback(notifier.terminate)
        warm = _produce(settings, 10.0, 0.1)  # one alert: the group has joined once it lands
        if not _wait(lambda: set(warm) <= set(receiver.arrived), 60):
            sys.exit("the notifier did not deliver the warm-up alert within 60 s")
        sent = _produce(settings, args.rate, args.seconds)
        _wait(lambda: set(sent) <= set(receiver.arrived), DRAIN_S)
        figures = _figures(sent, receiver, args.rate, args.seconds, args.workers)
    print(json.dumps(figures, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
