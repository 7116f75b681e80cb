"""The one place for the decision rules of DESIGN §5 that a score alone cannot express.

Each rule looks at a pair's levels (and whether both records come from one agency) and caps
the pair's band; the first rule that applies wins. An agreeing NHS number or the same agency
record is identity evidence that no rule overrides. Rules are data: name, cap, reason, test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

from services.matcher.score import COMPARED, ScoredPair
from services.matcher.standardise import Features

__all__ = ["RULES", "Band", "Rule", "can_merge", "cap_of"]


class Band(IntEnum):
    never = 0  # must not join this child, whatever else does
    none = 1
    review = 2
    link = 3


GIVEN_STRONG = frozenset({"exact", "equivalent", "swapped"})
# Given names that cannot be two twins' names: they agree, or each is the other's family name.
GIVEN_NOT_A_TWIN = GIVEN_STRONG | {"swapped_close"}
# Explained differences: a keying error (also with the names swapped), a middle name.
GIVEN_EXPLAINED = GIVEN_STRONG | {"phonetic", "close", "swapped_close", "similar", "other_name"}
GIVEN_UNINFORMATIVE = frozenset({"null", "placeholder"})
# A twin's given name can be the other twin's middle name, and 'Baby Smith' can be either twin.
GIVEN_TWIN_LIKE = GIVEN_UNINFORMATIVE | {"other_name"}
DOB_AGREES = frozenset({"exact", "day_month_swapped", "one_digit", "year_off_by_one"})
DOB_SAME = frozenset({"exact", "day_month_swapped"})
ADDRESS_AGREES = frozenset({"exact", "postcode", "street"})


@dataclass(frozen=True, slots=True)
class Pair:
    """What a rule sees: the pair's level names, and whether one agency holds both records."""

    levels: dict[str, str]
    same_agency_other_record: bool

    @property
    def identified(self) -> bool:
        """Identity evidence: the same NHS number, or the same agency record."""
        return (self.levels["nhs_number"] == "exact"
                or self.levels["agency_record"] == "same_record")


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    cap: Band
    reason: str
    applies: Callable[[Pair], bool]


def _household_only(p: Pair) -> bool:
    return (p.levels["given_name"] not in GIVEN_EXPLAINED
            and p.levels["date_of_birth"] not in DOB_AGREES)


def _twins(p: Pair) -> bool:
    """Real evidence of two children born together: a birth date that agrees (or is a keying
    error of it), given names that do not clearly agree, and proof of two people: different
    valid NHS numbers, a different sex, or - DESIGN §5 - two live records at one agency with
    the same carer. One agency's two records without a shared carer are not proof: agencies
    keep duplicate records, and a duplicate with a mistyped name is the same child (an
    unexplained given name still goes to review, by the alias rule). With the carer, a
    typo-close given name is not enough to set them apart: twins' names are often near (Iqra
    and Isra)."""
    same_household_at_one_agency = p.same_agency_other_record and p.levels["carers"] == "name"
    contradicted = (p.levels["nhs_number"] == "else" or p.levels["sex"] == "else"
                    or same_household_at_one_agency)
    return (p.levels["date_of_birth"] in DOB_AGREES and contradicted
            and p.levels["given_name"] not in GIVEN_STRONG)


def _one_agency_twin_or_duplicate(p: Pair) -> bool:
    """Another record at the same agency, the same birth date (or a keying error of it), given
    names that do not clearly agree, and no shared carer to prove twins: a duplicate record
    with a mistyped name, or a twin whose carer is missing on one record. Nothing here tells
    which, so it is never an automatic link (synthetic 20k: Zara and Iqra Chaudhry, twins at
    one school, one record without a carer, were merged when this was left to the score).
    Given and family names swapped with a keying error are no twins' names: a twin's given
    name is not its co-twin's family name, which they share."""
    return (p.same_agency_other_record and p.levels["date_of_birth"] in DOB_AGREES
            and p.levels["given_name"] not in GIVEN_NOT_A_TWIN)


def _twin_like(p: Pair) -> bool:
    return (p.levels["date_of_birth"] in DOB_SAME
            and p.levels["given_name"] in GIVEN_TWIN_LIKE)


def _placeholder_loose(p: Pair) -> bool:
    return (p.levels["given_name"] in GIVEN_UNINFORMATIVE
            and p.levels["date_of_birth"] not in DOB_SAME)


def _corroboration(p: Pair) -> int:
    """Independent agreements beyond the names: birth date, address, a carer."""
    return ((p.levels["date_of_birth"] in DOB_SAME) + (p.levels["address"] in ADDRESS_AGREES)
            + (p.levels["carers"] == "name"))


