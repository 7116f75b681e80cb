"""The one place the synthetic evaluation set is made: children, six years of agency events, truth.

A stand-in for held-back real data (issue 3, part 6). Children live in households (1-4
children, twins, a few triplets) spread over towns and postcode districts; households move.
Agencies of every kind serve an area and an age range; each child is known to 1-6 of them
(most to 2-3), each agency keeping its own record of the child and publishing events about
it over time (registration, contacts, referral, update, transfer, closure). Each agency
record holds its own version of the child: nicknames, transliterations, typos, swapped or
wrong dates of birth, missing NHS numbers, postcode and address variants, carers recorded
differently, newborns registered as "Baby" and renamed later, and a few aliases. Hard
negatives are part of the design: twins, siblings and namesakes born close together.

Every rate is a constant below, with what it applies to. Pure and seeded: the same seed and
size give byte-identical files. Events are JSON lines valid as `schemas.ContactEventV1`, in
arrival order (occurred_at never decreases); truth lines are those `signpost.evaluation`
reads. Names, towns and streets come from `signpost.demo_data`; NHS numbers, carers,
practitioners and several variants are the demo generator's own (`signpost.demo`).
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate, combinations
from pathlib import Path
from typing import Any

from signpost.demo import (
    FLAT_P,
    REFERENCE_DATE,
    DemoAddress,
    DemoAgency,
    DemoCarer,
    _abbreviate_street,
    _carer,
    _dob_digit,
    _drop_accents,
    _drop_middle,
    _flat_form,
    _fold,
    _hyphen_part,
    _kind,
    _nhs_check_digit,
    _nhs_number,
    _postcode,
    _postcode_format,
    _practitioner,
    _swap_day_month,
    _swap_names,
)
from signpost.demo_data import (
    FAMILY_VARIANTS,
    MORE_NAMES,
    MORE_NICKNAMES,
    MORE_STREET_NAMES,
    MORE_TOWNS,
    NAME_GROUPS,
    NICKNAMES,
    STREET_NAMES,
    STREET_TYPES,
    TOWNS,
    TRANSLITERATED,
    Names,
)

__all__ = [
    "VARIATIONS",
    "WINDOW_START",
    "AgencyRecord",
    "Household",
    "Population",
    "Service",
    "SynthChild",
    "SynthSet",
    "SynthSummary",
    "make_population",
    "synthesise",
    "write_synth",
]

# --- time ----------------------------------------------------------------------------------
WINDOW_START = date(2020, 11, 1)  # events run from here to REFERENCE_DATE (ages 0-17 there)
WINDOW_DAYS = (REFERENCE_DATE - WINDOW_START).days  # about six years
MAX_AGE_DAYS = 18 * 365 - 10
YEAR = 365.25  # days

# --- population (rates per household or per child) ------------------------------------------
HOUSEHOLD_SIZES = ((1, 0.45), (2, 0.35), (3, 0.14), (4, 0.06))  # children, share of households
TWIN_BIRTH_P = 0.016  # a birth is twins (UK: about 1.5% of maternities are multiple)
TRIPLET_BIRTH_P = 0.0005  # a birth is triplets
MIN_SIBLING_GAP_DAYS = 300  # siblings of different births are born at least this far apart
NAMESAKE_P = 0.013  # a household's first child shares given and family name with an earlier
NAMESAKE_DAYS = 60  # child of the same town, born at most this many days apart
NAME_RANK_EXPONENT = 0.7  # the r-th name of a list is drawn with weight 1 / r**0.7 (Zipf-like)
MIDDLE_NAME_P = 0.5  # a child has a middle name
GOES_BY_MIDDLE_P = 0.08  # of children with a middle name: known by it day to day
NO_NHS_NUMBER_P = 0.02  # recently arrived: no NHS number yet, anywhere
TWIN_NHS_BLOCK_P = 0.5  # twins numbered in one batch: NHS numbers share the first 8 digits
SECOND_CARER_P = 0.45  # a second carer (a father or mother) besides the first
SHIELDED_P = 0.02  # of households
MOVE_P = 0.22  # a household moves during the window ...
SECOND_MOVE_P = 0.25  # ... and, having moved, moves again
MOVE_OTHER_TOWN_P = 0.25  # a move goes to another town (else within the town)
CHILDREN_PER_TOWN = 1000  # towns used: one per this many children, at least 2

# --- agencies ------------------------------------------------------------------------------
AGENCIES_PER_CHILD = ((1, 0.17), (2, 0.39), (3, 0.26), (4, 0.10), (5, 0.05), (6, 0.03))  # kinds
MOST_AGENCIES = 6  # a child changing school or GP counts the new one too, up to this many
KIND_WEIGHTS = (  # how likely each kind is among the agencies a child is known to
    ("gp", 5.0), ("school", 4.5), ("health_visitor", 3.0), ("hospital", 2.0),
    ("early_years", 1.5), ("social_care", 1.5), ("police", 0.8), ("education_welfare", 0.6),
    ("housing", 0.6), ("youth_justice", 0.4))
JOINED_AT_START_P = 0.6  # agencies publishing from day one; the rest join within two years
BACKFILL_DAYS = 90  # records already open when an agency joins are sent within this many days
ASCII_ONLY_AGENCY_P = 0.35  # systems storing ASCII only: every accent dropped
UPPER_CASE_AGENCY_P = 0.10  # systems upper-casing names and addresses (all police forces)
LEAD_SCHOOL_P = 0.4  # schools whose designated safeguarding lead is a lead professional
CHANGE_ON_MOVE_P = 0.7  # after a move to another area, the child changes GP / school there
FOLLOW_MOVE_P = 0.7  # an agency record learns of a move (else keeps the old address) ...
MOVE_LAG_DAYS = (0, 120)  # ... this many days after it
MOVE_UPDATE_P = 0.5  # ... and says so in an update event (else the next event shows it)

# --- variations: the share of agency records they touch, among records where they can ----
NICKNAME_P = 0.15  # a diminutive for the given name (Elizabeth -> Beth)
TRANSLITERATION_P = 0.25  # another spelling of a given or family name (Mohammed -> Muhammad)
ACCENT_DROPPED_P = 0.30  # accents dropped, at agencies that could keep them (Zoë -> Zoe)
TYPO_P = 0.04  # one letter inserted, deleted, substituted (keyboard) or transposed
DOUBLE_BARREL_P = 0.35  # one part of a double-barrelled family name, or a space for the hyphen
NAME_SWAP_P = 0.01  # given and family name swapped
KNOWN_BY_MIDDLE_P = 0.5  # a child known by the middle name: that name recorded as given name
MIDDLE_DROPPED_P = 0.40  # the middle name not recorded
DOB_SWAP_P = 0.02  # day and month swapped (only possible when the day is 12 or less)
DOB_DIGIT_P = 0.015  # one digit of the date of birth wrong
DOB_YEAR_P = 0.01  # the year one out
DOB_MISSING_P = 0.03  # no date of birth
POSTCODE_TYPO_P = 0.02  # one character of the postcode wrong (O/0, S/5, a neighbouring code)
POSTCODE_FORMAT_P = 0.15  # the postcode without its space, or in lower case
STREET_ABBREVIATED_P = 0.25  # Road -> Rd
FLAT_FORM_P = 0.35  # "Flat 2" joined to the street line, or left out
ADDRESS_MISSING_P = 0.02  # no address
NHS_HELD_HEALTH_P = 0.93  # health services hold the NHS number ...
NHS_HELD_OTHER_P = 0.35  # ... others mostly do not (about 40% of records have none)
NHS_MISTYPED_P = 0.01  # of held numbers: one digit wrong or two transposed (fails mod 11)
NHS_SPACED_P = 0.10  # of held numbers: written "943 476 5919"
SEX_UNKNOWN_P = 0.03  # sex recorded as U
CARER_MISSING_P = 0.12  # no carer recorded
CARER_OTHER_P = 0.15  # of children with two carers: only the second recorded (else both or first)
CARER_PHONE_KEPT_P = 0.7  # a carer's phone number, when there is one, recorded
CARER_SURNAME_AS_CHILD_P = 0.20  # a carer with another surname recorded under the child's
HOSPITAL_PLACEHOLDER_P = 0.7  # a birth recorded by the hospital as "Baby" (or no given name)
NEWBORN_PLACEHOLDER_P = 0.25  # other records opened in the first six weeks: a placeholder
UNBORN_P = 0.3  # of social care records of a child born in the window: referred before birth
HOSPITAL_BIRTH_P = 0.6  # a hospital record of a child born in the window starts at the birth
RENAME_UPDATE_P = 0.8  # a placeholder record sends an update once the baby is named
ALIAS_P = 0.0125  # of children known to 2+ agencies (1% of all): another given name at one

_OFFICE_HOURS = (8 * 3600, 18 * 3600)  # seconds of the day most agencies record events in
_ALL_HOURS_KINDS = ("police", "hospital")
_HEALTH_KINDS = ("gp", "hospital", "health_visitor")
_PLACEHOLDERS = ("Baby", "Baby", None)
_KEY_NEIGHBOURS = dict(zip(
    "qwertyuiopasdfghjklzxcvbnm",
    ("wa", "qes", "wrd", "etf", "ryg", "tuh", "yij", "uok", "ipl", "ol", "qsz", "awdx", "sefc",
     "drgv", "fthb", "gyjn", "hukm", "jilm", "kop", "asx", "zsdc", "xdfv", "cfgb", "vghn",
     "bhjm", "njk"), strict=True))
_POSTCODE_CONFUSIONS = {"O": "0", "0": "O", "I": "1", "1": "I", "S": "5", "5": "S", "B": "8",
                        "8": "B", "Z": "2", "2": "Z"}

Record = dict[str, Any]  # {"child": <event child>, "carers": [<event carer>]}
Variant = Callable[[Record, random.Random], None]


# --- names ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pool:
    """Names drawn by rank: the first is the most common."""

    names: tuple[str, ...]
    cum_weights: tuple[float, ...]

    def draw(self, rng: random.Random) -> str:
        return rng.choices(self.names, cum_weights=self.cum_weights)[0]


def _pool(*lists: Sequence[str]) -> _Pool:
    names = tuple(dict.fromkeys(n for names in lists for n in names))
    weights = [1 / (rank + 1) ** NAME_RANK_EXPONENT for rank in range(len(names))]
    return _Pool(names, tuple(accumulate(weights)))


@dataclass(frozen=True)
class _Community:
    """One community's names: the demo's lists widened by demo_data.MORE_NAMES."""

    names: Names
    girls: _Pool
    boys: _Pool
    families: _Pool


def _community(group: str, names: Names) -> _Community:
    more = dict(MORE_NAMES)[group]
    merged = Names(*(tuple(dict.fromkeys((*a, *b))) for a, b in zip(
        (names.girls, names.boys, names.families, names.women, names.men),
        (more.girls, more.boys, more.families, more.women, more.men), strict=True)))
    return _Community(merged, _pool(merged.girls), _pool(merged.boys), _pool(merged.families))


_COMMUNITIES = tuple(_community(group, names) for group, _share, names in NAME_GROUPS)
_COMMUNITY_CUM = tuple(accumulate(share for _group, share, _names in NAME_GROUPS))


def _variants_of(table: Sequence[tuple[str, tuple[str, ...]]]) -> dict[str, tuple[str, ...]]:
    """name -> every variant listed for it (a name may have several rows)."""
    merged: dict[str, tuple[str, ...]] = {}
    for name, variants in table:
        merged[name] = tuple(dict.fromkeys((*merged.get(name, ()), *variants)))
    return merged


_GIVEN_VARIANTS = _variants_of((*NICKNAMES, *MORE_NICKNAMES))
_FAMILY_VARIANTS = _variants_of(FAMILY_VARIANTS)


def _key(name: str) -> str:
    return name.lower() if name.isascii() else _fold(name).lower()


def _related(a: str, b: str) -> bool:
    """Names a reader could take for one another: equal, variants, or the same first 3 letters."""
    if _key(a)[:3] == _key(b)[:3]:
        return True
    va, vb = {a, *_GIVEN_VARIANTS.get(a, ())}, {b, *_GIVEN_VARIANTS.get(b, ())}
    return bool(va & vb)


def _distinct_name(rng: random.Random, pool: _Pool, taken: Sequence[str]) -> str:
    for _ in range(200):
        name = pool.draw(rng)
        if not any(_related(name, other) for other in taken):
            return name
    return next(n for n in pool.names if not any(_related(n, o) for o in taken))


# --- population -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Area:
    """The towns in use and their postcode districts (districts of one town are neighbours)."""

    towns: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def districts(self) -> tuple[tuple[str, str], ...]:
        return tuple((town, d) for town, districts in self.towns for d in districts)

    def districts_of(self, town: str) -> tuple[str, ...]:
        return next(districts for name, districts in self.towns if name == town)


def _area(children: int) -> _Area:
    towns = (*TOWNS, *MORE_TOWNS)
    return _Area(towns[:max(2, min(len(towns), round(children / CHILDREN_PER_TOWN)))])


@dataclass(frozen=True)
class Home:
    """Where a household lives from day `since` (days from WINDOW_START; negative: before)."""

    since: int
    town: str
    district: str
    address: DemoAddress


@dataclass(frozen=True)
class Household:
    id: str
    community: int  # index into the communities of demo_data.NAME_GROUPS
    carers: tuple[DemoCarer, ...]
    homes: tuple[Home, ...]  # in time order; the first since before the window
    shielded: bool
    pref: float  # which of several local GPs, schools, ... the family uses

    def home_at(self, day: int) -> Home:
        return next(h for h in reversed(self.homes) if h.since <= day)


@dataclass(frozen=True)
class SynthChild:
    """The truth about one child; agencies record variants of it."""

    child_id: str
    index: int
    household: Household
    birth: int  # id of the birth within the household: twins share it
    given_name: str
    middle_names: str | None
    family_name: str
    date_of_birth: date
    sex: str
    nhs_number: str | None
    goes_by_middle: bool

    @property
    def born(self) -> int:
        """Day of birth, counted from WINDOW_START."""
        return (self.date_of_birth - WINDOW_START).days


def _address(rng: random.Random, town: str, district: str) -> DemoAddress:
    street = (f"{rng.randint(1, 180)} {rng.choice((*STREET_NAMES, *MORE_STREET_NAMES))} "
              f"{rng.choice(STREET_TYPES)[0]}")
    flat = (f"Flat {rng.randint(1, 12)}",) if rng.random() < FLAT_P else ()
    return DemoAddress(lines=(*flat, street), town=town, postcode=_postcode(rng, (district,)))


def _move(rng: random.Random, area: _Area, town: str) -> tuple[str, str]:
    if rng.random() < MOVE_OTHER_TOWN_P:
        town = rng.choice([name for name, _d in area.towns if name != town])
    return town, rng.choice(area.districts_of(town))


def _homes(rng: random.Random, area: _Area, town: str, district: str) -> tuple[Home, ...]:
    homes = [Home(-10 * MAX_AGE_DAYS, town, district, _address(rng, town, district))]
    day = 30
    while rng.random() < (MOVE_P if len(homes) == 1 else SECOND_MOVE_P):
        if day + 90 >= WINDOW_DAYS - 30:
            break
        day = rng.randint(day + 90, WINDOW_DAYS - 30)
        town, district = _move(rng, area, town)
        homes.append(Home(day, town, district, _address(rng, town, district)))
    return tuple(homes)


def _carers(rng: random.Random, names: Names, family: str) -> tuple[DemoCarer, ...]:
    """The demo's first carer; then, beside a parent, sometimes the other parent."""
    first = _carer(rng, names, family)
    if first.relationship not in ("mother", "father") or rng.random() >= SECOND_CARER_P:
        return (first,)
    other = "father" if first.relationship == "mother" else "mother"
    given = rng.choice(names.men if other == "father" else names.women)
    surname = family.split("-")[0] if rng.random() < 0.8 else rng.choice(names.families)
    phone = f"07700 900{rng.randrange(1000):03d}" if rng.random() < 0.5 else None
    return first, DemoCarer(given, surname, other, phone)


