"""Fellegi-Sunter scoring, the model file, and the decision rules: pure, no server."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from schemas import LinkOutcome
from services.matcher.cluster import Candidate, decide
from services.matcher.model import LinkageModel, default_model, load_model, save_model
from services.matcher.rules import can_merge
from services.matcher.score import match_weight, prior_weight, probability, score_pair
from tests.unit.test_matcher_compare import feats

MODEL = default_model()


def test_helpers() -> None:
    assert match_weight(0.9, 0.1) == pytest.approx(math.log2(9))
    assert prior_weight(0.5) == 0
    assert probability(0) == 0.5


def test_total_is_prior_plus_weights() -> None:
    scored = score_pair(feats(), feats(given="Vicky", agency_id="gp-1"), MODEL)
    assert scored.total == pytest.approx(scored.prior + sum(e.weight for e in scored.explanation))
    assert [e.comparison for e in scored.explanation] == [
        "given_name", "family_name", "date_of_birth", "sex", "address", "nhs_number", "carers",
        "agency_record"]


def test_null_levels_weigh_nothing() -> None:
    scored = score_pair(feats(dob=None), feats(agency_id="gp-1"), MODEL)
    dob = next(e for e in scored.explanation if e.comparison == "date_of_birth")
    assert (dob.level, dob.weight) == ("null", 0.0)


def test_model_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    save_model(MODEL, path)
    assert load_model(path) == MODEL


def test_model_must_cover_every_level() -> None:
    data = MODEL.model_dump()
    del data["levels"]["date_of_birth"]["day_month_swapped"]
    with pytest.raises(ValueError, match=r"date_of_birth\.day_month_swapped"):
        LinkageModel.model_validate(data)


def _cand(record_kwargs: dict[str, object], child: str, event_kwargs: dict[str, object]
          ) -> tuple[Candidate, object]:
    event = feats(**event_kwargs)
    record = feats(**record_kwargs)
    return Candidate(record, child, score_pair(event, record, MODEL)), event


def test_obvious_variant_links() -> None:
    cand, event = _cand({}, "C1", {"given": "Vicky", "family": "Climbie", "agency_id": "gp-1",
                                   "postcode": "n17 9ej", "line": "12 Somerset Rd"})
    d = decide(event, [cand], MODEL.upper, MODEL.lower)  # type: ignore[arg-type]
    assert (d.outcome, d.child_id) == (LinkOutcome.linked, "C1")
    assert "name" in d.discrepancies


def test_sibling_is_a_new_child() -> None:
    cand, event = _cand({}, "C1", {"given": "Jamal", "dob": "2011-05-20", "sex": "M",
                                   "agency_id": "gp-1"})
    d = decide(event, [cand], MODEL.upper, MODEL.lower)  # type: ignore[arg-type]
    assert d.outcome is LinkOutcome.new_child


def test_unexplained_given_name_is_review_never_link() -> None:
    cand, event = _cand({}, "C1", {"given": "Anna", "agency_id": "gp-1"})
    assert cand.scored.total >= MODEL.upper  # the score alone would link
    d = decide(event, [cand], MODEL.upper, MODEL.lower)  # type: ignore[arg-type]
    assert (d.outcome, d.rule) == (LinkOutcome.review, "alias")


def test_twins_at_one_agency_are_never_linked() -> None:
    cand, event = _cand({"record_id": "A"}, "C1", {"given": "Anna", "record_id": "B"})
    d = decide(event, [cand], MODEL.upper, MODEL.lower)  # type: ignore[arg-type]
    assert (d.outcome, d.rule) == (LinkOutcome.new_child, "twins")


def test_typo_in_given_name_at_one_agency_without_a_shared_carer_is_review() -> None:
    """An agency's duplicate record with a mistyped given name, or a twin whose carer is
    missing: nothing tells which, so a person decides; never an automatic link."""
    cand, event = _cand({"record_id": "A", "carer": None}, "C1",
                        {"given": "Victpria", "record_id": "B", "carer": None})
    assert cand.scored.level("given_name") == "close"
    assert cand.scored.total >= MODEL.upper  # the score alone would link
    d = decide(event, [cand], MODEL.upper, MODEL.lower)  # type: ignore[arg-type]
    assert (d.outcome, d.rule) == (LinkOutcome.review, "one_agency_twin_or_duplicate")


def test_twins_at_one_school_with_one_carer_missing_are_not_linked() -> None:
    """Zara and Iqra Chaudhry (synthetic 20k, seed 1): twins at one school, two letters apart,
    the carer recorded on one record only; the score alone linked them."""
    cand, event = _cand({"given": "Zara", "family": "Chaudhry", "record_id": "A",
                         "carer": None}, "C1",
                        {"given": "Iqra", "family": "Chaudhry", "record_id": "B",
                         "carer": ("Agnieszka", "Nowak")})
    d = decide(event, [cand], MODEL.upper, MODEL.lower)  # type: ignore[arg-type]
    assert d.outcome is not LinkOutcome.linked
    assert d.rule == "one_agency_twin_or_duplicate"


def test_near_named_twins_at_one_agency_with_one_carer_are_never_linked() -> None:
    cand, event = _cand({"given": "Iqra", "record_id": "A"}, "C1",
                        {"given": "Isra", "record_id": "B"})
    assert cand.scored.level("carers") == "name"
    d = decide(event, [cand], MODEL.upper, MODEL.lower)  # type: ignore[arg-type]
    assert (d.outcome, d.rule) == (LinkOutcome.new_child, "twins")


def test_different_name_at_one_agency_without_a_carer_is_review_not_link() -> None:
    cand, event = _cand({"record_id": "A", "carer": None}, "C1",
                        {"given": "Anna", "record_id": "B", "carer": None})
    d = decide(event, [cand], MODEL.upper, MODEL.lower)  # type: ignore[arg-type]
    assert (d.outcome, d.rule) == (LinkOutcome.review, "one_agency_twin_or_duplicate")


def test_different_nhs_numbers_and_near_names_are_twins() -> None:
    cand, event = _cand({"given": "Iqra", "nhs": "9434765919", "carer": None}, "C1",
                        {"given": "Isra", "nhs": "9434765803", "carer": None,
                         "agency_id": "gp-1"})
    d = decide(event, [cand], MODEL.upper, MODEL.lower)  # type: ignore[arg-type]
    assert (d.outcome, d.rule) == (LinkOutcome.new_child, "twins")


def test_swapped_names_with_a_typo_link_but_never_bridge_two_children() -> None:
    cand, event = _cand({"given": "Climbie", "family": "Victorai"}, "C1",
                        {"agency_id": "gp-1"})
    assert cand.scored.level("given_name") == "swapped_close"
    d = decide(event, [cand], MODEL.upper, MODEL.lower)  # type: ignore[arg-type]
    assert (d.outcome, d.child_id) == (LinkOutcome.linked, "C1")
    assert not can_merge(cand.scored)


def test_names_swapped_with_a_typo_at_one_agency_link() -> None:
    """FEBRL's duplicates at one agency: a twin's given name is never its co-twin's family
    name, so names swapped with a keying error are no twins and need no review."""
    cand, event = _cand({"given": "Climbie", "family": "Victorai", "record_id": "A",
                         "carer": None}, "C1", {"record_id": "B", "carer": None})
    assert cand.scored.level("given_name") == "swapped_close"
    assert cand.scored.total >= MODEL.upper
    d = decide(event, [cand], MODEL.upper, MODEL.lower)  # type: ignore[arg-type]
    assert (d.outcome, d.child_id, d.rule) == (LinkOutcome.linked, "C1", None)


def test_an_exact_pair_links_though_a_typo_pair_scores_higher() -> None:
    """Two children at link band, the better pair on a mistyped given name (which cannot
    bridge two children), the other on the exact name: the event joins the exact pair's
    child, as it would alone, and the typo pair's child is not merged (twins Iqra and Isra)."""
    event_kwargs: dict[str, object] = {"given": "Isra", "family": "Chaudhry",
                                       "agency_id": "hosp-1", "carer": None}
    typo, event = _cand({"given": "Iqra", "family": "Chaudhry", "agency_id": "school-1",
                         "carer": None}, "C1", event_kwargs)
    exact, _ = _cand({"given": "Isra", "family": "Chaudhry", "agency_id": "gp-1",
                      "carer": None, "line": "3 Other Street", "postcode": "N17 6AA"},
                     "C2", event_kwargs)
    assert not can_merge(typo.scored)
    assert typo.scored.total > exact.scored.total >= MODEL.upper
    d = decide(event, [typo, exact], MODEL.upper, MODEL.lower)  # type: ignore[arg-type]
    assert (d.outcome, d.child_id, d.merge_from) == (LinkOutcome.linked, "C2", ())