def _thin(p: Pair) -> bool:
    corroboration = _corroboration(p)
    carers_differ = p.levels["carers"] in {"else", "family"}
    moved_without_dob = (p.levels["address"] == "else"
                         and p.levels["date_of_birth"] not in DOB_SAME)
    return corroboration == 0 or (corroboration == 1 and (carers_differ or moved_without_dob))


def _loose_name_no_dob(p: Pair) -> bool:
    return (p.levels["date_of_birth"] == "null"
            and p.levels["given_name"] not in GIVEN_STRONG)


def _siblings(p: Pair) -> bool:
    return (p.levels["date_of_birth"] == "else"
            and p.levels["given_name"] not in GIVEN_STRONG)


def _dob_differs(p: Pair) -> bool:
    return p.levels["date_of_birth"] == "else"


def _names_only(p: Pair) -> bool:
    return (p.levels["date_of_birth"] == "null"
            and p.levels["address"] not in ADDRESS_AGREES
            and p.levels["carers"] != "name")


def _alias(p: Pair) -> bool:
    return p.levels["given_name"] == "else"


def _nhs_differs(p: Pair) -> bool:
    return p.levels["nhs_number"] == "else"


RULES: tuple[Rule, ...] = (
    Rule("household_only", Band.none,
         "neither a given name nor a birth date agrees: a household, not a child",
         _household_only),
    Rule("twins", Band.never,
         "same birth date (or a keying error of it), given names that do not clearly agree, "
         "and a different NHS number or sex, or another record at one agency with the same "
         "carer: a twin, never the same child", _twins),
    Rule("one_agency_twin_or_duplicate", Band.review,
         "another record at the same agency with the same birth date and given names that do "
         "not clearly agree, and no shared carer: a duplicate or a twin, so a person decides",
         _one_agency_twin_or_duplicate),
    Rule("twin_like", Band.review,
         "the same birth date with a placeholder, missing or middle-name-only given name and "
         "nothing that identifies the record: it may be a twin, so a person decides",
         _twin_like),
    Rule("placeholder", Band.review,
         "a placeholder or missing given name and a birth date that is not the same",
         _placeholder_loose),
    Rule("siblings", Band.none,
         "birth dates disagree and given names agree at most loosely: a sibling", _siblings),
    Rule("dob_differs", Band.review,
         "birth dates that differ beyond a keying error: for a person to decide", _dob_differs),
    Rule("thin", Band.review,
         "none of birth date, address and carer agrees, or only one does while the carers "
         "differ or the address differs with no birth date to hold on to: a namesake is as "
         "likely as the same child", _thin),
    Rule("loose_name_no_dob", Band.review,
         "no birth date to compare and given names that agree only loosely: maybe a sibling",
         _loose_name_no_dob),
    Rule("names_only", Band.review,
         "no birth date to compare and neither the address nor a carer agrees: a namesake "
         "is as likely as the same child", _names_only),
    Rule("alias", Band.review,
         "a given name that disagrees with no explanation while the rest agrees: a possible "
         "alias, for a person to decide", _alias),
    Rule("nhs_differs", Band.review, "two different valid NHS numbers", _nhs_differs),
)


def can_merge(scored: ScoredPair) -> bool:
    """May this pair join two children into one? Merging is the costliest mistake, so only on
    identity evidence, or on a clearly agreeing given name and the same birth date. 'Baby
    Smith' could be either twin: it may join a child but never bridge two."""
    levels = dict(scored.levels)
    pair = Pair(levels, same_agency_other_record=False)
    return pair.identified or (levels["given_name"] in GIVEN_STRONG
                               and levels["date_of_birth"] in DOB_SAME)


def cap_of(event: Features, record: Features, scored: ScoredPair) -> tuple[Band, str | None]:
    """The band cap of the first rule that applies to this pair, and its name."""
    return _cap(scored.vector, event.agency_id == record.agency_id
                and event.agency_record_id != record.agency_record_id)


@lru_cache(maxsize=1 << 16)
def _cap(vector: tuple[str, ...], same_agency_other_record: bool) -> tuple[Band, str | None]:
    """cap_of, of what the rules see: the pair's levels (ScoredPair.vector) and whether one
    agency holds both records (an event's candidates repeat a few level vectors)."""
    pair = Pair(dict(zip(COMPARED, vector, strict=True)), same_agency_other_record)
    if pair.identified:
        return Band.link, None
    for rule in RULES:
        if rule.applies(pair):
            return rule.cap, rule.name
    return Band.link, None
