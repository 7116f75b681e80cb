"""The one place a service process runs until SIGINT or SIGTERM: signals only set `stop`."""

from __future__ import annotations

import gc
import signal
import threading
from collections.abc import Callable
from typing import TypeVar

from signpost.settings import CommonSettings

__all__ = ["run_until_signal", "tune_gc"]

#: Net allocations between two collections of the young generation (Python's default: 700).
#: A matcher allocates a great deal per event and keeps little, but a batch of 200 events
#: holds ~85,000 tracked objects at once at 100k indexed: at 50,000 the collector ran ~2
#: times a batch, scanning live objects only (the engine makes no cyclic garbage: 0 objects
#: over 2,000 events at 10k, gc.DEBUG_SAVEALL). At 500,000 it runs only while the process's
#: caches grow (README, "Garbage collection").
GC_YOUNG_THRESHOLD = 500_000

S = TypeVar("S", bound=CommonSettings)


def tune_gc() -> None:
    """For a long-running process: what it holds at start (modules, settings, models) is
    moved out of the collector's sight, and so is whatever survives a collection later (the
    record and key caches, as they fill), so that no object is scanned again and again; and
    the young generation is collected less often. Reference counting still frees almost
    everything at once, frozen objects too; only cycles wait longer, and a cycle among
    objects that outlived a collection is never collected."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    """After each collection, what it found alive joins the frozen objects (gc.freeze)."""
    if phase == "stop":
        gc.freeze()


def run_until_signal(main: Callable[[S, threading.Event], None], settings: S) -> None:
    tune_gc()
    stop = threading.Event()

    def _request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    main(settings, stop)