def test_typo_pairs_alone_are_ambiguous() -> None:
    event_kwargs: dict[str, object] = {"given": "Isrra", "family": "Chaudhry",
                                       "agency_id": "hosp-1", "carer": None}
    c1, event = _cand({"given": "Iqra", "family": "Chaudhry", "agency_id": "school-1",
                       "carer": None}, "C1", event_kwargs)
    c2, _ = _cand({"given": "Isra", "family": "Chaudhry", "agency_id": "gp-1",
                   "carer": None}, "C2", event_kwargs)
    assert min(c1.scored.total, c2.scored.total) >= MODEL.upper
    assert not can_merge(c1.scored) and not can_merge(c2.scored)
    d = decide(event, [c1, c2], MODEL.upper, MODEL.lower)  # type: ignore[arg-type]
    assert (d.outcome, d.rule) == (LinkOutcome.review, "ambiguous")


def test_two_children_above_upper_merge() -> None:
    event_kwargs: dict[str, object] = {"agency_id": "hosp-1"}
    c1, event = _cand({"agency_id": "school-1"}, "C1", event_kwargs)
    c2, _ = _cand({"agency_id": "gp-1", "given": "Vicky"}, "C2", event_kwargs)
    d = decide(event, [c1, c2], MODEL.upper, MODEL.lower)  # type: ignore[arg-type]
    assert d.outcome is LinkOutcome.merged
    assert {d.child_id, *d.merge_from} == {"C1", "C2"}


def test_cannot_link_is_honoured() -> None:
    cand, event = _cand({}, "C1", {"agency_id": "gp-1"})
    d = decide(event, [cand], MODEL.upper, MODEL.lower, cannot_link=frozenset({"C1"}))  # type: ignore[arg-type]
    assert d.outcome is LinkOutcome.new_child
