"""The one place for the level predicates: is this pair at this level of this comparison?

Pure functions of two Features. model.py orders them into comparisons (null first, else
last); a predicate may assume the levels before it were not met.
"""

from __future__ import annotations

from collections.abc import Callable

import jellyfish

from services.matcher.standardise import (
    PLACEHOLDER_GIVEN_NAMES,
    Features,
    equivalence_groups,
    phonetic,
)

__all__ = ["TF_VALUES", "Predicate", "close_enough", "dob_one_digit", "dob_swapped", "dob_year_off",
           "typo_close"]

Predicate = Callable[[Features, Features], bool]

CLOSE_NAME_JW = 0.88  # Jaro-Winkler above which two names are typing variants of each other
SIMILAR_NAME_JW = 0.80  # weaker: two or three keying errors in a longer name
SIMILAR_NAME_EDITS = 2  # Damerau-Levenshtein distance that still reads as a typo
TYPO_EDITS = 1  # one inserted, dropped, changed or transposed letter: a keying error


def close_enough(x: str, y: str, threshold: float = CLOSE_NAME_JW) -> bool:
    return bool(x and y) and jellyfish.jaro_winkler_similarity(x, y) >= threshold


def similar(x: str, y: str) -> bool:
    """Two or so keying errors apart: transposed, dropped or doubled letters."""
    if not x or not y or min(len(x), len(y)) < 4:
        return False
    return (jellyfish.damerau_levenshtein_distance(x, y) <= SIMILAR_NAME_EDITS
            or jellyfish.jaro_winkler_similarity(x, y) >= SIMILAR_NAME_JW)


def typo_close(x: str, y: str) -> bool:
    """The same name, or one keying error away: equal, sounds the same, Jaro-Winkler >=
    CLOSE_NAME_JW or one edit (Damerau-Levenshtein)."""
    if not x or not y:
        return False
    return (x == y or phonetic(x) == phonetic(y) or close_enough(x, y)
            or jellyfish.damerau_levenshtein_distance(x, y) <= TYPO_EDITS)


def _first(tokens: tuple[str, ...]) -> str:
    return tokens[0] if tokens else ""


def _joined(tokens: tuple[str, ...]) -> str:
    return "".join(tokens)


# --- given name ---------------------------------------------------------------------------

def given_null(a: Features, b: Features) -> bool:
    return not a.given or not b.given


def given_placeholder(a: Features, b: Features) -> bool:
    return " ".join(a.given) in PLACEHOLDER_GIVEN_NAMES or " ".join(b.given) in (
        PLACEHOLDER_GIVEN_NAMES
    )


def given_exact(a: Features, b: Features) -> bool:
    return _first(a.given) == _first(b.given) or _joined(a.given) == _joined(b.given)


def given_equivalent(a: Features, b: Features) -> bool:
    groups = equivalence_groups()
    ga = groups.get(_first(a.given), frozenset())
    return bool(ga & groups.get(_first(b.given), frozenset()))


def given_phonetic(a: Features, b: Features) -> bool:
    return phonetic(_first(a.given)) == phonetic(_first(b.given))


def given_close(a: Features, b: Features) -> bool:
    return close_enough(_first(a.given), _first(b.given))


def given_similar(a: Features, b: Features) -> bool:
    return similar(_first(a.given), _first(b.given))


def given_swapped(a: Features, b: Features) -> bool:
    """Given and family names recorded the wrong way round."""
    return bool(a.family) and a.given == b.family and a.family == b.given


def given_swapped_close(a: Features, b: Features) -> bool:
    """Given and family names the wrong way round, with a keying error in either or both."""
    return (bool(a.family) and bool(b.family)
            and typo_close(_joined(a.given), _joined(b.family))
            and typo_close(_joined(a.family), _joined(b.given)))


def given_other_name(a: Features, b: Features) -> bool:
    """One side's given name is among the other's middle, other or further given names."""
    ga, gb = _first(a.given), _first(b.given)
    names_b = set(b.given[1:] + b.middle + b.other_names)
    names_a = set(a.given[1:] + a.middle + a.other_names)
    return ga in names_b or gb in names_a


# --- family name --------------------------------------------------------------------------

def family_null(a: Features, b: Features) -> bool:
    return not a.family or not b.family


def family_exact(a: Features, b: Features) -> bool:
    return _joined(a.family) == _joined(b.family)


def family_phonetic(a: Features, b: Features) -> bool:
    return phonetic(_joined(a.family)) == phonetic(_joined(b.family))


def family_close(a: Features, b: Features) -> bool:
    return close_enough(_joined(a.family), _joined(b.family))


def family_similar(a: Features, b: Features) -> bool:
    return similar(_joined(a.family), _joined(b.family))


def family_part(a: Features, b: Features) -> bool:
    """Double-barrelled or hyphenated on one side, one of its parts on the other; or the
    names swapped (exactly or with a keying error)."""
    return (bool(set(a.family) & set(b.family)) or given_swapped(a, b)
            or given_swapped_close(a, b))


