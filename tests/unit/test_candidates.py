"""Candidate ranking: most shared blocking keys first, newest first among equals, capped."""

from services.matcher.candidates import ranked_candidates


def test_a_record_under_more_of_the_events_keys_ranks_first() -> None:
    per_key = [["new", "old", "twin"], ["old", "twin"], ["old"]]
    assert ranked_candidates(per_key, cap=10) == ["new", "old", "twin"]  # under the cap: all
    assert ranked_candidates(per_key, cap=2) == ["old", "twin"]


def test_ties_keep_the_newest_first() -> None:
    per_key = [["r9", "r8", "r7"], ["r6", "r5"]]
    assert ranked_candidates(per_key, cap=3) == ["r9", "r8", "r7"]


def test_the_cap_bounds_a_common_key() -> None:
    common = [f"r{i}" for i in range(1000)]
    rare = ["r999"]  # the oldest record of the common key, but it shares a second key
    out = ranked_candidates([common, rare], cap=40)
    assert len(out) == 40
    assert out[0] == "r999"
    assert out[1:] == common[:39]


def test_no_keys_no_candidates() -> None:
    assert ranked_candidates([], cap=5) == []
    assert ranked_candidates([[], []], cap=5) == []
