"""Comparison levels as tables (Splink's test_comparison_level_lib): left, right, level."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.validate import validate
from services.matcher.compare import dob_one_digit, typo_close
from services.matcher.model import COMPARISONS
from services.matcher.standardise import Features, features, fold
from tests.support.events import make_event

NOW = datetime(2026, 11, 21, tzinfo=UTC)


def feats(**kwargs: Any) -> Features:
    std = validate(json.dumps(make_event(**kwargs)).encode(), NOW)
    assert not hasattr(std, "reason"), std
    return features(std)  # type: ignore[arg-type]


_BLANK: dict[str, Any] = {"event_id": "e", "agency_id": "a", "agency_kind": "school",
                          "agency_record_id": "r", "given": (), "middle": (), "family": (),
                          "other_names": (), "dob": None, "sex": "U", "nhs": None,
                          "postcode": None, "address": (), "town": "", "carers": ()}


def level(comparison: str, a: Features, b: Features) -> str:
    comp = next(c for c in COMPARISONS if c.name == comparison)
    return comp.level_of(a, b).name


@pytest.mark.parametrize(
    ("raw", "folded"),
    [("Climbié", "climbie"), ("O'Neill", "oneill"), ("Smith-Jones", "smith jones"),
     ("  ZOË  ", "zoe"), ("Łukasz", "lukasz"), ("", "")],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


GIVEN = [
    ("accent dropped", "Zoë", "Zoe", "exact"),
    ("case", "VICTORIA", "victoria", "exact"),
    ("nickname", "Elizabeth", "Beth", "equivalent"),
    ("nickname", "Elizabeth", "Liz", "equivalent"),
    ("diminutive across languages", "Alexander", "Sasha", "equivalent"),
    ("transliteration", "Mohammed", "Muhammad", "equivalent"),
    ("transliteration", "Mohammed", "Mohamed", "equivalent"),
    ("typo, sounds the same", "Victoria", "Victorai", "phonetic"),
    ("typo", "Martha", "Marhta", "close"),
    ("nickname", "Katherine", "Cathy", "equivalent"),
    ("phonetic", "Catharine", "Kathryn", "phonetic"),
    ("placeholder", "Baby", "Amara", "placeholder"),
    ("missing", None, "Amara", "null"),
    ("different", "Victoria", "Jamal", "else"),
]


@pytest.mark.parametrize(("desc", "left", "right", "expected"), GIVEN)
def test_given_name_levels(desc: str, left: str | None, right: str, expected: str) -> None:
    assert level("given_name", feats(given=left), feats(given=right)) == expected, desc


def test_given_name_found_among_other_names() -> None:
    a = feats(given="Anna", other_names=["Victoria"])
    assert level("given_name", a, feats(given="Victoria")) == "other_name"


def test_given_and_family_swapped() -> None:
    a, b = feats(given="Kouao", family="Anna"), feats(given="Anna", family="Kouao")
    assert level("given_name", a, b) == "swapped"
    assert level("family_name", a, b) == "part"


def test_given_and_family_swapped_with_a_typo() -> None:
    a, b = feats(given="Croker", family="Willism"), feats(given="William", family="Croker")
    assert level("given_name", a, b) == "swapped_close"
    assert level("family_name", a, b) == "part"


def test_swapped_with_another_given_name_is_not_explained() -> None:
    """Family name in the given slot, but the given name itself is a different name."""
    a, b = feats(given="Lomman", family="Brayden"), feats(given="Dylan", family="Lomman")
    assert level("given_name", a, b) == "else"


@pytest.mark.parametrize(("x", "y", "expected"), [
    ("william", "willism", True),  # one letter changed
    ("callum", "callu", True),  # one letter dropped
    ("anna", "anna", True),
    ("anna", "kouao", False),
    ("", "anna", False),
])
def test_typo_close(x: str, y: str, expected: bool) -> None:
    assert typo_close(x, y) is expected


FAMILY = [
    ("accent", "Climbié", "Climbie", "exact"),
    ("double-barrelled, one part", "Smith-Jones", "Jones", "part"),
    ("hyphen vs space", "Smith-Jones", "Smith Jones", "exact"),
    ("phonetic", "Smith", "Smyth", "phonetic"),
    ("typo", "Thompson", "Thomson", "close"),
    ("typo", "Kowalski", "Kowalsky", "phonetic"),
    ("different", "Climbié", "Okafor", "else"),
]


@pytest.mark.parametrize(("desc", "left", "right", "expected"), FAMILY)
def test_family_name_levels(desc: str, left: str, right: str, expected: str) -> None:
    assert level("family_name", feats(family=left), feats(family=right)) == expected, desc


DOB = [
    ("same", "2014-03-07", "2014-03-07", "exact"),
    ("day and month swapped", "2014-03-07", "2014-07-03", "day_month_swapped"),
    ("one digit", "2014-03-07", "2014-03-01", "one_digit"),
    ("one digit of the year", "2014-03-07", "2015-03-07", "one_digit"),
    ("two digits of the year transposed", "2014-03-07", "2041-03-07", "one_digit"),
    ("two digits of the day transposed", "2014-03-12", "2014-03-21", "one_digit"),
    ("month and day digits transposed", "2014-11-23", "2014-12-13", "one_digit"),
    ("two digits differ, not transposed", "2014-03-12", "2014-03-27", "else"),
    ("two digits apart swapped", "2014-03-17", "2014-07-13", "else"),
    ("year off by one", "2019-03-07", "2020-03-07", "year_off_by_one"),
    ("year off by one, earlier", "2020-03-07", "2019-03-07", "year_off_by_one"),
    ("year off by two", "2018-03-07", "2020-03-07", "else"),
    ("day and month swapped, another year", "2014-03-07", "2016-07-03", "else"),
    ("day and month swapped, year off by one", "2014-03-07", "2015-07-03", "else"),
    ("different", "2014-03-07", "2011-10-22", "else"),
    ("missing", None, "2014-03-07", "null"),
]


@pytest.mark.parametrize(("desc", "left", "right", "expected"), DOB)
def test_dob_levels(desc: str, left: str | None, right: str, expected: str) -> None:
    assert level("date_of_birth", feats(dob=left), feats(dob=right)) == expected, desc


def _one_digit_by_definition(a: str, b: str) -> bool:
    """One digit of YYYYMMDD differs, or exactly two adjacent ones, transposed."""
    sa, sb = a.replace("-", ""), b.replace("-", "")
    if not len(sa) == len(sb) == 8:
        return False
    diff = [i for i in range(8) if sa[i] != sb[i]]
    return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                              and (sa[diff[0]], sa[diff[1]]) == (sb[diff[1]], sb[diff[0]]))


_DIGITS = st.text(alphabet="0123-", min_size=6, max_size=10)


@settings(max_examples=2000)
@given(_DIGITS, _DIGITS)
def test_dob_one_digit_is_its_definition(a: str, b: str) -> None:
    """The scorer's fast form (first differing digit, then the rest) is the definition."""
    left, right = Features(**{**_BLANK, "dob": a}), Features(**{**_BLANK, "dob": b})
    assert dob_one_digit(left, right) is _one_digit_by_definition(a, b), (a, b)


