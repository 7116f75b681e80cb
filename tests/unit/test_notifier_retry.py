"""Backoff: exponential ceilings, capped, with full jitter (a fake `rand`, no sleeping)."""

from __future__ import annotations

import pytest

from services.notifier.retry import Backoff

CASES = [
    # description, base, cap, attempt, rand, expected delay
    ("first retry, top of the range", 0.2, 10.0, 0, 1.0, 0.2),
    ("second retry doubles", 0.2, 10.0, 1, 1.0, 0.4),
    ("fourth retry", 0.2, 10.0, 3, 1.0, 1.6),
    ("jitter takes a fraction of the ceiling", 0.2, 10.0, 3, 0.25, 0.4),
    ("jitter can be zero", 0.2, 10.0, 3, 0.0, 0.0),
    ("the cap bounds the ceiling", 0.2, 10.0, 10, 1.0, 10.0),
    ("a huge attempt does not overflow", 0.2, 10.0, 5000, 0.5, 5.0),
    ("zero base never waits", 0.0, 10.0, 4, 1.0, 0.0),
    ("negative attempt counts as the first", 0.2, 10.0, -3, 1.0, 0.2),
]


@pytest.mark.parametrize(("description", "base", "cap", "attempt", "rand", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_delay(description: str, base: float, cap: float, attempt: int, rand: float,
               expected: float) -> None:
    assert Backoff(base, cap).delay(attempt, rand=lambda: rand) == pytest.approx(expected)


def test_delay_stays_within_ceiling_with_real_randomness() -> None:
    backoff = Backoff(0.2, 10.0)
    for attempt in range(12):
        assert 0.0 <= backoff.delay(attempt) <= backoff.ceiling(attempt)
