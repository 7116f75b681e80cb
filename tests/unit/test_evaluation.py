"""Scoring against truth: hand-computed cases, and pair counts checked against brute force."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signpost.evaluation import (
    Evaluation,
    Truth,
    evaluate,
    evaluate_files,
    format_report,
    is_event_file,
)
from tests.support.events import make_event

# Truth used by the simple cases: child A has 2 events, B 1, C 3 (4 true pairs).
TRUE = {"e1": "A", "e2": "A", "e3": "B", "e4": "C", "e5": "C", "e6": "C"}


def truth_of(child_of: Mapping[str, str], aliases: set[str] | None = None,
             hard_negatives: list[tuple[str, str, str]] | None = None) -> Truth:
    return Truth(child_of=dict(child_of), aliases=aliases or set(),
                 hard_negatives=hard_negatives or [])


def run(pred: Mapping[str, str | None], child_of: Mapping[str, str] = TRUE,
        aliases: set[str] | None = None,
        hard_negatives: list[tuple[str, str, str]] | None = None) -> Evaluation:
    return evaluate(pred.items(), truth_of(child_of, aliases, hard_negatives))


def close(value: float, expected: Fraction | float) -> bool:
    return value == pytest.approx(float(expected), abs=1e-12)


def test_perfect_clustering_scores_one_whatever_the_labels() -> None:
    e = run({"e1": "x", "e2": "x", "e3": "y", "e4": "z", "e5": "z", "e6": "z"})
    assert (e.pairwise.precision, e.pairwise.recall, e.pairwise.f1) == (1.0, 1.0, 1.0)
    assert (e.bcubed.precision, e.bcubed.recall) == (1.0, 1.0)
    assert (e.true_clusters, e.predicted_clusters, e.scored) == (3, 3, 6)
    assert e.pair_counts.true_positive == 4


def test_everything_merged() -> None:
    e = run(dict.fromkeys(TRUE, "x"))
    assert (e.pair_counts.predicted, e.pair_counts.true_positive) == (15, 4)
    assert close(e.pairwise.precision, Fraction(4, 15)) and e.pairwise.recall == 1.0
    # B-cubed precision: (2·2/6 + 1/6 + 3·3/6) / 6 = 7/18
    assert close(e.bcubed.precision, Fraction(7, 18)) and e.bcubed.recall == 1.0
    assert e.predicted_clusters == 1


def test_everything_split() -> None:
    e = run({k: f"p-{k}" for k in TRUE})
    assert e.pair_counts.predicted == 0
    assert (e.pairwise.precision, e.pairwise.recall, e.pairwise.f1) == (1.0, 0.0, 0.0)
    # B-cubed recall: (2·1/2 + 1 + 3·1/3) / 6 = 1/2
    assert e.bcubed.precision == 1.0 and close(e.bcubed.recall, 0.5)


def test_bcubed_worked_example() -> None:
    """Truth A={1..5}, B={6,7}; predicted {1..4}, {5,6,7}."""
    child_of = {f"e{i}": "A" for i in range(1, 6)} | {"e6": "B", "e7": "B"}
    pred = {f"e{i}": "P1" for i in range(1, 5)} | {"e5": "P2", "e6": "P2", "e7": "P2"}
    e = run(pred, child_of)
    # precision: (4·4/4 + 1/3 + 2·2/3) / 7 = 17/21; recall: (4·4/5 + 1/5 + 2·2/2) / 7 = 27/35
    assert close(e.bcubed.precision, Fraction(17, 21))
    assert close(e.bcubed.recall, Fraction(27, 35))
    # pairwise: TP = C(4,2) + C(2,2) = 7 of 9 predicted and 11 true pairs
    assert close(e.pairwise.precision, Fraction(7, 9))
    assert close(e.pairwise.recall, Fraction(7, 11))
    assert close(e.pairwise.f1, Fraction(2 * 7, 9 + 11))


def test_one_false_merge_among_twins() -> None:
    child_of = {"a1": "T1", "a2": "T1", "b1": "T2", "b2": "T2", "s1": "S"}
    pred = {"a1": "x", "a2": "x", "b1": "x", "b2": "y", "s1": "z"}
    negatives = [("T1", "T2", "twin"), ("T1", "S", "sibling"), ("T2", "S", "sibling")]
    e = run(pred, child_of, hard_negatives=negatives)
    by_kind = {h.kind: h for h in e.hard_negatives}
    assert (by_kind["twin"].merged, by_kind["twin"].pairs, by_kind["twin"].rate) == (1, 1, 1.0)
    assert (by_kind["sibling"].merged, by_kind["sibling"].pairs) == (0, 2)
    assert (by_kind["namesake"].pairs, by_kind["namesake"].rate) == (0, 0.0)


def test_hard_negative_with_an_unscored_child_is_counted_apart() -> None:
    e = run({"e1": "x"}, {"e1": "A", "e2": "B"}, hard_negatives=[("A", "B", "twin")])
    twin = next(h for h in e.hard_negatives if h.kind == "twin")
    assert (twin.pairs, twin.unscored) == (0, 1)


def test_rejected_missing_unknown_and_duplicates_are_counted_not_scored() -> None:
    pred: list[tuple[str, str | None]] = [
        ("e1", "x"), ("e2", "x"), ("e3", None), ("e4", "y"), ("e4", "y"), ("zz", "q")]
    e = evaluate(pred, truth_of(TRUE))
    assert (e.predictions, e.rejected, e.not_in_truth, e.duplicate_predictions) == (5, 1, 1, 1)
    assert (e.scored, e.missing) == (3, 2)  # e5 and e6 have no line
    assert e.pairwise.precision == 1.0 and e.pair_counts.true == 1
    assert "WARNING" in format_report(e)


def test_alias_events_linked_or_not() -> None:
    child_of = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B"}
    pred = {"a1": "x", "a2": "x", "a3": "x", "b1": "y", "b2": "new"}
    e = run(pred, child_of, aliases={"a3", "b2"})
    assert (e.alias.events, e.alias.linked, e.alias.not_linked) == (2, 1, 1)


def test_alias_events_together_are_not_linked() -> None:
    """Two events of one alias record in a cluster of their own: not linked to the child."""
    child_of = {"a1": "A", "a2": "A", "a3": "A"}
    e = run({"a1": "x", "a2": "y", "a3": "y"}, child_of, aliases={"a2", "a3"})
    assert (e.alias.events, e.alias.linked) == (2, 0)
    e = run({"a1": "x", "a2": "x", "a3": "y"}, child_of, aliases={"a2", "a3"})
    assert (e.alias.events, e.alias.linked) == (2, 1)


def test_files_round_trip_and_report(tmp_path: Path) -> None:
    preds = tmp_path / "out.jsonl"
    truth = tmp_path / "truth.jsonl"
    preds.write_text("".join(json.dumps({"event_id": k, "child_id": "c" + v, "score": 1.0})
                             + "\n" for k, v in TRUE.items()))
    rows: list[dict[str, object]] = [{"event_id": k, "child_id": v} for k, v in TRUE.items()]
    rows += [{"event_id": "e2", "child_id": "A", "alias": True},
             {"hard_negative": ["A", "C"], "kind": "twin"}]
    truth.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    e = evaluate_files(preds, truth)
    assert e.pairwise.f1 == 1.0 and e.alias.linked == 1
    report = format_report(e)
    assert "pairwise" in report and "B-cubed" in report and "twin" in report
    assert json.loads(e.model_dump_json())["pairwise"]["f1"] == 1.0
    assert not is_event_file(preds)


def test_bad_truth_line_names_its_line(tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    truth.write_text('{"event_id": "e1", "child_id": "A"}\n{"something": 1}\n')
    with pytest.raises(ValueError, match=r"truth.jsonl:2"):
        evaluate_files(truth, truth)


def test_an_events_file_is_recognised(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(make_event()) + "\n")
    assert is_event_file(events)


def brute_force(pred: list[int], true: list[int]) -> tuple[int, int, int]:
    tp = predicted = actual = 0
    for i, j in itertools.combinations(range(len(pred)), 2):
        same_pred, same_true = pred[i] == pred[j], true[i] == true[j]
        tp += same_pred and same_true
        predicted += same_pred
        actual += same_true
    return tp, predicted, actual


def brute_bcubed(pred: list[int], true: list[int]) -> tuple[float, float]:
    n = len(pred)
    both = [sum(pred[i] == pred[j] and true[i] == true[j] for j in range(n)) for i in range(n)]
    precision = sum(both[i] / pred.count(pred[i]) for i in range(n)) / n
    recall = sum(both[i] / true.count(true[i]) for i in range(n)) / n
    return precision, recall


labels = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(labels)
def test_pair_counts_equal_brute_force(rows: list[tuple[int, int]]) -> None:
    pred, true = [p for p, _ in rows], [t for _, t in rows]
    e = evaluate(((f"e{i}", f"p{p}") for i, p in enumerate(pred)),
                 truth_of({f"e{i}": f"t{t}" for i, t in enumerate(true)}))
    tp, predicted, actual = brute_force(pred, true)
    assert (e.pair_counts.true_positive, e.pair_counts.predicted, e.pair_counts.true) == (
        tp, predicted, actual)
    assert close(e.pairwise.precision, tp / predicted if predicted else 1.0)
    assert close(e.pairwise.recall, tp / actual if actual else 1.0)
    bp, br = brute_bcubed(pred, true)
    assert close(e.bcubed.precision, bp) and close(e.bcubed.recall, br)
