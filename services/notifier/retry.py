"""The one place for the webhook retry policy: a pure value, unit-tested with a fake `rand`."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Backoff"]

MAX_EXPONENT = 1000  # 2.0**1024 raises OverflowError; past ~60 every ceiling is the cap anyway


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and
    Jitter"): spreads retries of many failing deliveries so they do not arrive in waves."""

    base_s: float
    cap_s: float

    def ceiling(self, attempt: int) -> float:
        """The largest delay after failed attempt number `attempt` (0-based): min(cap, base*2^n)."""
        if self.base_s <= 0:
            return 0.0
        return min(self.cap_s, self.base_s * 2.0 ** min(attempt, MAX_EXPONENT))

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt `attempt`: uniform in [0, ceiling(attempt))."""
        return rand() * self.ceiling(max(0, attempt))