ADDRESS: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("same", {}, {}, "exact"),
    ("abbreviation and spacing", {"line": "12 Somerset Rd", "postcode": "n179ej"}, {},
     "exact"),
    ("flat prefix", {"line": "Flat 12, Somerset Road"}, {}, "exact"),
    ("same postcode, other house", {"line": "40 Somerset Road"}, {}, "postcode"),
    ("postcode missing", {"postcode": None}, {}, "street"),
    ("same sector", {"postcode": "N17 9AB", "line": "3 High Road"}, {}, "sector"),
    ("same town only", {"postcode": "E1 6AN", "line": "3 High Road"}, {}, "town"),
]


@pytest.mark.parametrize(("desc", "left", "right", "expected"), ADDRESS)
def test_address_levels(desc: str, left: dict[str, Any], right: dict[str, Any],
                        expected: str) -> None:
    assert level("address", feats(**left), feats(**right)) == expected, desc


def test_agency_record_levels() -> None:
    a = feats(agency_id="gp-1", record_id="X")
    assert level("agency_record", a, feats(agency_id="gp-1", record_id="X")) == "same_record"
    assert level("agency_record", a, feats(agency_id="gp-1", record_id="Y")) == "other_record"
    assert level("agency_record", a, feats(agency_id="gp-2", record_id="X")) == "other_agency"


def test_every_comparison_is_null_first_and_else_last() -> None:
    for comp in COMPARISONS:
        assert comp.levels[0].is_null, comp.name
        assert comp.levels[-1].test(None, None) is True, comp.name  # type: ignore[arg-type]