def _draw(rng: random.Random, table: Sequence[tuple[int, float]]) -> int:
    """A value of a (value, weight) table."""
    return rng.choices([value for value, _w in table], [w for _v, w in table])[0]


def _random_dob(rng: random.Random) -> date:
    return REFERENCE_DATE - timedelta(days=rng.randint(0, MAX_AGE_DAYS))


def _births(rng: random.Random, size: int, first: date | None) -> list[date]:
    """Dates of birth of a household's children; a twin or triplet birth repeats its date."""
    dobs: list[date] = []
    for _ in range(50):
        if len(dobs) >= size:
            break
        dob = first if first and not dobs else _random_dob(rng)
        if any(abs((dob - d).days) < MIN_SIBLING_GAP_DAYS for d in dobs):
            continue
        draw = rng.random()
        multiple = 3 if draw < TRIPLET_BIRTH_P else 2 if draw < TWIN_BIRTH_P else 1
        dobs.extend([dob] * (multiple if len(dobs) + multiple <= 4 else 1))
    return dobs


def _nhs_numbers(rng: random.Random, count: int) -> list[str | None]:
    """NHS numbers for one birth; twins sometimes from one batch (first 8 digits shared)."""
    if rng.random() < NO_NHS_NUMBER_P:
        return [None] * count
    if count == 1 or rng.random() >= TWIN_NHS_BLOCK_P:
        return [_nhs_number(rng) for _ in range(count)]
    stem, numbers = _nhs_number(rng)[:8], list[str | None]()
    for ninth in rng.sample("0123456789", 10):
        check = _nhs_check_digit(stem + ninth)
        if check is not None and len(numbers) < count:
            numbers.append(f"{stem}{ninth}{check}")
    return numbers


