"""Signpost's services on threads of the test process, as separate processes would run them."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["running_services"]

JOIN_TIMEOUT_S = 15.0


@contextlib.contextmanager
def running_services(mains: list[tuple[Callable[..., None], Any]]) -> Iterator[None]:
    """Each (main, settings) on a daemon thread until the block ends, then stopped."""
    stop = threading.Event()
    threads = [threading.Thread(target=m, args=(s, stop), daemon=True) for m, s in mains]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=JOIN_TIMEOUT_S)
