"""Threshold evidence and the live-thresholds cache: pure, no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.matcher.charts import CHARTS
from services.matcher.evidence import build_evidence, review_per_day, sweep_row
from services.matcher.review import LabelledPair, ReviewItem, priority, risk
from services.matcher.thresholds import LiveThresholds, ThresholdSetting

PAIRS = [LabelledPair(score=s, match=m, source="truth") for s, m in
         [(30, True), (20, True), (12, True), (9, False), (5, True), (2, False), (-5, False)]]


def test_sweep_counts_pairs_at_or_above_the_threshold_as_predicted_matches() -> None:
    row = sweep_row(PAIRS, 10.0, 3.0, [], 0.0)
    assert (row.true_positive, row.false_positive, row.false_negative) == (3, 0, 1)
    assert row.precision == 1.0 and row.recall == pytest.approx(0.75)
    low = sweep_row(PAIRS, 0.0, 0.0, [], 0.0)
    assert (low.true_positive, low.false_positive) == (4, 2)


def test_review_per_day_is_the_share_of_best_scores_between_the_thresholds() -> None:
    scores: list[float | None] = [None, 1.0, 4.0, 6.0, 9.0, 20.0, None, 5.0, 3.0, 50.0]
    assert review_per_day(scores, 8.0, 3.0, 1000.0) == pytest.approx(400.0)
    assert review_per_day([], 8.0, 3.0, 1000.0) == 0.0


def test_evidence_covers_the_current_setting_and_draws_three_pngs() -> None:
    ev = build_evidence(PAIRS, 10.5, 3.0, [p.score for p in PAIRS], 70.0)
    assert 10.5 in [r.threshold for r in ev.rows] and ev.at_current.threshold == 10.5
    assert ev.pairs == 7 and ev.matches == 4
    for draw in CHARTS.values():
        assert draw(ev, PAIRS).startswith(b"\x89PNG")


class _Store:
    def __init__(self) -> None:
        self.reads = 0
        self.value = ThresholdSetting(version=0, upper=8.0, lower=2.0)

    def current(self) -> ThresholdSetting:
        self.reads += 1
        return self.value


def test_live_thresholds_reread_redis_only_after_the_ttl() -> None:
    now = [100.0]
    store = _Store()
    live = LiveThresholds(store, ttl_s=2.0, clock=lambda: now[0])  # type: ignore[arg-type]
    assert live() == (8.0, 2.0)
    store.value = ThresholdSetting(version=1, upper=9.0, lower=3.0)
    now[0] += 1.0
    assert live() == (8.0, 2.0) and store.reads == 1
    now[0] += 1.5
    assert live() == (9.0, 3.0) and store.reads == 2


def test_lower_above_upper_is_refused() -> None:
    with pytest.raises(ValueError):
        ThresholdSetting(version=1, upper=3.0, lower=4.0)


def _item(score: float, minutes_ago: int, rule: str | None = None) -> ReviewItem:
    at = datetime(2026, 1, 1, 12, tzinfo=UTC) - timedelta(minutes=minutes_ago)
    return ReviewItem(review_id="r", event_id="e", child_id="C1", candidate_child_id="C2",
                      score=score, explanation=[], rule=rule, risk=risk(score, 8.0, 2.0, rule),
                      model_version="1", created_at=at)


def test_the_queue_puts_the_oldest_and_riskiest_first() -> None:
    old, new = _item(3.0, minutes_ago=240), _item(3.0, minutes_ago=0)
    risky = _item(7.9, minutes_ago=0, rule="alias")
    assert priority(old) < priority(risky) < priority(new)
    assert risky.risk > new.risk
