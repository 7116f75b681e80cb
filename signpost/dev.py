"""`signpost dev`: the embedded default, everything on one machine, no Docker, no root.

Starts the broker and redis-server (unless SIGNPOST_KAFKA_BOOTSTRAP / SIGNPOST_REDIS_URL are
set), creates the topics, runs ingest, matcher and notifier as child processes, feeds demo
events (each signed with its agency's key) to `contact.events.raw`, and prints each alert as
the local webhook receiver gets it, with its signature checked. Ctrl-C stops every process it
started.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from rich.console import Console

from signpost.auth import Role, hash_api_key, issue_token
from signpost.demo import demo_stream
from signpost.embedded import die_with_parent, free_port, running_broker, running_redis
from signpost.kafka import ensure_topics, make_producer
from signpost.settings import CommonSettings, random_secret
from signpost.signing import signed_headers

__all__ = ["run_dev"]

SERVICES = ("ingest", "matcher", "notifier")
CHILD_STOP_TIMEOUT_S = 10.0
DEV_SESSION_TIMEOUT_MS = 3000  # fast first join on the embedded broker
DEMO_AGENCY_SCAN = 2000  # demo events read ahead to find its agencies (all appear in ~100)


class AlertPrinter:
    """A local webhook receiver: checks each signature and prints the alert."""

    def __init__(self, secret: str, console: Console) -> None:
        self.secret = secret
        self.console = console
        self.count = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/alerts"

    def show(self, body: bytes, timestamp: str, signature: str) -> None:
        from services.notifier.webhook import verify

        ok = verify(self.secret, timestamp, body, signature)
        alert: dict[str, Any] = json.loads(body)
        self.count += 1
        contacts = ", ".join(f"{c['role']} ({c['agency_kind']}) {c['email']}"
                             for c in alert.get("contacts", []))
        self.console.print(
            f"[bold green]ALERT[/] {alert['alert_type']:<21} child {alert['child_id']}  "
            f"to {alert['recipient']['id']:<14} agencies: {', '.join(alert['agency_kinds'])}"
            + (f"  differs: {', '.join(alert['discrepancies'])}" if alert["discrepancies"] else "")
            + (f"\n      contact: {contacts}" if contacts else "")
            + ("" if ok else "  [bold red]BAD SIGNATURE[/]"))

    def start(self) -> AlertPrinter:
        printer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                printer.show(body, self.headers.get("X-Signpost-Timestamp", ""),
                             self.headers.get("X-Signpost-Signature", ""))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _spawn(service: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "signpost.cli", service], env=env,
                            preexec_fn=die_with_parent)


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
    deadline = time.monotonic() + CHILD_STOP_TIMEOUT_S
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _service_env(bootstrap: str, redis_url: str, keystore_url: str, webhook_url: str,
                 secrets: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNPOST_")}
    env.update({
        "SIGNPOST_ENVIRONMENT": "dev",
        "SIGNPOST_LOG_LEVEL": "WARNING",  # the terminal is for alerts
        "SIGNPOST_KAFKA_BOOTSTRAP": bootstrap,
        "SIGNPOST_REDIS_URL": redis_url,
        "SIGNPOST_KEYSTORE_URL": keystore_url,
        "SIGNPOST_KEY_PREFIX": f"dev-{uuid.uuid4().hex[:8]}",
        "SIGNPOST_SESSION_TIMEOUT_MS": str(DEV_SESSION_TIMEOUT_MS),
        "SIGNPOST_WEBHOOK_URL": webhook_url,
        "SIGNPOST_GATEWAY_PORT": str(free_port()),
        "SIGNPOST_INBOX_PORT": str(free_port()),
        "SIGNPOST_MATCHER_HTTP_PORT": str(free_port()),
        **{f"SIGNPOST_{k.upper()}": v for k, v in secrets.items()},
    })
    return env


def _demo_signing_keys(seed: int) -> dict[str, str]:
    """A fresh signing key for every agency of the demo stream (all appear within its start)."""
    agencies = {e["agency"]["id"] for e in itertools.islice(demo_stream(seed=seed),
                                                              DEMO_AGENCY_SCAN)}
    return {agency: random_secret() for agency in sorted(agencies)}


def _feed(settings: CommonSettings, rate: float, seed: int, stop: threading.Event,
          until: float | None, keys: dict[str, str]) -> int:
    producer = make_producer(settings)
    sent = 0
    try:
        for event in demo_stream(seed=seed):
            if stop.is_set() or (until is not None and time.monotonic() >= until):
                break
            raw = json.dumps(event).encode()
            agency = event["agency"]["id"]
            producer.send(settings.topics.raw, value=raw,
                          headers=signed_headers(agency, keys.get(agency, ""), raw))
            sent += 1
            stop.wait(1.0 / rate)
        producer.flush()
    finally:
        producer.close()
    return sent


def run_dev(rate: float, duration: float | None, seed: int, console: Console) -> int:
    """Run until Ctrl-C (or `duration` seconds); returns the process exit code."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Ctrl-C stops everything even where SIGINT came ignored (a shell's background job, a
    # `nohup`): Python only raises KeyboardInterrupt where it found SIGINT's default.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with contextlib.ExitStack() as stack:
        bootstrap = os.environ.get("SIGNPOST_KAFKA_BOOTSTRAP") or stack.enter_context(
            running_broker()).url
        redis_url = os.environ.get("SIGNPOST_REDIS_URL") or stack.enter_context(
            running_redis()).url
        # The data keys get a Redis of their own, as in production (DESIGN §7).
        keystore_url = os.environ.get("SIGNPOST_KEYSTORE_URL") or (
            redis_url if os.environ.get("SIGNPOST_REDIS_URL") else
            stack.enter_context(running_redis()).url)
        secrets = {n: random_secret() for n in ("blocking_secret", "webhook_secret",
                                                 "token_secret", "master_key")}
        demo_key = random_secret()
        secrets["agency_key_hashes"] = json.dumps({"demo-agency": hash_api_key(demo_key)})
        signing_keys = _demo_signing_keys(seed)
        secrets["agency_signing_keys"] = json.dumps(signing_keys)
        printer = stack.enter_context(_closing(AlertPrinter(secrets["webhook_secret"], console)))
        env = _service_env(bootstrap, redis_url, keystore_url, printer.url, secrets)
        settings = CommonSettings(kafka_bootstrap=bootstrap, redis_url=redis_url)
        ensure_topics(settings)
        children = [_spawn(s, env) for s in SERVICES]
        stack.callback(_stop_children, children)
        _welcome(console, bootstrap, redis_url, env, secrets["token_secret"])
        until = None if duration is None else time.monotonic() + duration
        # While feeding, Ctrl-C ends the feed between two sends, as SIGTERM does, rather than
        # raise KeyboardInterrupt wherever the producer happens to be; a second Ctrl-C raises.
        interrupted = threading.Event()
        signal.signal(signal.SIGINT, _stop_on_interrupt(stop, interrupted))
        try:
            sent = _feed(settings, rate, seed, stop, until, signing_keys)
        except KeyboardInterrupt:
            sent = None
        if interrupted.is_set():
            console.print("\n[dim]stopping…[/]")
        if sent is not None:
            console.print(f"[dim]sent {sent} demo events; {printer.count} alerts received[/]")
    return 0


def _stop_on_interrupt(stop: threading.Event, interrupted: threading.Event
                       ) -> Callable[[int, FrameType | None], None]:
    """A SIGINT handler: the first sets `stop` (and `interrupted`), the next raises."""
    def handler(signum: int, frame: FrameType | None) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()
        stop.set()
    return handler


@contextlib.contextmanager
def _closing(printer: AlertPrinter) -> Any:
    printer.start()
    try:
        yield printer
    finally:
        printer.stop()


def _welcome(console: Console, bootstrap: str, redis_url: str, env: dict[str, str],
             token_secret: str) -> None:
    token = issue_token(token_secret, "operator-1", Role.operator)
    console.print(f"[bold]Signpost dev[/]  broker {bootstrap}  redis {redis_url}")
    console.print(f"  gateway  http://127.0.0.1:{env['SIGNPOST_GATEWAY_PORT']}/v1/events")
    console.print(f"  inbox    http://127.0.0.1:{env['SIGNPOST_INBOX_PORT']}/v1/inbox  "
                  f"(operator token: {token})")
    console.print("  feeding demo events; alerts appear below as the webhook receives them. "
                  "Ctrl-C stops everything.\n")
