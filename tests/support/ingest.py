"""Run the real ingest service (Kafka loop and HTTP gateway) on a thread for one test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from services.ingest.service import main as ingest_main
from services.ingest.settings import IngestSettings
from tests.support.wait import wait_until

__all__ = ["http_up", "running_ingest"]


def http_up(url: str) -> bool:
    """True once `url`/healthz answers 200."""
    try:
        return httpx.get(f"{url}/healthz").status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def running_ingest(port: int) -> Iterator[str]:
    """Ingest with settings from the environment, its gateway on `port`; yields the base URL.

    The caller sets SIGNPOST_* (gateway port included) before entering.
    """
    stop = threading.Event()
    thread = threading.Thread(target=ingest_main, args=(IngestSettings(), stop), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http_up(url), timeout_s=10)
        yield url
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive(), "ingest did not stop"
