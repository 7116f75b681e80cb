"""The one place demo contact events are made up: several agencies, name and address variants.

Pure and seeded: the same seed gives the same children, agencies and events (no clock, no I/O).
Every event follows DESIGN §4 (`schemas.ContactEventV1`). The truth (which events are one
child) comes from `demo_dataset`; the matcher never sees it.
"""

from __future__ import annotations

import copy
import hashlib
import random
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any

from signpost.demo_data import (
    CARER_RELATIONSHIPS,
    INWARD_LETTERS,
    NAME_GROUPS,
    NICKNAMES,
    STREET_NAMES,
    STREET_TYPES,
    TOWNS,
    Names,
)

__all__ = [
    "DemoAddress",
    "DemoAgency",
    "DemoCarer",
    "DemoChild",
    "DemoPractitioner",
    "demo_dataset",
    "demo_stream",
    "make_agencies",
    "make_children",
    "record_id",
    "variant_event",
]

# Ages are measured at a fixed date, so that output never depends on today.
REFERENCE_DATE = date(2026, 11, 1)
STREAM_START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
MAX_AGE_DAYS = 18 * 365 - 10  # everyone is 0-17 on REFERENCE_DATE
MIN_SIBLING_GAP_DAYS = 300  # siblings (not twins) are born at least this far apart
GAP_MINUTES = (3, 90)  # time between two events of the stream
EVENTS_PER_CHILD = 4  # length of demo_dataset per child: enough for links and repeats

