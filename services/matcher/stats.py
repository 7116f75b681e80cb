"""The one place for the matcher's decision counts the operators' dashboard reads.

Index.commit adds one to the event's outcome in a STATS_BUCKET_S bucket, in the event's own
transaction, so every matcher's decisions are counted once. Counts only: no ids, no values.
"""

from __future__ import annotations

from datetime import datetime

import redis
from pydantic import BaseModel, ConfigDict

from schemas import LinkOutcome
from services.matcher.keys import Keys

__all__ = ["STATS_BUCKET_S", "DecisionRates", "decision_rates", "stats_bucket"]

STATS_BUCKET_S = 10  # small enough that a dashboard sees a burst within seconds
DEFAULT_WINDOW_S = 60


class DecisionRates(BaseModel):
    """Decisions over the last `window_s` seconds: per outcome, and events per second."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_s: int
    counts: dict[str, int]
    events: int
    events_per_s: float
    share: dict[str, float]


def stats_bucket(at: datetime) -> int:
    """The bucket a decision made at `at` is counted in."""
    return int(at.timestamp()) // STATS_BUCKET_S


def decision_rates(client: redis.Redis, prefix: str, now: datetime,
                   window_s: int = DEFAULT_WINDOW_S) -> DecisionRates:
    """Counts of the buckets that end within the window (the current one included)."""
    k = Keys(prefix)
    last = stats_bucket(now)
    pipe = client.pipeline(transaction=False)
    for bucket in range(last - window_s // STATS_BUCKET_S + 1, last + 1):
        pipe.hgetall(k.stats(bucket))
    counts = {o.value: 0 for o in LinkOutcome}
    for bucket in pipe.execute():
        for outcome, n in bucket.items():
            counts[str(outcome)] = counts.get(str(outcome), 0) + int(n)
    events = sum(counts.values())
    return DecisionRates(window_s=window_s, counts=counts, events=events,
                         events_per_s=events / window_s,
                         share={o: (n / events if events else 0.0) for o, n in counts.items()})
