"""The workers' Bell: a ring wakes one napping worker, a ring nobody hears is kept for the next
nap, ring_all wakes every one (real threads, no fakes)."""

from __future__ import annotations

import threading
import time

from services.notifier.worker import Bell

LONG_S = 10.0  # a nap nobody ends; the test would notice


def _nappers(bell: Bell, count: int) -> tuple[list[threading.Thread], list[float]]:
    woke: list[float] = []

    def nap() -> None:
        bell.nap(LONG_S)
        woke.append(time.monotonic())

    threads = [threading.Thread(target=nap, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)  # all napping
    return threads, woke


def _settle(woke: list[float], count: int) -> None:
    deadline = time.monotonic() + 5
    while len(woke) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # and nobody else


def test_a_ring_wakes_one_napping_worker_and_ring_all_the_rest() -> None:
    bell = Bell()
    threads, woke = _nappers(bell, 3)
    bell.ring()
    _settle(woke, 1)
    assert len(woke) == 1
    bell.ring_all()
    for thread in threads:
        thread.join(timeout=5)
    assert len(woke) == 3


def test_a_ring_nobody_heard_ends_the_next_nap_at_once_unless_cleared() -> None:
    bell = Bell()
    bell.ring()
    start = time.monotonic()
    bell.nap(LONG_S)
    assert time.monotonic() - start < 1.0
    bell.ring()
    bell.clear()  # the worker is about to claim anyway
    start = time.monotonic()
    bell.nap(0.2)
    assert time.monotonic() - start >= 0.19