def _draw_community(rng: random.Random) -> int:
    return rng.choices(range(len(_COMMUNITIES)), cum_weights=_COMMUNITY_CUM)[0]


def _household(rng: random.Random, area: _Area, earlier: Sequence[SynthChild]) -> list[SynthChild]:
    """One home's children; now and then the first is a namesake of an earlier child."""
    target = rng.choice(earlier) if earlier and rng.random() < NAMESAKE_P else None
    if target is None:
        community, (town, district) = _draw_community(rng), rng.choice(area.districts)
        family = _COMMUNITIES[community].families.draw(rng)
    else:
        community, town = target.household.community, target.household.homes[0].town
        district, family = rng.choice(area.districts_of(town)), target.family_name
    names = _COMMUNITIES[community]
    household = Household(f"h-{len(earlier) + 1:06d}", community,
                          _carers(rng, names.names, family), _homes(rng, area, town, district),
                          rng.random() < SHIELDED_P, rng.random())
    first = None if target is None else _namesake_dob(rng, target.date_of_birth)
    dobs = _births(rng, _draw(rng, HOUSEHOLD_SIZES), first)
    return _children(rng, household, family, dobs, len(earlier), target)


def _namesake_dob(rng: random.Random, dob: date) -> date:
    oldest = REFERENCE_DATE - timedelta(days=MAX_AGE_DAYS)
    moved = dob + timedelta(days=rng.randint(-NAMESAKE_DAYS, NAMESAKE_DAYS))
    return min(REFERENCE_DATE, max(oldest, moved))


def _children(rng: random.Random, household: Household, family: str, dobs: list[date],
              first_index: int, target: SynthChild | None) -> list[SynthChild]:
    names, taken = _COMMUNITIES[household.community], list[str]()
    births = {dob: i for i, dob in enumerate(dict.fromkeys(dobs))}
    numbers = {dob: _nhs_numbers(rng, dobs.count(dob)) for dob in births}
    children: list[SynthChild] = []
    for i, dob in enumerate(dobs):
        sex = target.sex if target and i == 0 else rng.choice("FM")
        pool = names.girls if sex == "F" else names.boys
        given = target.given_name if target and i == 0 else _distinct_name(rng, pool, taken)
        taken.append(given)
        middle = _distinct_name(rng, pool, [given]) if rng.random() < MIDDLE_NAME_P else None
        index = first_index + i
        children.append(SynthChild(
            f"c-{index + 1:06d}", index, household, births[dob], given, middle, family, dob,
            sex, numbers[dob].pop(), middle is not None and rng.random() < GOES_BY_MIDDLE_P))
    return children