# --- date of birth ------------------------------------------------------------------------

def dob_null(a: Features, b: Features) -> bool:
    return not a.dob or not b.dob


def dob_exact(a: Features, b: Features) -> bool:
    return a.dob == b.dob


def dob_swapped(a: Features, b: Features) -> bool:
    """Day and month transposed (US-style entry): 2014-03-07 ~ 2014-07-03. Read off the ISO
    strings (YYYY-MM-DD, zero-padded), as `dob_year_off`: scored against every candidate, so
    no dates are made."""
    sa, sb = a.dob, b.dob
    if not (sa and sb):
        return False
    return sa[:4] == sb[:4] and sa[5:7] == sb[8:10] and sa[8:10] == sb[5:7]


def dob_one_digit(a: Features, b: Features) -> bool:
    """A keying error in YYYYMMDD: exactly one digit differs, or two adjacent digits are
    transposed (1941 for 1914, 12-13 for 11-23)."""
    sa, sb = (a.dob or "").replace("-", ""), (b.dob or "").replace("-", "")
    if not len(sa) == len(sb) == 8:
        return False
    i = 0  # the first digit that differs (scored against every candidate: kept cheap)
    while sa[i] == sb[i]:
        i += 1
        if i == 8:
            return False  # the same date
    return sa[i + 1:] == sb[i + 1:] or (i < 7 and sa[i] == sb[i + 1] and sa[i + 1] == sb[i]
                                        and sa[i + 2:] == sb[i + 2:])


def dob_year_off(a: Features, b: Features) -> bool:
    """Same day and month, year one apart."""
    sa, sb = a.dob, b.dob
    if not (sa and sb):
        return False
    return sa[4:] == sb[4:] and abs(int(sa[:4]) - int(sb[:4])) == 1


# --- sex ----------------------------------------------------------------------------------

def sex_null(a: Features, b: Features) -> bool:
    return a.sex in ("U", "X") or b.sex in ("U", "X")


def sex_exact(a: Features, b: Features) -> bool:
    return a.sex == b.sex


# --- address (postcode, town and tokens are one dependent comparison) ----------------------

def address_null(a: Features, b: Features) -> bool:
    return not (a.postcode or a.address) or not (b.postcode or b.address)


def address_exact(a: Features, b: Features) -> bool:
    return bool(a.postcode) and a.postcode == b.postcode and _house(a) == _house(b)


def _house(f: Features) -> tuple[str, ...]:
    """The first address line's tokens: house number and street."""
    return f.address[:3]


def address_postcode(a: Features, b: Features) -> bool:
    return bool(a.postcode) and a.postcode == b.postcode


def address_street(a: Features, b: Features) -> bool:
    """Same house and street in the same town, postcode missing or mistyped."""
    return bool(a.address) and _house(a) == _house(b) and (not a.town or a.town == b.town)


def address_sector(a: Features, b: Features) -> bool:
    """Same postcode sector ('N17 9'): the same neighbourhood."""
    pa, pb = a.postcode or "", b.postcode or ""
    return " " in pa and pa[:-2] == pb[:-2]


def address_town(a: Features, b: Features) -> bool:
    return bool(a.town) and a.town == b.town


# --- NHS number ---------------------------------------------------------------------------

def nhs_null(a: Features, b: Features) -> bool:
    return not a.nhs or not b.nhs


def nhs_exact(a: Features, b: Features) -> bool:
    return a.nhs == b.nhs


# --- carers -------------------------------------------------------------------------------

def carers_null(a: Features, b: Features) -> bool:
    return not any(map(any, a.carers)) or not any(map(any, b.carers))  # a carer: a name


def carers_name(a: Features, b: Features) -> bool:
    """A carer with the same (phonetic) given and family name on both sides."""
    keys_a = {(phonetic(g), phonetic(f)) for g, f in a.carers if g and f}
    return any((phonetic(g), phonetic(f)) in keys_a for g, f in b.carers if g and f)


def carers_family(a: Features, b: Features) -> bool:
    fam_a = {f for _, f in a.carers if f}
    return any(f in fam_a for _, f in b.carers if f)


# --- agency record ------------------------------------------------------------------------

def record_other_agency(a: Features, b: Features) -> bool:
    return a.agency_id != b.agency_id


def record_same(a: Features, b: Features) -> bool:
    return a.agency_record_id == b.agency_record_id


# --- term frequencies ---------------------------------------------------------------------

#: The value whose frequency adjusts a comparison's exact level (model.tf_comparisons).
TF_VALUES: dict[str, Callable[[Features], str]] = {
    "given_name": lambda f: _first(f.given),
    "family_name": lambda f: _joined(f.family),
}


def always(a: Features, b: Features) -> bool:
    """The 'else' level: reached when no earlier level matched."""
    return True
