"""The one place a service process runs until SIGINT or SIGTERM: signals only set `stop`."""

from __future__ import annotations

import gc
import signal
import threading
from collections.abc import Callable
from typing import TypeVar

from signpost.settings import CommonSettings

__all__ = ["run_until_signal", "tune_gc"]

#: Allocations between two collections of the young generation (Python's default: 700). A
#: matcher allocates a great deal per event and keeps little: at the default, the collector
#: took about a tenth of its CPU per event (bench/engine_cpu.py, A/B).
GC_YOUNG_THRESHOLD = 50_000

S = TypeVar("S", bound=CommonSettings)


def tune_gc() -> None:
    """For a long-running process: what it holds at start (modules, settings, models) is
    moved out of the collector's sight, and the young generation is collected less often.
    Reference counting still frees almost everything at once; only cycles wait longer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def run_until_signal(main: Callable[[S, threading.Event], None], settings: S) -> None:
    tune_gc()
    stop = threading.Event()

    def _request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    main(settings, stop)
