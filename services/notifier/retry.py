"""The one place for the delivery retry policy: pure values, unit-tested with a fake `rand`."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Attempt", "Backoff", "Next", "next_step"]

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


@dataclass(frozen=True, slots=True)
class Attempt:
    """How one attempt on one channel ended. `label` names a status or an error kind
    ("HTTP 503", "timeout", "SMTP 451"), never a message that could carry personal data."""

    ok: bool
    retryable: bool
    label: str


class Next(StrEnum):
    done = "done"  # delivered
    retry = "retry"  # wait backoff.delay(n - 1), then attempt n + 1
    fail = "fail"  # park in alerts.dlq with the reason


def next_step(attempt: Attempt, number: int, max_attempts: int) -> Next:
    """What follows attempt `number` (1-based) of at most `max_attempts`."""
    if attempt.ok:
        return Next.done
    if attempt.retryable and number < max(1, max_attempts):
        return Next.retry
    return Next.fail