def _hard_negatives(children: Sequence[SynthChild]) -> list[tuple[str, str, str]]:
    """Twins (one birth), siblings (one household), namesakes (same name, born close)."""
    pairs: list[tuple[str, str, str]] = []
    homes: defaultdict[str, list[SynthChild]] = defaultdict(list)
    names: defaultdict[tuple[str, str], list[SynthChild]] = defaultdict(list)
    for child in children:
        homes[child.household.id].append(child)
        names[_key(child.given_name), _key(child.family_name)].append(child)
    for members in homes.values():
        for a, b in combinations(members, 2):
            pairs.append((a.child_id, b.child_id, "twin" if a.birth == b.birth else "sibling"))
    for group in names.values():
        for a, b in combinations(group, 2):
            if (a.household.id != b.household.id
                    and a.household.homes[0].town == b.household.homes[0].town
                    and abs((a.date_of_birth - b.date_of_birth).days) <= NAMESAKE_DAYS):
                pairs.append((a.child_id, b.child_id, "namesake"))
    return pairs


# --- agencies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """A kind of service: who runs it, over what area, for what ages, how it records."""

    label: str
    kind: str
    scope: str  # "district" or "town"
    children_each: int  # one agency per this many children of its area (0: one per area)
    ages: tuple[int, int]
    pattern: str  # "ongoing" (registered for years), "episode" (a case), "incidents"
    per_year: float  # further events per year of an ongoing record or an episode
    most: int  # most further events one record sends
    staff: tuple[int, int]


SPECS = (
    _Spec("gp", "gp", "district", 500, (0, 17), "ongoing", 0.3, 6, (2, 4)),
    _Spec("primary", "school", "district", 450, (4, 10), "ongoing", 0.3, 4, (2, 4)),
    _Spec("secondary", "school", "town", 1200, (11, 17), "ongoing", 0.3, 4, (3, 5)),
    _Spec("health_visitor", "health_visitor", "town", 2500, (0, 4), "ongoing", 1.0, 4, (2, 4)),
    _Spec("early_years", "early_years", "district", 800, (2, 4), "ongoing", 0.4, 3, (2, 3)),
    _Spec("hospital", "hospital", "town", 6000, (0, 17), "incidents", 0.0, 3, (3, 5)),
    _Spec("social_care", "social_care", "town", 3000, (0, 17), "episode", 3.0, 6, (4, 8)),
    _Spec("police", "police", "town", 0, (0, 17), "incidents", 0.0, 3, (2, 4)),
    _Spec("education_welfare", "education_welfare", "town", 0, (5, 15), "episode", 3.0, 6,
          (2, 3)),
    _Spec("housing", "housing", "town", 0, (0, 17), "incidents", 0.0, 2, (2, 3)),
    _Spec("youth_justice", "youth_justice", "town", 0, (10, 17), "episode", 5.0, 8, (2, 4)),
)


@dataclass(frozen=True)
class Service:
    """One agency with its area, the day it started publishing, and its system's habits."""

    agency: DemoAgency
    spec: _Spec
    area: str  # a postcode district or a town
    joined: int  # day (from WINDOW_START) of its first events
    ascii_only: bool
    upper_case: bool


def _services(rng: random.Random, area: _Area, children: int) -> list[Service]:
    per_district = children / len(area.districts)
    services: list[Service] = []
    counters: Counter[str] = Counter()
    for spec in SPECS:
        for town, districts in area.towns:
            places = districts if spec.scope == "district" else (town,)
            share = per_district * (1 if spec.scope == "district" else len(districts))
            count = max(1, round(share / spec.children_each)) if spec.children_each else 1
            for place in places:
                for _ in range(count):
                    counters[spec.kind] += 1
                    services.append(_service(rng, spec, place, counters[spec.kind]))
    return services


def _service(rng: random.Random, spec: _Spec, place: str, number: int) -> Service:
    agency_id = f"{spec.kind.replace('_', '-')}-{number:04d}"
    lead = spec.kind == "social_care" or (spec.kind == "school" and rng.random() < LEAD_SCHOOL_P)
    staff = tuple(_practitioner(rng, _kind(spec.kind), agency_id, i, lead)
                  for i in range(rng.randint(*spec.staff)))
    joined = 0 if rng.random() < JOINED_AT_START_P else rng.randint(1, 730)
    upper = spec.kind == "police" or rng.random() < UPPER_CASE_AGENCY_P
    return Service(DemoAgency(agency_id, spec.kind, staff), spec, place, joined,
                   rng.random() < ASCII_ONLY_AGENCY_P, upper)


@dataclass(frozen=True)
class Population:
    """The children (truth), the agencies, and the hard-negative pairs among the children."""

    children: tuple[SynthChild, ...]
    services: tuple[Service, ...]
    hard_negatives: tuple[tuple[str, str, str], ...]  # (child a, child b, kind)
    local: dict[tuple[str, str], tuple[Service, ...]] = field(repr=False)  # (label, area)

    def service_for(self, label: str, home: Home, pref: float) -> Service:
        spec = next(s for s in SPECS if s.label == label)
        options = self.local[label, home.district if spec.scope == "district" else home.town]
        return options[int(pref * len(options))]


def make_population(children: int, rng: random.Random) -> Population:
    """`children` children in households over towns, and the agencies serving them."""
    area, made = _area(children), list[SynthChild]()
    while len(made) < children:
        made.extend(_household(rng, area, made))
    made = made[:children]
    services = _services(rng, area, children)
    local: defaultdict[tuple[str, str], list[Service]] = defaultdict(list)
    for service in services:
        local[service.spec.label, service.area].append(service)
    return Population(tuple(made), tuple(services), tuple(_hard_negatives(made)),
                      {key: tuple(value) for key, value in local.items()})


# --- variations: what one agency wrote down ---------------------------------------------------


def _nickname(rec: Record, rng: random.Random) -> None:
    given = rec["child"]["given_name"]
    options = [v for v in _GIVEN_VARIANTS.get(given, ()) if v not in TRANSLITERATED]
    if options:
        rec["child"]["given_name"] = rng.choice(options)


def _transliterate(rec: Record, rng: random.Random) -> None:
    child = rec["child"]
    given = [v for v in _GIVEN_VARIANTS.get(child["given_name"], ()) if v in TRANSLITERATED]
    options = [("given_name", v) for v in given] + [
        ("family_name", v) for v in _FAMILY_VARIANTS.get(child["family_name"], ())]
    if options:
        name_field, variant = rng.choice(options)
        child[name_field] = variant