# Probabilities of the truth.
NHS_NUMBER_P = 0.60
SHIELDED_P = 0.03
TWINS_P = 0.08
SIBLINGS_P = 0.22
FLAT_P = 0.25
MIDDLE_NAME_P = 0.3
CARER_PHONE_P = 0.6
# Probabilities of the stream: a new child; a new agency for a known child (else a repeat).
NEW_CHILD_P = 0.5
NEW_AGENCY_P = 0.7
NO_CARER_P = 0.1  # an agency that recorded no carer
NHS_KEPT_HEALTH_P = 0.95  # health services nearly always hold the NHS number
NHS_KEPT_OTHER_P = 0.5
# Names, nicknames, towns and streets live in signpost.demo_data (shared with signpost.synth).
REPEAT_EVENT_TYPES = ("contact", "contact", "contact", "update", "update", "closure")
_UNDECOMPOSABLE = str.maketrans({"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "ß": "ss"})


@dataclass(frozen=True)
class _Kind:
    """What a kind of agency is like: practitioner id code, roles, ages served, first event."""

    kind: str
    code: str
    roles: tuple[str, ...]
    ages: tuple[int, int]
    first_event: str
    health: bool = False
    universal: bool = False  # a first contact for most children


KINDS = (
    _Kind("school", "t", ("designated safeguarding lead", "class teacher", "head of year",
                          "SENCO"), (4, 17), "registration", universal=True),
    _Kind("gp", "gp", ("GP", "practice nurse"), (0, 17), "registration",
          health=True, universal=True),
    _Kind("hospital", "h", ("paediatric nurse", "paediatrician", "emergency department nurse"),
          (0, 17), "contact", health=True),
    _Kind("health_visitor", "hv", ("health visitor", "community nursery nurse"), (0, 4),
          "registration", health=True, universal=True),
    _Kind("social_care", "sw", ("social worker", "senior social worker"), (0, 17), "referral"),
    _Kind("police", "pc", ("police constable", "detective constable"), (0, 17), "contact"),
    _Kind("education_welfare", "ew", ("education welfare officer", "attendance officer"),
          (5, 17), "referral"),
    _Kind("housing", "ho", ("housing officer", "tenancy support officer"), (0, 17), "contact"),
    _Kind("youth_justice", "yj", ("youth justice worker", "YOT case manager"), (10, 17),
          "referral"),
    _Kind("early_years", "ey", ("nursery key worker", "early years practitioner"), (0, 4),
          "registration", universal=True),
)
EXTRA_AGENCY_KINDS = ("school", "gp", "school")  # areas have several schools and practices


@dataclass(frozen=True)
class DemoAddress:
    lines: tuple[str, ...]
    town: str
    postcode: str


@dataclass(frozen=True)
class DemoCarer:
    given_name: str
    family_name: str
    relationship: str
    phone: str | None


@dataclass(frozen=True)
class DemoChild:
    """The truth about one child; agencies record variants of it."""

    child_id: str
    household_id: str
    given_name: str
    middle_names: str | None
    family_name: str
    date_of_birth: date
    sex: str
    address: DemoAddress
    carer: DemoCarer
    shielded: bool
    nhs_number: str | None


@dataclass(frozen=True)
class DemoPractitioner:
    """A professional with work contacts only (`@<agency id>.example`, never a real domain)."""

    id: str
    name: str
    role: str
    email: str
    phone: str | None
    lead_professional: bool


@dataclass(frozen=True)
class DemoAgency:
    """One agency: its id (e.g. "school-0042"), its kind (DESIGN §4) and its staff."""

    id: str
    kind: str
    practitioners: tuple[DemoPractitioner, ...]


# --- children ---------------------------------------------------------------------------


def _nhs_check_digit(first9: str) -> int | None:
    """Modulus 11 over weights 10..2; None when the check would be 10 (no such number)."""
    check = 11 - sum(int(d) * w for d, w in zip(first9, range(10, 1, -1), strict=True)) % 11
    return None if check == 10 else check % 11


def _nhs_number(rng: random.Random) -> str:
    while True:
        first9 = str(rng.choice((4, 6, 9))) + "".join(str(rng.randrange(10)) for _ in range(8))
        check = _nhs_check_digit(first9)
        if check is not None:
            return f"{first9}{check}"


def _postcode(rng: random.Random, outwards: tuple[str, ...]) -> str:
    inward = rng.choice(INWARD_LETTERS) + rng.choice(INWARD_LETTERS)
    return f"{rng.choice(outwards)} {rng.randrange(1, 10)}{inward}"


def _make_address(rng: random.Random, town: str | None = None) -> DemoAddress:
    name, outwards = next((t for t in TOWNS if t[0] == town), None) or rng.choice(TOWNS)
    street = f"{rng.randint(1, 180)} {rng.choice(STREET_NAMES)} {rng.choice(STREET_TYPES)[0]}"
    flat = (f"Flat {rng.randint(1, 12)}",) if rng.random() < FLAT_P else ()
    return DemoAddress(lines=(*flat, street), town=name, postcode=_postcode(rng, outwards))


def _random_dob(rng: random.Random) -> date:
    return REFERENCE_DATE - timedelta(days=rng.randint(0, MAX_AGE_DAYS))


def _household_dobs(rng: random.Random) -> list[date]:
    """One child, twins (one date twice), or two or three siblings born apart."""
    draw = rng.random()
    if draw < TWINS_P:
        return [_random_dob(rng)] * 2
    dobs = [_random_dob(rng)]
    wanted = rng.choice((2, 2, 3)) if draw < TWINS_P + SIBLINGS_P else 1
    while len(dobs) < wanted:
        dob = _random_dob(rng)
        if all(abs((dob - d).days) >= MIN_SIBLING_GAP_DAYS for d in dobs):
            dobs.append(dob)
    return dobs


def _names(rng: random.Random) -> Names:
    groups, weights = [g[2] for g in NAME_GROUPS], [g[1] for g in NAME_GROUPS]
    return rng.choices(groups, weights)[0]


def _carer(rng: random.Random, names: Names, family: str) -> DemoCarer:
    """A parent shares the community and often the family name; a foster carer need not."""
    relationships, weights = zip(*CARER_RELATIONSHIPS, strict=True)
    relationship = rng.choices(relationships, weights)[0]
    if relationship == "foster_carer":
        names, family = _names(rng), ""
    female = relationship in ("mother", "aunt") or (relationship != "father" and rng.random() < 0.6)
    surname = family if family and rng.random() < 0.7 else rng.choice(names.families)
    phone = f"07700 900{rng.randrange(1000):03d}" if rng.random() < CARER_PHONE_P else None
    given = rng.choice(names.women if female else names.men)
    return DemoCarer(given, rng.choice(surname.split("-")), relationship, phone)


def _given_name(rng: random.Random, names: Names, taken: list[str]) -> tuple[str, str]:
    while True:
        sex = rng.choice("FM")
        given = rng.choice(names.girls if sex == "F" else names.boys)
        if given not in taken:
            return given, sex


def _household(rng: random.Random, first: int) -> list[DemoChild]:
    """Children of one home: one family name, address and carer; twins share a birth date."""
    names, address = _names(rng), _make_address(rng)
    family = rng.choice(names.families)
    carer, shielded = _carer(rng, names, family), rng.random() < SHIELDED_P
    taken: list[str] = []
    children: list[DemoChild] = []
    for i, dob in enumerate(_household_dobs(rng)):
        given, sex = _given_name(rng, names, taken)
        taken.append(given)
        pool = [n for n in (names.girls if sex == "F" else names.boys) if n != given]
        middle = rng.choice(pool) if rng.random() < MIDDLE_NAME_P else None
        nhs = _nhs_number(rng) if rng.random() < NHS_NUMBER_P else None
        children.append(DemoChild(f"c-{first + i:04d}", f"h-{first:04d}", given, middle, family,
                                  dob, sex, address, carer, shielded, nhs))
    return children


def make_children(n: int, rng: random.Random) -> list[DemoChild]:
    """`n` children in households (some siblings, some twins); ids c-0001, c-0002, ..."""
    children: list[DemoChild] = []
    while len(children) < n:
        children.extend(_household(rng, len(children) + 1))
    return children[:n]


# --- agencies ---------------------------------------------------------------------------


def _kind(kind: str) -> _Kind:
    return next(k for k in KINDS if k.kind == kind)


def _slug(text: str) -> str:
    return "".join(c for c in _fold(text).lower() if c.isalnum() or c == "-")


def _practitioner(rng: random.Random, kind: _Kind, agency_id: str, index: int,
                  lead: bool) -> DemoPractitioner:
    names = _names(rng)
    given, family = rng.choice(names.women + names.men), rng.choice(names.families)
    role = kind.roles[0] if index == 0 else rng.choice(kind.roles)
    phone = f"020 7946 0{rng.randrange(1000):03d}" if rng.random() < 0.7 else None
    return DemoPractitioner(
        id=f"{kind.code}-{agency_id.rsplit('-', 1)[1]}{index + 1}", name=f"{given} {family}",
        role=role, email=f"{_slug(given)}.{_slug(family)}@{agency_id}.example", phone=phone,
        lead_professional=lead and (kind.kind == "social_care" or index == 0))


def _agency(rng: random.Random, kind: str, taken: list[str], lead: bool) -> DemoAgency:
    agency_id = taken[0]
    while agency_id in taken:
        agency_id = f"{kind.replace('_', '-')}-{rng.randint(1, 9999):04d}"
    taken.append(agency_id)
    practitioners = tuple(_practitioner(rng, _kind(kind), agency_id, i, lead)
                          for i in range(rng.randint(2, 4)))
    return DemoAgency(agency_id, kind, practitioners)


def make_agencies(rng: random.Random) -> list[DemoAgency]:
    """One agency of every kind plus up to two more schools or GP practices (10-12 in all).

    Social care's practitioners are lead professionals; so is the designated safeguarding
    lead of the first school and of about half of any others.
    """
    kinds = [k.kind for k in KINDS] + rng.sample(EXTRA_AGENCY_KINDS, rng.randint(0, 2))
    taken: list[str] = [""]
    agencies: list[DemoAgency] = []
    for kind in kinds:
        first_school = kind == "school" and all(a.kind != "school" for a in agencies)
        lead = kind == "social_care" or first_school or (kind == "school" and rng.random() < 0.5)
        agencies.append(_agency(rng, kind, taken, lead))
    return agencies


def _age(child: DemoChild) -> int:
    dob, ref = child.date_of_birth, REFERENCE_DATE
    return ref.year - dob.year - ((ref.month, ref.day) < (dob.month, dob.day))


def _serves(agency: DemoAgency, child: DemoChild) -> bool:
    low, high = _kind(agency.kind).ages
    return low <= _age(child) <= high


def _digest(agency: DemoAgency, child: DemoChild) -> int:
    return int(hashlib.sha256(f"{agency.id}|{child.child_id}".encode()).hexdigest(), 16)


def record_id(agency: DemoAgency, child: DemoChild) -> str:
    """The agency's own id for the child: stable per (agency, child), unlike any other's."""
    return f"{_kind(agency.kind).code.upper()}{_digest(agency, child) % 10**8:08d}"


def _assigned(agency: DemoAgency, child: DemoChild) -> DemoPractitioner:
    """The practitioner who holds this agency record (stable, like the record id)."""
    return agency.practitioners[(_digest(agency, child) >> 64) % len(agency.practitioners)]


# --- variants: what one agency recorded --------------------------------------------------

Record = dict[str, Any]  # {"child": <event child>, "carers": [<event carer>]}
Variant = Callable[[Record, random.Random], None]


def _fold(text: str) -> str:
    """Climbié -> Climbie, Łukasz -> Lukasz: what ASCII-only systems store."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSABLE))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _nickname(rec: Record, rng: random.Random) -> None:
    given = rec["child"]["given_name"]
    options = next((nicks for name, nicks in NICKNAMES if name == given), ())
    if options:
        rec["child"]["given_name"] = rng.choice(options)


def _drop_accents(rec: Record, rng: random.Random) -> None:
    for person in (rec["child"], *rec["carers"]):
        for field in ("given_name", "family_name"):
            if person[field]:
                person[field] = _fold(person[field])


def _typo(rec: Record, rng: random.Random) -> None:
    """One character substituted, dropped or doubled, never the first."""
    field = rng.choice(("given_name", "family_name"))
    name: str = rec["child"][field]
    if len(name) < 3:
        return
    i = rng.randrange(1, len(name))
    replacement = rng.choice((rng.choice("aeinorstlu"), "", name[i] * 2))
    rec["child"][field] = name[:i] + replacement + name[i + 1:]


def _hyphen_part(rec: Record, rng: random.Random) -> None:
    parts = rec["child"]["family_name"].split("-")
    if len(parts) > 1:
        rec["child"]["family_name"] = rng.choice((*parts, " ".join(parts)))


def _swap_names(rec: Record, rng: random.Random) -> None:
    child = rec["child"]
    child["given_name"], child["family_name"] = child["family_name"], child["given_name"]


def _swap_day_month(rec: Record, rng: random.Random) -> None:
    dob = date.fromisoformat(rec["child"]["date_of_birth"])
    if dob.day <= 12 and dob.day != dob.month:
        rec["child"]["date_of_birth"] = dob.replace(month=dob.day, day=dob.month).isoformat()


def _dob_digit(rec: Record, rng: random.Random) -> None:
    """One digit of the year's units, the month's units or the day wrong; still a date."""
    text = rec["child"]["date_of_birth"]
    for _ in range(10):
        i = rng.choice((3, 6, 8, 9))
        wrong = text[:i] + rng.choice("0123456789".replace(text[i], "")) + text[i + 1:]
        try:
            if date.fromisoformat(wrong) <= REFERENCE_DATE:
                rec["child"]["date_of_birth"] = wrong
                return
        except ValueError:
            continue


def _postcode_format(rec: Record, rng: random.Random) -> None:
    code = rec["child"]["address"]["postcode"]
    rec["child"]["address"]["postcode"] = rng.choice(
        (code.replace(" ", ""), code.lower(), code.lower().replace(" ", "")))


def _abbreviate_street(rec: Record, rng: random.Random) -> None:
    lines = rec["child"]["address"]["lines"]
    for full, short in STREET_TYPES:
        if lines[-1].endswith(f" {full}"):
            lines[-1] = lines[-1].removesuffix(full) + short


def _flat_form(rec: Record, rng: random.Random) -> None:
    """'Flat 2' / '12 X Road' as one line, or the flat left out."""
    lines = rec["child"]["address"]["lines"]
    if len(lines) == 2:
        rec["child"]["address"]["lines"] = rng.choice(([", ".join(lines)], [lines[1]]))


def _house_move(rec: Record, rng: random.Random) -> None:
    town = rec["child"]["address"]["town"] if rng.random() < 0.7 else None
    rec["child"]["address"] = _address_dict(_make_address(rng, town))


def _drop_middle(rec: Record, rng: random.Random) -> None:
    rec["child"]["middle_names"] = None


def _newborn(rec: Record, rng: random.Random) -> None:
    """A baby registered before being named."""
    if date.fromisoformat(rec["child"]["date_of_birth"]) > REFERENCE_DATE - timedelta(days=60):
        rec["child"]["given_name"] = rng.choice((None, "Baby"))


# Order matters: a nickname is chosen before accents are dropped or a typo made.
VARIANTS: tuple[tuple[str, float, Variant], ...] = (
    ("house_move", 0.05, _house_move),
    ("nickname", 0.18, _nickname),
    ("accent_dropped", 0.35, _drop_accents),
    ("hyphenated_one_part", 0.35, _hyphen_part),
    ("typo", 0.06, _typo),
    ("given_family_swapped", 0.015, _swap_names),
    ("middle_name_dropped", 0.4, _drop_middle),
    ("dob_day_month_swapped", 0.04, _swap_day_month),
    ("dob_one_digit", 0.04, _dob_digit),
    ("postcode_format", 0.15, _postcode_format),
    ("street_abbreviated", 0.2, _abbreviate_street),
    ("flat_form", 0.35, _flat_form),
    ("newborn_unnamed", 0.3, _newborn),
)


def _address_dict(address: DemoAddress) -> dict[str, Any]:
    return {"lines": list(address.lines), "town": address.town, "postcode": address.postcode}


def _true_record(child: DemoChild) -> Record:
    carer = child.carer
    return {
        "child": {"given_name": child.given_name, "middle_names": child.middle_names,
                  "family_name": child.family_name, "other_names": [],
                  "date_of_birth": child.date_of_birth.isoformat(), "sex": child.sex,
                  "nhs_number": child.nhs_number, "address": _address_dict(child.address)},
        "carers": [{"given_name": carer.given_name, "family_name": carer.family_name,
                    "relationship": carer.relationship, "phone": carer.phone, "email": None}],
    }


def _recorded(child: DemoChild, kind: str, rng: random.Random) -> Record:
    """What one agency wrote down about `child`: the truth with a few variants."""
    rec = _true_record(child)
    for _name, probability, variant in VARIANTS:
        if rng.random() < probability:
            variant(rec, rng)
    if rng.random() >= (NHS_KEPT_HEALTH_P if _kind(kind).health else NHS_KEPT_OTHER_P):
        rec["child"]["nhs_number"] = None
    if rng.random() < NO_CARER_P:
        rec["carers"] = []
    return rec


def _event(child: DemoChild, agency: DemoAgency, rec: Record, rng: random.Random,
           occurred_at: datetime, event_type: str) -> dict[str, Any]:
    practitioner = _assigned(agency, child)
    return {
        "schema_version": 1,
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "event_type": event_type,
        "occurred_at": occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "agency": {"id": agency.id, "kind": agency.kind},
        "agency_record_id": record_id(agency, child),
        "child": copy.deepcopy(rec["child"]),
        "carers": copy.deepcopy(rec["carers"]),
        "practitioner": {"id": practitioner.id, "name": practitioner.name,
                         "role": practitioner.role, "email": practitioner.email,
                         "phone": practitioner.phone,
                         "lead_professional": practitioner.lead_professional},
        "shielded": child.shielded,
    }


def variant_event(child: DemoChild, agency: DemoAgency, rng: random.Random,
                  occurred_at: datetime, *, event_type: str = "contact") -> dict[str, Any]:
    """One contact event (DESIGN §4) of `agency` about `child`, with freshly drawn variants."""
    return _event(child, agency, _recorded(child, agency.kind, rng), rng, occurred_at,
                  event_type)


# --- the stream ----------------------------------------------------------------------------


class _Stream:
    """Children become known to one universal service, then to others, in arrival order.

    A child is known to at most one agency of each kind (one school, one GP practice).
    Each (agency, child) record keeps the variants drawn when it was made, as a real agency
    system would; a repeat contact from that agency sends the same identity again.
    """

    def __init__(self, seed: int, children: int) -> None:
        self.rng = random.Random(seed)
        self.children = make_children(children, self.rng)
        self.agencies = make_agencies(self.rng)
        self.known: list[DemoChild] = []
        self.records: dict[str, dict[str, tuple[DemoAgency, Record]]] = {}
        self.first_agency: dict[str, DemoAgency] = {}  # household id -> agency
        self.closed: set[tuple[str, str]] = set()  # (agency id, child id) of closed records
        self.clock = STREAM_START

    def __iter__(self) -> Iterator[tuple[dict[str, Any], str]]:
        while True:
            self.clock += timedelta(minutes=self.rng.randint(*GAP_MINUTES))
            unseen = len(self.known) < len(self.children)
            if not self.known or (unseen and self.rng.random() < NEW_CHILD_P):
                yield self._introduce()
            else:
                yield self._revisit(self.rng.choice(self.known))

    def _introduce(self) -> tuple[dict[str, Any], str]:
        child = self.children[len(self.known)]
        self.known.append(child)
        agency = self.first_agency.get(child.household_id)
        if agency is None or not _serves(agency, child):
            agency = self.rng.choice([a for a in self.agencies
                                      if _kind(a.kind).universal and _serves(a, child)])
            self.first_agency[child.household_id] = agency
        return self._emit(child, agency, _kind(agency.kind).first_event)

    def _revisit(self, child: DemoChild) -> tuple[dict[str, Any], str]:
        involved = self.records[child.child_id]
        kinds = [agency.kind for agency, _rec in involved.values()]
        fresh = [a for a in self.agencies if a.kind not in kinds and _serves(a, child)]
        if fresh and self.rng.random() < NEW_AGENCY_P:
            agency = self.rng.choice(fresh)
            return self._emit(child, agency, _kind(agency.kind).first_event)
        agency = involved[self.rng.choice(list(involved))][0]
        return self._emit(child, agency, self._repeat_type(agency, child))

    def _repeat_type(self, agency: DemoAgency, child: DemoChild) -> str:
        """A further contact; after a closure the next one reopens the record."""
        key = (agency.id, child.child_id)
        if key in self.closed:
            self.closed.remove(key)
            return _kind(agency.kind).first_event
        event_type = self.rng.choice(REPEAT_EVENT_TYPES)
        if event_type == "closure":
            self.closed.add(key)
        return event_type

    def _emit(self, child: DemoChild, agency: DemoAgency,
              event_type: str) -> tuple[dict[str, Any], str]:
        records = self.records.setdefault(child.child_id, {})
        if agency.id not in records:
            records[agency.id] = (agency, _recorded(child, agency.kind, self.rng))
        rec = records[agency.id][1]
        return _event(child, agency, rec, self.rng, self.clock, event_type), child.child_id


def demo_stream(seed: int = 7, children: int = 50) -> Iterator[dict[str, Any]]:
    """Endless contact events in arrival order; the same seed gives the same events."""
    for event, _child_id in _Stream(seed, children):
        yield event


def demo_dataset(children: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`children` x EVENTS_PER_CHILD events, and truth rows {"event_id", "child_id"}."""
    pairs = list(islice(_Stream(seed, children), children * EVENTS_PER_CHILD))
    truth = [{"event_id": e["event_id"], "child_id": child_id} for e, child_id in pairs]
    return [e for e, _ in pairs], truth
