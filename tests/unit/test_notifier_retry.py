"""Backoff: exponential ceilings, capped, with full jitter (a fake `rand`, no sleeping);
next_step: what follows each attempt."""

from __future__ import annotations

import pytest

from services.notifier.retry import Attempt, Backoff, Next, next_step

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


OK = Attempt(ok=True, retryable=False, label="HTTP 200")
BUSY = Attempt(ok=False, retryable=True, label="HTTP 503")
REFUSED = Attempt(ok=False, retryable=False, label="HTTP 400")
STEPS = [
    # description, attempt, its number, max attempts, what follows
    ("delivered on the first try", OK, 1, 5, Next.done),
    ("delivered on the last try", OK, 5, 5, Next.done),
    ("retryable with tries left", BUSY, 1, 5, Next.retry),
    ("retryable, one try left", BUSY, 4, 5, Next.retry),
    ("retryable, no tries left", BUSY, 5, 5, Next.fail),
    ("a crash loop counted past the limit", BUSY, 9, 5, Next.fail),
    ("a final refusal is never retried", REFUSED, 1, 5, Next.fail),
    ("max_attempts below one means one try", BUSY, 1, 0, Next.fail),
]


@pytest.mark.parametrize(("description", "attempt", "number", "max_attempts", "expected"),
                         STEPS, ids=[s[0] for s in STEPS])
def test_next_step(description: str, attempt: Attempt, number: int, max_attempts: int,
                   expected: Next) -> None:
    assert next_step(attempt, number, max_attempts) is expected