def _typo(rec: Record, rng: random.Random) -> None:
    """One letter inserted, deleted, substituted by a keyboard neighbour, or transposed."""
    name_field = "given_name" if rng.random() < 0.6 else "family_name"
    name: str = rec["child"][name_field]
    if len(name) < 3:
        return
    i = rng.randrange(1, len(name) - 1)
    near = _KEY_NEIGHBOURS.get(name[i].lower(), "aeiou")
    rec["child"][name_field] = rng.choice((
        name[:i] + rng.choice(near) + name[i:],
        name[:i] + name[i + 1:],
        name[:i] + rng.choice(near) + name[i + 1:],
        name[:i] + name[i + 1] + name[i] + name[i + 2:],
    ))


def _dob_year(rec: Record, rng: random.Random) -> None:
    dob = date.fromisoformat(rec["child"]["date_of_birth"])
    day = 28 if (dob.month, dob.day) == (2, 29) else dob.day
    later = dob.replace(year=dob.year + 1, day=day)
    wrong = later if later <= REFERENCE_DATE and rng.random() < 0.5 else dob.replace(
        year=dob.year - 1, day=day)
    rec["child"]["date_of_birth"] = wrong.isoformat()


def _drop_dob(rec: Record, rng: random.Random) -> None:
    rec["child"]["date_of_birth"] = None


def _sex_unknown(rec: Record, rng: random.Random) -> None:
    rec["child"]["sex"] = "U"


def _mistype_nhs(rec: Record, rng: random.Random) -> None:
    """One digit changed or two neighbours swapped, so that the mod-11 check fails."""
    number = rec["child"]["nhs_number"]
    for _ in range(20 if number else 0):
        i = rng.randrange(9)
        wrong = (number[:i] + number[i + 1] + number[i] + number[i + 2:] if rng.random() < 0.5
                 else number[:i] + rng.choice("0123456789".replace(number[i], "")) + number[i + 1:])
        if _nhs_check_digit(wrong[:9]) != int(wrong[9]):
            rec["child"]["nhs_number"] = wrong
            return


def _space_nhs(rec: Record, rng: random.Random) -> None:
    n = rec["child"]["nhs_number"]
    if n and " " not in n:
        rec["child"]["nhs_number"] = f"{n[:3]} {n[3:6]} {n[6:]}"


def _drop_carers(rec: Record, rng: random.Random) -> None:
    rec["carers"] = []


def _carer_surname_as_child(rec: Record, rng: random.Random) -> None:
    for carer in rec["carers"]:
        carer["family_name"] = rec["child"]["family_name"]


def _postcode_typo(rec: Record, rng: random.Random) -> None:
    """A letter/digit confusion (O/0, S/5) or one character of the code wrong."""
    code: str = rec["child"]["address"]["postcode"]
    i = rng.choice([j for j, c in enumerate(code) if c != " " and j > 0])
    char = code[i]
    alphabet = "0123456789" if char.isdigit() else "ABDEFGHJLNPQRSTUWXYZ"
    wrong = _POSTCODE_CONFUSIONS.get(char) or rng.choice(alphabet.replace(char, ""))
    rec["child"]["address"]["postcode"] = code[:i] + wrong + code[i + 1:]


def _drop_address(rec: Record, rng: random.Random) -> None:
    rec["child"]["address"] = None


ADDRESS_VARIATIONS: tuple[tuple[str, float, Variant], ...] = (
    ("postcode_typo", POSTCODE_TYPO_P, _postcode_typo),
    ("postcode_format", POSTCODE_FORMAT_P, _postcode_format),
    ("street_abbreviated", STREET_ABBREVIATED_P, _abbreviate_street),
    ("flat_form", FLAT_FORM_P, _flat_form),
)
# In this order: a nickname is chosen before accents are dropped or a typo is made.
VARIATIONS: tuple[tuple[str, float, Variant], ...] = (
    ("carer_surname_as_child", CARER_SURNAME_AS_CHILD_P, _carer_surname_as_child),
    ("carer_missing", CARER_MISSING_P, _drop_carers),
    ("nickname", NICKNAME_P, _nickname),
    ("transliteration", TRANSLITERATION_P, _transliterate),
    ("double_barrel_part", DOUBLE_BARREL_P, _hyphen_part),
    ("accent_dropped", ACCENT_DROPPED_P, _drop_accents),
    ("typo", TYPO_P, _typo),
    ("given_family_swapped", NAME_SWAP_P, _swap_names),
    ("middle_name_dropped", MIDDLE_DROPPED_P, _drop_middle),
    ("dob_day_month_swapped", DOB_SWAP_P, _swap_day_month),
    ("dob_one_digit", DOB_DIGIT_P, _dob_digit),
    ("dob_year_off_by_one", DOB_YEAR_P, _dob_year),
    ("dob_missing", DOB_MISSING_P, _drop_dob),
    ("sex_unknown", SEX_UNKNOWN_P, _sex_unknown),
    ("nhs_mistyped", NHS_MISTYPED_P, _mistype_nhs),
    ("nhs_spaced", NHS_SPACED_P, _space_nhs),
    *ADDRESS_VARIATIONS,
    ("address_missing", ADDRESS_MISSING_P, _drop_address),
)


def _vary(rec: Record, rng: random.Random, variations: Sequence[tuple[str, float, Variant]],
          applied: list[str]) -> None:
    """Apply each variation at its rate; name it in `applied` when it changed the record."""
    for name, probability, variant in variations:
        if rng.random() < probability:
            before = repr(rec)
            variant(rec, rng)
            if repr(rec) != before:
                applied.append(name)


def _address_dict(address: DemoAddress) -> dict[str, Any]:
    return {"lines": list(address.lines), "town": address.town, "postcode": address.postcode}


def _carer_dict(carer: DemoCarer, rng: random.Random) -> dict[str, Any]:
    phone = carer.phone if rng.random() < CARER_PHONE_KEPT_P else None
    return {"given_name": carer.given_name, "family_name": carer.family_name,
            "relationship": carer.relationship, "phone": phone, "email": None}


def _recorded_carers(carers: Sequence[DemoCarer], rng: random.Random,
                     applied: list[str]) -> list[dict[str, Any]]:
    """Both carers, the first only, or (sometimes) the second only."""
    if len(carers) == 1:
        return [_carer_dict(carers[0], rng)]
    draw = rng.random()
    if draw < CARER_OTHER_P:
        applied.append("carer_other_recorded")
        return [_carer_dict(carers[1], rng)]
    return [_carer_dict(c, rng) for c in (carers if draw < 0.6 else carers[:1])]


def _true_record(child: SynthChild, home: Home, alias: str | None, rng: random.Random,
                 applied: list[str]) -> Record:
    given, middle = alias or child.given_name, child.middle_names
    if alias is None and child.goes_by_middle and rng.random() < KNOWN_BY_MIDDLE_P:
        given, middle = middle or given, None
        applied.append("middle_as_given")
    return {
        "child": {"given_name": given, "middle_names": middle, "family_name": child.family_name,
                  "other_names": [], "date_of_birth": child.date_of_birth.isoformat(),
                  "sex": child.sex, "nhs_number": child.nhs_number,
                  "address": _address_dict(home.address)},
        "carers": _recorded_carers(child.household.carers, rng, applied),
    }


