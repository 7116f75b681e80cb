"""/healthz's registry: checks failing and recovering, and the broker probe on real sockets."""

from __future__ import annotations

import socket
import threading

from signpost.embedded import free_port
from signpost.health import Health, broker_probe, parse_bootstrap
from tests.support.wait import wait_until


def test_a_failing_check_degrades_until_it_recovers() -> None:
    health = Health()
    assert health.report("matcher") == {"status": "ok", "service": "matcher", "failing": {}}
    health.failing("matcher.broker", "broker unreachable")
    assert health.report("matcher") == {"status": "degraded", "service": "matcher",
                                        "failing": {"matcher.broker": "broker unreachable"}}
    health.ok("matcher.broker")
    assert health.report("matcher")["status"] == "ok"


def test_bootstrap_lists_parse() -> None:
    assert parse_bootstrap("127.0.0.1:9092, kafka-2:9093") == [("127.0.0.1", 9092),
                                                                ("kafka-2", 9093)]
    assert parse_bootstrap(["[::1]:9092"]) == [("::1", 9092)]


def test_the_probe_follows_the_broker_port() -> None:
    health, stop = Health(), threading.Event()
    port = free_port()
    broker_probe(f"127.0.0.1:{port}", "t.broker", stop, health).start()
    try:
        wait_until(lambda: health.report("t")["status"] == "degraded", timeout_s=5)
        with socket.socket() as listener:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port))
            listener.listen()
            wait_until(lambda: health.report("t")["status"] == "ok", timeout_s=5)
    finally:
        stop.set()
