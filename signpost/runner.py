"""The one place a service process runs until SIGINT or SIGTERM: signals only set `stop`."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import TypeVar

from signpost.settings import CommonSettings

__all__ = ["run_until_signal"]

S = TypeVar("S", bound=CommonSettings)


def run_until_signal(main: Callable[[S, threading.Event], None], settings: S) -> None:
    stop = threading.Event()

    def _request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    main(settings, stop)