def _recorded(child: SynthChild, service: Service, home: Home, alias: str | None,
              rng: random.Random) -> tuple[Record, list[str]]:
    """What one agency wrote down about `child` when it opened its record."""
    applied: list[str] = []
    rec = _true_record(child, home, alias, rng, applied)
    held = NHS_HELD_HEALTH_P if service.spec.kind in _HEALTH_KINDS else NHS_HELD_OTHER_P
    if rec["child"]["nhs_number"] and rng.random() >= held:
        rec["child"]["nhs_number"] = None
        applied.append("nhs_missing")
    _vary(rec, rng, VARIATIONS, applied)
    if service.ascii_only:
        _vary(rec, rng, (("accent_dropped", 1.0, _drop_accents),), applied)
    if service.upper_case:
        rec = {"child": _upper(rec["child"]), "carers": [_upper(c) for c in rec["carers"]]}
    return rec, applied


def _upper(person: dict[str, Any]) -> dict[str, Any]:
    """Names and address in capitals, as some systems keep them."""
    out: dict[str, Any] = {k: v.upper() if isinstance(v, str) and k.endswith("name") else v
                           for k, v in person.items()}
    if out.get("middle_names"):
        out["middle_names"] = out["middle_names"].upper()
    if out.get("address"):
        a = out["address"]
        out["address"] = {"lines": [line.upper() for line in a["lines"]],
                          "town": a["town"].upper(), "postcode": a["postcode"].upper()}
    return out


# --- agency records: when each agency knew the child, and what it sent -----------------------


@dataclass(frozen=True)
class _Stint:
    """An agency's record of a child before identities are drawn: planned days, last day."""

    service: Service
    days: list[tuple[int, str]]  # (day, event type), the first opening the record
    stop: int  # the record's last day in the window (exclusive)


@dataclass
class AgencyRecord:
    """One agency's record of one child: its versions of the child and the events it sent."""

    child: SynthChild
    service: Service
    record_id: str
    practitioner: dict[str, Any]
    alias: bool
    applied: list[str]  # variations that changed this record's identity
    versions: list[tuple[int, Record]]  # (from day, identity), in time order
    events: list[tuple[int, int, str, int, int]] = field(default_factory=list)
    # (day, second of day, event type, version index, event id as a 128-bit int)


def _poisson(rng: random.Random, mean: float) -> int:
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _day(child: SynthChild, years: float) -> int:
    return child.born + round(years * YEAR)


def _school_start(child: SynthChild, years_after_reception: int) -> int:
    """1 September of reception (the school year a child turns 5) plus some years."""
    dob = child.date_of_birth
    year = dob.year + (4 if dob.month < 9 else 5) + years_after_reception
    return (date(year, 9, 1) - WINDOW_START).days


def _ongoing_span(child: SynthChild, label: str, rng: random.Random) -> tuple[int, int]:
    reception, secondary = _school_start(child, 0), _school_start(child, 7)
    spans = {
        "gp": lambda: (child.born + rng.randint(5, 42), WINDOW_DAYS),
        "primary": lambda: (reception, secondary - rng.randint(20, 50)),
        "secondary": lambda: (secondary, _day(child, 18)),
        "health_visitor": lambda: (child.born + rng.randint(10, 14), _day(child, 5)),
        "early_years": lambda: (child.born + rng.randint(730, 1095), reception),
    }
    return spans[label]()


def _first_day(service: Service, start: int, rng: random.Random) -> int:
    """The record's first event: when it opened, or when its agency joined (a backfill)."""
    if start < service.joined or start < 0:  # open before: sent when the agency joins
        return service.joined + rng.randint(0, BACKFILL_DAYS)
    return start


def _further(rng: random.Random, spec: _Spec, first: int, stop: int,
             least: int = 0) -> list[tuple[int, str]]:
    if stop - first < 2:
        return []
    count = min(spec.most, max(least, _poisson(rng, spec.per_year * (stop - first) / YEAR)))
    return [(rng.randint(first + 1, stop - 1), rng.choice(("contact", "contact", "update")))
            for _ in range(count)]


def _pieces(child: SynthChild, label: str, start: int, end: int, pop: Population,
            rng: random.Random) -> list[tuple[Service, int, int]]:
    """Split a span where a house move makes the child change to a local agency."""
    household = child.household
    service = pop.service_for(label, household.home_at(start), household.pref)
    pieces: list[tuple[Service, int, int]] = []
    for home in household.homes[1:]:
        moved = pop.service_for(label, home, household.pref)
        if start < home.since < end and moved is not service and rng.random() < CHANGE_ON_MOVE_P:
            cut = min(home.since + rng.randint(7, 60), end - 1)
            pieces.append((service, start, cut))
            service, start = moved, cut
    pieces.append((service, start, end))
    return pieces


def _ongoing(child: SynthChild, spec: _Spec, pop: Population,
             rng: random.Random) -> list[_Stint]:
    """Registration, the odd contact or update, then a transfer or a closure."""
    start, end = _ongoing_span(child, spec.label, rng)
    if start >= min(end, WINDOW_DAYS) or end <= 0:
        return []
    stints = []
    pieces = _pieces(child, spec.label, start, end, pop, rng)
    for i, (service, begin, finish) in enumerate(pieces):
        stop = min(finish, WINDOW_DAYS)
        first = _first_day(service, begin, rng)
        if first >= stop:
            continue
        days = [(first, "registration"), *_further(rng, spec, first, stop)]
        moving_on = i + 1 < len(pieces) or spec.label == "primary"
        if finish < WINDOW_DAYS and (moving_on or rng.random() < 0.6):
            days.append((finish, "transfer" if moving_on else "closure"))
        stints.append(_Stint(service, days, stop))
    return stints


def _age_window(child: SynthChild, spec: _Spec) -> tuple[int, int]:
    return _day(child, spec.ages[0]), min(_day(child, spec.ages[1] + 1), WINDOW_DAYS)


def _episode(child: SynthChild, spec: _Spec, pop: Population,
             rng: random.Random) -> list[_Stint]:
    """A case: referral, contacts, and a closure if it closes within the window."""
    low, high = _age_window(child, spec)
    if spec.kind == "social_care" and child.born > 120 and rng.random() < UNBORN_P:
        start = child.born - rng.randint(30, 120)
    elif high - 30 > max(low, -200):
        start = rng.randint(max(low, -200), high - 30)
    else:
        return []
    end = start + rng.randint(30, 900)
    household = child.household
    service = pop.service_for(spec.label, household.home_at(start), household.pref)
    stop, first = min(end, WINDOW_DAYS), _first_day(service, start, rng)
    if first >= stop:
        return []
    days = [(first, "referral"), *_further(rng, spec, first, stop, least=1)]
    if end < WINDOW_DAYS:
        days.append((end, "closure"))
    return [_Stint(service, days, stop)]


