"""The one place the gateway's rate per agency is enforced: a token bucket per agency.

In-process, per gateway replica: the limit is a guard against one agency's runaway client
starving the others and the broker, not a quota, so N replicas allow N x the rate. Keeping it
in-process means no Redis round trip per request and no new failure mode for ingest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["AgencyLimiter", "TokenBucket"]


@dataclass(slots=True)
class TokenBucket:
    """`rate` tokens a second up to `burst`; taking `cost` tokens either succeeds or says
    how long until it would. Pure: the caller passes the time."""

    rate: float
    burst: float
    tokens: float
    updated: float

    def take(self, cost: float, now: float) -> float:
        """0.0 if `cost` tokens were taken, else the seconds to wait (nothing is taken)."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if cost <= self.tokens:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate


class AgencyLimiter:
    """One bucket per agency, created full on first use; safe across threads."""

    def __init__(self, rate: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def take(self, agency: str, cost: int) -> float:
        """0.0 if the agency may send `cost` events now, else the seconds until it may."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(agency)
            if bucket is None:
                bucket = self._buckets[agency] = TokenBucket(self._rate, self._burst,
                                                             self._burst, now)
            return bucket.take(cost, now)
