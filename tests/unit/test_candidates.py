"""Candidate ranking: most shared blocking keys first, newest first among equals, capped; and
two rankings of disjoint records merge into the ranking of all of them."""

import random

from services.matcher.candidates import merge_ranked, ranked_candidates


def _ids(ranked: list[tuple[str, int, int]]) -> list[str]:
    return [rid for rid, _, _ in ranked]


def test_a_record_under_more_of_the_events_keys_ranks_first() -> None:
    per_key = [[("new", 9), ("old", 3), ("twin", 2)], [("old", 3), ("twin", 2)], [("old", 3)]]
    assert ranked_candidates(per_key, cap=10) == [("old", 3, 3), ("twin", 2, 2), ("new", 1, 9)]
    assert _ids(ranked_candidates(per_key, cap=2)) == ["old", "twin"]


def test_ties_keep_the_newest_first() -> None:
    per_key = [[("r7", 7), ("r9", 9)], [("r8", 8), ("r5", 5)]]
    assert _ids(ranked_candidates(per_key, cap=3)) == ["r9", "r8", "r7"]


def test_the_cap_bounds_a_common_key() -> None:
    common = [(f"r{i}", 1000 - i) for i in range(1000)]
    rare = [("r999", 1)]  # the oldest record of the common key, but it shares a second key
    out = _ids(ranked_candidates([common, rare], cap=40))
    assert len(out) == 40
    assert out[0] == "r999"
    assert out[1:] == [rid for rid, _ in common[:39]]


def test_no_keys_no_candidates() -> None:
    assert ranked_candidates([], cap=5) == []
    assert ranked_candidates([[], []], cap=5) == []


def test_two_rankings_merge_into_the_ranking_of_both() -> None:
    """What an engine batch relies on: Redis ranks its records and caps them, the batch ranks
    its own (newer) ones; merged, they are the ranking of all of them together."""
    rng = random.Random(3)
    for _ in range(200):
        keys = rng.randint(1, 8)
        old = [[(f"o{m}", m) for m in rng.sample(range(100), rng.randint(0, 30))]
               for _ in range(keys)]
        new = [[(f"n{m}", 1000 + m) for m in rng.sample(range(20), rng.randint(0, 5))]
               for _ in range(keys)]
        cap = rng.choice([1, 5, 40])
        whole = ranked_candidates([a + b for a, b in zip(old, new, strict=True)], cap)
        assert merge_ranked(ranked_candidates(old, cap), ranked_candidates(new, cap), cap) == whole