def _incidents(child: SynthChild, spec: _Spec, pop: Population,
               rng: random.Random) -> list[_Stint]:
    """One to three contacts at random times (a birth, for a hospital and a newborn)."""
    low, high = _age_window(child, spec)
    low = max(low, 0)
    if high - low < 2:
        return []
    count = min(spec.most, rng.choices((1, 2, 3), (0.6, 0.3, 0.1))[0])
    days = sorted(rng.randint(low, high - 1) for _ in range(count))
    if spec.kind == "hospital" and child.born >= 0 and rng.random() < HOSPITAL_BIRTH_P:
        days[0] = child.born
    household = child.household
    service = pop.service_for(spec.label, household.home_at(days[0]), household.pref)
    planned = [(day, "contact") for day in days if day >= service.joined]
    planned += [(day + rng.randint(1, 14), "contact") for day, _t in planned
                if rng.random() < 0.25 and day + 15 < WINDOW_DAYS]
    planned.sort()
    return [_Stint(service, planned, WINDOW_DAYS)] if planned else []


_KIND_AGES = {kind: (min(s.ages[0] for s in SPECS if s.kind == kind),
                     max(s.ages[1] for s in SPECS if s.kind == kind)) for kind, _w in KIND_WEIGHTS}
_PATTERNS = {"ongoing": _ongoing, "episode": _episode, "incidents": _incidents}


def _eligible(child: SynthChild, kind: str) -> bool:
    """The child is of an age the kind serves at some point in the window."""
    low, high = _KIND_AGES[kind]
    return low < (WINDOW_DAYS - child.born) / YEAR and high + 1 > -child.born / YEAR


def _chosen_kinds(child: SynthChild, rng: random.Random) -> list[str]:
    """1-6 kinds of agency, most often 2-3, weighted towards the universal services."""
    eligible = [(kind, weight) for kind, weight in KIND_WEIGHTS if _eligible(child, kind)]
    wanted = _draw(rng, AGENCIES_PER_CHILD)
    chosen: list[str] = []
    while eligible and len(chosen) < wanted:
        kind = rng.choices([k for k, _w in eligible], [w for _k, w in eligible])[0]
        chosen.append(kind)
        eligible = [(k, w) for k, w in eligible if k != kind]
    return chosen


def _stints(child: SynthChild, pop: Population, rng: random.Random) -> list[_Stint]:
    stints = [stint for kind in _chosen_kinds(child, rng) for spec in SPECS if spec.kind == kind
              for stint in _PATTERNS[spec.pattern](child, spec, pop, rng)]
    if not stints:  # known to no agency within the window yet: a GP registration
        gp = pop.service_for("gp", child.household.homes[-1], child.household.pref)
        day = rng.randint(min(max(child.born + 5, gp.joined, 0), WINDOW_DAYS - 1), WINDOW_DAYS - 1)
        stints = [_Stint(gp, [(day, "registration")], WINDOW_DAYS)]
    stints.sort(key=lambda s: s.days[0][0])
    agencies = list(dict.fromkeys(s.service.agency.id for s in stints))[:MOST_AGENCIES]
    return [s for s in stints if s.service.agency.id in agencies]


def _placeholder(child: SynthChild, rec: Record, first: int,
                 rng: random.Random) -> tuple[dict[str, Any], int] | None:
    """A record opened before the baby was named: the placeholder identity, and the day the
    real name reaches the record. None when the record knew the name from the start."""
    real = rec["child"]
    if first < child.born:  # a pre-birth referral
        due = child.date_of_birth + timedelta(days=rng.randint(-14, 14))
        unborn = {**real, "given_name": rng.choice(("Unborn", "Unborn", None)),
                  "middle_names": None, "nhs_number": None, "sex": "U",
                  "date_of_birth": rng.choice((None, due.isoformat()))}
        return unborn, child.born + rng.randint(1, 30)
    if first - child.born > 42:
        return None
    birth_record = first == child.born
    if rng.random() >= (HOSPITAL_PLACEHOLDER_P if birth_record else NEWBORN_PLACEHOLDER_P):
        return None
    mother = next((c for c in child.household.carers if c.relationship == "mother"), None)
    family = mother.family_name if mother and rng.random() < 0.5 else real["family_name"]
    baby = {**real, "given_name": rng.choice(_PLACEHOLDERS), "middle_names": None,
            "family_name": family}
    return baby, max(first + 1, child.born + rng.randint(7, 60))


def _changes(child: SynthChild, stint: _Stint, rng: random.Random
             ) -> list[tuple[int, dict[str, Any]]]:
    """House moves this record learns of: (day it learns, new address)."""
    first, found = stint.days[0][0], []
    for home in child.household.homes[1:]:
        if first < home.since < stint.stop and rng.random() < FOLLOW_MOVE_P:
            learnt = home.since + rng.randint(*MOVE_LAG_DAYS)
            if learnt < stint.stop:
                found.append((learnt, _address_dict(home.address)))
    return found


def _moved(rec: Record, address: dict[str, Any], service: Service,
           rng: random.Random, applied: list[str]) -> dict[str, Any]:
    """The record's child with a new address, written in the agency's usual way."""
    scratch: Record = {"child": {"address": address}, "carers": []}
    _vary(scratch, rng, ADDRESS_VARIATIONS, applied)
    new = scratch["child"]["address"]
    return {**rec["child"], "address": _upper(scratch["child"])["address"]
            if service.upper_case else new}


def _versions(child: SynthChild, stint: _Stint, rec: Record, rng: random.Random,
              applied: list[str]) -> tuple[list[tuple[int, Record]], list[tuple[int, str]]]:
    """The record's identities over time, and the update events that announce changes."""
    service, first = stint.service, stint.days[0][0]
    placeholder = _placeholder(child, rec, first, rng)
    current = rec["child"]
    changes: list[tuple[int, str, dict[str, Any]]] = []
    if placeholder is not None:
        current = _upper(placeholder[0]) if service.upper_case else placeholder[0]
        changes.append((placeholder[1], "named", rec["child"]))
        applied.append("newborn_placeholder")
    changes += [(day, "moved", address) for day, address in _changes(child, stint, rng)]
    versions: list[tuple[int, Record]] = [(first, {"child": current, "carers": rec["carers"]})]
    updates: list[tuple[int, str]] = []
    for day, what, value in sorted(changes, key=lambda c: c[0]):
        if day >= stint.stop:
            continue
        if what == "named":
            current = {**current, **{k: value[k] for k in (
                "given_name", "middle_names", "family_name", "nhs_number", "sex",
                "date_of_birth")}}
            updates += [(day, "update")] if rng.random() < RENAME_UPDATE_P else []
        else:
            current = _moved({"child": current}, value, service, rng, applied)
            applied.append("house_move_followed")
            updates += [(day, "update")] if rng.random() < MOVE_UPDATE_P else []
        versions.append((day, {"child": current, "carers": rec["carers"]}))
    return versions, updates


