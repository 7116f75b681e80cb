"""The gateway's token bucket per agency, with a fake clock."""

from __future__ import annotations

import pytest

from services.ingest.ratelimit import AgencyLimiter, TokenBucket


def test_bucket_allows_a_burst_then_says_how_long_to_wait() -> None:
    bucket = TokenBucket(rate=10.0, burst=20.0, tokens=20.0, updated=0.0)
    assert bucket.take(20, now=0.0) == 0.0
    assert bucket.take(5, now=0.0) == pytest.approx(0.5)
    assert bucket.take(5, now=0.5) == 0.0  # refilled 5 tokens in half a second


def test_bucket_never_holds_more_than_its_burst() -> None:
    bucket = TokenBucket(rate=10.0, burst=20.0, tokens=0.0, updated=0.0)
    assert bucket.take(20, now=3600.0) == 0.0
    assert bucket.take(1, now=3600.0) == pytest.approx(0.1)


def test_a_refused_take_takes_nothing() -> None:
    bucket = TokenBucket(rate=1.0, burst=10.0, tokens=3.0, updated=0.0)
    assert bucket.take(5, now=0.0) == pytest.approx(2.0)
    assert bucket.take(3, now=0.0) == 0.0


def test_each_agency_has_its_own_bucket() -> None:
    clock = [0.0]
    limiter = AgencyLimiter(rate=1.0, burst=5, clock=lambda: clock[0])
    assert limiter.take("school-1", 5) == 0.0
    assert limiter.take("school-1", 1) == pytest.approx(1.0)
    assert limiter.take("gp-1", 5) == 0.0
    clock[0] = 2.0
    assert limiter.take("school-1", 2) == 0.0
