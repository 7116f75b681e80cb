"""Benchmark: the notifier's CPU time per alert, on all its channels, at full speed.

The notifier runs as its own process (`python -m signpost.cli notifier`, 4 delivery workers)
on the embedded broker and redis-server (or SIGNPOST_KAFKA_BOOTSTRAP / SIGNPOST_REDIS_URL),
`alerts` with 3 partitions. This process runs a webhook receiver and an SMTP server
(aiosmtpd), waits until one warm-up alert is delivered, then produces `--alerts` alerts
shaped as the matcher makes them (to leads with an escalation plan, to the newcomer, to the
review queue; a decision's alerts share its child, so when the newcomer is also a lead the
two fold into one notice, which the wanted count allows for) as fast as it can (or at
`--rate` per second), and waits until every webhook and e-mail has arrived. The figure is
the notifier process's user + system CPU time (/proc) over that stretch, per alert and per
delivery; a few seconds later it checks that nothing arrived twice. Prints and writes
bench/results/notifier_cpu.json. Not a test; not run in CI.

    python bench/notifier_cpu.py --alerts 2000            # webhook and e-mail, full speed
    python bench/notifier_cpu.py --alerts 2000 --no-smtp  # webhooks only, as bench/e2e.py
    python bench/notifier_cpu.py --alerts 1000 --rate 50  # a steady trickle
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from engine import machine
from notifier_latency import Receiver, _servers, _wait

from schemas import Alert, Escalation, PractitionerContact, Recipient
from services.notifier.ledger import fold_digest
from signpost.embedded import free_port
from signpost.kafka import ensure_topics, make_producer
from signpost.settings import CommonSettings

RESULTS = Path(__file__).parent / "results" / "notifier_cpu.json"
KINDS = ("social_care", "police", "health_visitor", "gp", "hospital", "school")
REVIEW = Recipient(kind="operators", id="review")
DRAIN_S = 120.0
SETTLE_S = 3.0  # after the last delivery: anything arriving now is a duplicate


class Sink:
    """aiosmtpd handler counting the messages it is given."""

    def __init__(self) -> None:
        self.messages = 0
        self._lock = threading.Lock()

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        with self._lock:
            self.messages += 1
        return "250 OK"


def _practitioner(rng: random.Random) -> tuple[Recipient, PractitionerContact]:
    n, kind = rng.randrange(400), rng.choice(KINDS)
    pid, agency = f"{kind[:2]}-{n}", f"{kind}-{n % 7}"
    email = f"{pid}@{agency}.example"
    return (Recipient(kind="practitioner", id=pid, email=email, agency_id=agency),
            PractitionerContact(practitioner_id=pid, name=f"Practitioner {n}", role="Lead",
                                email=email, phone="020 7946 0000", agency_kind=kind))


def make_alerts(count: int, seed: int) -> list[Alert]:
    """`count` alerts as the matcher raises them for one decision at a time: review (1 in 6),
    else one to the child's leads (1-2, escalation chain of 0-3) and one to the newcomer."""
    rng = random.Random(seed)
    alerts: list[Alert] = []
    while len(alerts) < count:
        child, event = f"C{rng.getrandbits(80):020x}", uuid.UUID(int=rng.getrandbits(128))
        now = datetime.now(UTC)
        kinds = sorted(rng.sample(KINDS, 2))
        common: dict[str, Any] = {"child_id": child, "event_id": event, "agency_kinds": kinds,
                                  "created_at": now, "shielded": rng.random() < 0.03}
        if rng.random() < 1 / 6:
            alerts.append(Alert(alert_id=uuid.UUID(int=rng.getrandbits(128)),
                                alert_type="review_needed", recipients=[REVIEW], **common))
            continue
        leads = [_practitioner(rng) for _ in range(rng.choice((1, 1, 2)))]
        chain = [_practitioner(rng)[0] for _ in range(rng.randrange(4))]
        newcomer = _practitioner(rng)
        discrepancies = ["address"] if rng.random() < 0.3 else []
        kind = "identity_discrepancy" if discrepancies else "new_agency_contact"
        alerts.append(Alert(alert_id=uuid.UUID(int=rng.getrandbits(128)), alert_type=kind,
                            recipients=[r for r, _ in leads], contacts=[newcomer[1]],
                            discrepancies=discrepancies, escalation=Escalation(chain=chain),
                            **common))
        alerts.append(Alert(alert_id=uuid.UUID(int=rng.getrandbits(128)), alert_type=kind,
                            recipients=[newcomer[0]], contacts=[c for _, c in leads],
                            discrepancies=discrepancies, **common))
    return alerts[:count]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _produce(settings: CommonSettings, values: list[tuple[bytes, bytes]],
             rate: float | None = None) -> None:
    """Send `values` (key, value) to `alerts`, at `rate` per second (None: at once)."""
    producer = make_producer(settings)
    start = time.perf_counter()
    for i, (key, value) in enumerate(values):
        if rate is not None:
            pause = start + i / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        producer.send(settings.topics.alerts, value=value, key=key)
    producer.flush()
    producer.close()