def _record_id(service: Service, rng: random.Random, used: set[str]) -> str:
    code = _kind(service.spec.kind).code.upper()
    while (rid := f"{code}{rng.randrange(10**8):08d}") in used:
        pass
    used.add(rid)
    return rid


def _practitioner_dict(service: Service, rng: random.Random) -> dict[str, Any]:
    p = rng.choice(service.agency.practitioners)
    return {"id": p.id, "name": p.name, "role": p.role, "email": p.email, "phone": p.phone,
            "lead_professional": p.lead_professional}


def _record(child: SynthChild, stint: _Stint, alias: str | None, rng: random.Random,
            used: set[str]) -> AgencyRecord:
    service, first = stint.service, stint.days[0][0]
    rec, applied = _recorded(child, service, child.household.home_at(first), alias, rng)
    versions, updates = _versions(child, stint, rec, rng, applied)
    record = AgencyRecord(child, service, _record_id(service, rng, used),
                          _practitioner_dict(service, rng), alias is not None, applied, versions)
    hours = (0, 86399) if service.spec.kind in _ALL_HOURS_KINDS else _OFFICE_HOURS
    starts = [day for day, _r in versions]
    for day, event_type in sorted([*stint.days, *updates], key=lambda d: d[0]):
        version = sum(1 for s in starts if s <= day) - 1
        record.events.append((day, rng.randint(*hours), event_type, version,
                              rng.getrandbits(128)))
    return record


def _alias_name(child: SynthChild, siblings: Sequence[str], rng: random.Random) -> str:
    """A different given name a carer might give: not a variant, not a sibling's."""
    community = _COMMUNITIES[child.household.community]
    pool = community.girls if child.sex == "F" else community.boys
    taken = [child.given_name, *([child.middle_names] if child.middle_names else []), *siblings]
    return _distinct_name(rng, pool, taken)


def _child_records(child: SynthChild, pop: Population, siblings: Sequence[str],
                   rng: random.Random, used: set[str]) -> list[AgencyRecord]:
    stints = _stints(child, pop, rng)
    alias_at = -1
    if len(stints) > 1 and rng.random() < ALIAS_P:
        alias_at = rng.randrange(1, len(stints))  # never the first agency to know the child
    return [_record(child, stint, _alias_name(child, siblings, rng) if i == alias_at else None,
                    rng, used) for i, stint in enumerate(stints)]


# --- the set: events in arrival order, truth, summary ------------------------------------------

_EPOCH = datetime(WINDOW_START.year, WINDOW_START.month, WINDOW_START.day, tzinfo=UTC)


@dataclass(frozen=True)
class SynthSummary:
    """What was made: sizes, hard-negative pairs by kind, and records touched per variation."""

    children: int
    households: int
    agencies: int
    records: int
    events: int
    alias_events: int
    hard_negatives: dict[str, int]
    variations: dict[str, int]  # variation -> agency records it changed


@dataclass(frozen=True)
class SynthSet:
    """A population and every agency record of it; `stream` gives the events in order."""

    population: Population
    records: tuple[AgencyRecord, ...]

    def stream(self) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """(event, truth row) in arrival order: by time; one child's events in its order."""
        order = sorted((day, second, record.child.index, r, e)
                       for r, record in enumerate(self.records)
                       for e, (day, second, _t, _v, _id) in enumerate(record.events))
        for _day, _second, _child, r, e in order:
            record = self.records[r]
            event = _event(record, record.events[e])
            row = {"event_id": event["event_id"], "child_id": record.child.child_id}
            yield event, {**row, "alias": True} if record.alias else row

    def hard_negative_rows(self) -> list[dict[str, Any]]:
        return [{"hard_negative": [a, b], "kind": kind}
                for a, b, kind in self.population.hard_negatives]

    def summary(self) -> SynthSummary:
        variations: Counter[str] = Counter()
        for record in self.records:
            variations.update(dict.fromkeys(record.applied, 1))
        pop = self.population
        return SynthSummary(
            children=len(pop.children),
            households=len({c.household.id: 1 for c in pop.children}),
            agencies=len(pop.services), records=len(self.records),
            events=sum(len(r.events) for r in self.records),
            alias_events=sum(len(r.events) for r in self.records if r.alias),
            hard_negatives=dict(Counter(kind for _a, _b, kind in pop.hard_negatives)),
            variations=dict(sorted(variations.items())))


def _event(record: AgencyRecord, planned: tuple[int, int, str, int, int]) -> dict[str, Any]:
    day, second, event_type, version, event_id = planned
    identity = record.versions[version][1]
    agency = record.service.agency
    return {
        "schema_version": 1,
        "event_id": str(uuid.UUID(int=event_id, version=4)),
        "event_type": event_type,
        "occurred_at": (_EPOCH + timedelta(days=day, seconds=second)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"),
        "agency": {"id": agency.id, "kind": agency.kind},
        "agency_record_id": record.record_id,
        "child": identity["child"],
        "carers": identity["carers"],
        "practitioner": record.practitioner,
        "shielded": record.child.household.shielded,
    }


def synthesise(children: int, seed: int) -> SynthSet:
    """The synthetic set for `children` children; the same arguments give the same set."""
    if children < 1:
        raise ValueError("children must be at least 1")
    rng = random.Random(seed)
    pop = make_population(children, rng)
    names: defaultdict[str, list[str]] = defaultdict(list)
    for child in pop.children:
        names[child.household.id].append(child.given_name)
    used: set[str] = set()
    records = [record for child in pop.children
               for record in _child_records(child, pop, names[child.household.id], rng, used)]
    return SynthSet(pop, tuple(records))


def write_synth(outdir: Path, children: int, seed: int) -> SynthSummary:
    """Write OUTDIR/events.jsonl (contact events) and OUTDIR/truth.jsonl; return the summary.

    Truth lines: {"event_id", "child_id"} per event in file order ("alias": true on events of
    an alias record), then {"hard_negative": [child_a, child_b], "kind"} per pair.
    """
    synth = synthesise(children, seed)
    outdir.mkdir(parents=True, exist_ok=True)
    with (outdir / "events.jsonl").open("w", encoding="utf-8") as events, \
            (outdir / "truth.jsonl").open("w", encoding="utf-8") as truth:
        for event, row in synth.stream():
            events.write(json.dumps(event, ensure_ascii=False) + "\n")
            truth.write(json.dumps(row) + "\n")
        for row in synth.hard_negative_rows():
            truth.write(json.dumps(row) + "\n")
    return synth.summary()