def _notifier(env: dict[str, str], workers: int) -> subprocess.Popen[bytes]:
    values = os.environ | env | {"SIGNPOST_DELIVERY_WORKERS": str(workers),
                                 "SIGNPOST_INBOX_PORT": "0", "SIGNPOST_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "signpost.cli", "notifier"], env=values)


def run(count: int, workers: int, smtp: bool, seed: int,
        rate: float | None = None) -> dict[str, object]:
    alerts = make_alerts(count, seed)
    # One notice per fold (the same recipient, child, type, discrepancies and contacts within
    # the fold window: ledger.fold_digest); random practitioners make a few such pairs
    folds = {fold_digest(a, r): r for a in alerts for r in a.recipients
             if r.kind == "practitioner"}
    want_hooks = len(folds)
    want_mails = sum(1 for r in folds.values() if r.email) if smtp else 0
    values = [(a.child_id.encode(), a.model_dump_json().encode()) for a in alerts]
    receiver, sink = Receiver(), Sink()
    with ExitStack() as opened:
        opened.callback(receiver.server.shutdown)
        bootstrap, redis_url = _servers(opened)
        tag = uuid.uuid4().hex[:8]
        env = {"SIGNPOST_KAFKA_BOOTSTRAP": bootstrap, "SIGNPOST_REDIS_URL": redis_url,
               "SIGNPOST_TOPIC_PREFIX": f"b{tag}.", "SIGNPOST_KEY_PREFIX": f"b{tag}",
               "SIGNPOST_PARTITIONS": "3", "SIGNPOST_NOTIFIER_GROUP": f"b{tag}.notifier",
               "SIGNPOST_WEBHOOK_URL": receiver.url, "SIGNPOST_WEBHOOK_SECRET": "bench-secret",
               "SIGNPOST_TOKEN_SECRET": "bench-token"}
        if smtp:
            port = free_port()
            controller = Controller(sink, hostname="127.0.0.1", port=port)
            controller.start()
            opened.callback(controller.stop)
            env |= {"SIGNPOST_SMTP_HOST": "127.0.0.1", "SIGNPOST_SMTP_PORT": str(port)}
        settings = CommonSettings(kafka_bootstrap=bootstrap, redis_url=redis_url,
                                  topic_prefix=env["SIGNPOST_TOPIC_PREFIX"], partitions=3)
        ensure_topics(settings)
        notifier = _notifier(env, workers)
        opened.callback(notifier.wait, 30)
        opened.callback(notifier.terminate)
        warm = next(a for a in make_alerts(10, seed + 1)  # one webhook, one e-mail
                    if [r.kind for r in a.recipients] == ["practitioner"])
        _produce(settings, [(warm.child_id.encode(), warm.model_dump_json().encode())])
        if not _wait(lambda: receiver.posts >= 1 and sink.messages >= (1 if smtp else 0), 60):
            sys.exit("the notifier did not deliver the warm-up alert within 60 s")
        hooks0, mails0 = receiver.posts, sink.messages
        cpu0, start = cpu_seconds(notifier.pid), time.perf_counter()
        _produce(settings, values, rate)
        done = _wait(lambda: receiver.posts - hooks0 >= want_hooks
                     and sink.messages - mails0 >= want_mails, DRAIN_S)
        cpu, seconds = cpu_seconds(notifier.pid) - cpu0, time.perf_counter() - start
        time.sleep(SETTLE_S)
        hooks, mails = receiver.posts - hooks0, sink.messages - mails0
    return {
        "alerts": count, "offered_per_s": rate or "full speed", "delivery_workers": workers,
        "all_delivered": done,
        "webhooks": {"wanted": want_hooks, "arrived": hooks},
        "emails": {"wanted": want_mails, "arrived": mails},
        "seconds": round(seconds, 2), "alerts_per_s": round(count / seconds, 1),
        "cpu_s": round(cpu, 3), "cpu_ms_per_alert": round(cpu / count * 1000, 3),
        "cpu_ms_per_delivery": round(cpu / max(1, want_hooks + want_mails) * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=2000, help="alerts sent at full speed")
    parser.add_argument("--workers", type=int, default=4, help="SIGNPOST_DELIVERY_WORKERS")
    parser.add_argument("--no-smtp", action="store_true", help="webhooks only (as bench/e2e)")
    parser.add_argument("--rate", type=float, default=None,
                        help="alerts per second (default: as fast as they can be sent)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    figures = {"benchmark": "notifier_cpu",
               **run(args.alerts, args.workers, not args.no_smtp, args.seed, args.rate),
               **machine()}
    print(json.dumps(figures, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
