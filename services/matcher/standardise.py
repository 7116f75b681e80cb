"""The one place that turns a standardised event into the matcher's comparison features.

Pure: no Kafka, no Redis. Lists (name equivalents, address tokens) are data files in data/.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import asdict, dataclass
from datetime import date
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import jellyfish

from schemas import StandardisedEvent

__all__ = [
    "PLACEHOLDER_GIVEN_NAMES",
    "Features",
    "address_tokens",
    "equivalence_groups",
    "features",
    "fold",
    "name_tokens",
    "phonetic",
]

#: Given names an agency records before a child is named; they explain any later name.
PLACEHOLDER_GIVEN_NAMES = frozenset(
    {"baby", "unborn", "infant", "newborn", "unknown", "unnamed", "male", "female", "boy", "girl",
     "twin", "bb", "baby of", "notknown", "not known", "nk", "bo"}
)
_NON_ALNUM = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")


def fold(value: str | None) -> str:
    """Unicode fold, lower case, punctuation to spaces: 'Climbié-Kouao' -> 'climbie kouao'."""
    if not value:
        return ""
    decomposed = unicodedata.normalize("NFKD", value)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    ascii_only = ascii_only.lower().replace("ß", "ss").replace("ø", "o").replace("ł", "l")
    return _SPACES.sub(" ", _NON_ALNUM.sub(" ", ascii_only.replace("'", ""))).strip()


def name_tokens(value: str | None) -> tuple[str, ...]:
    """Folded name parts: hyphenated and double-barrelled names split into their parts."""
    return tuple(fold(value).split())


@lru_cache(maxsize=1 << 16)
def phonetic(token: str) -> str:
    """A phonetic code robust to spelling variants (metaphone; nysiis for short codes).
    Cached (a bounded number of name tokens, in this process only): the comparisons ask for
    the same names' codes for every candidate pair."""
    if not token:
        return ""
    code = jellyfish.metaphone(token)
    return code if len(code) >= 2 else jellyfish.nysiis(token)


def _data_lines(name: str) -> list[list[str]]:
    text = resources.files("services.matcher").joinpath("data", name).read_text("utf-8")
    rows = (line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return [[cell.strip() for cell in row] for row in csv.reader(rows)]


@cache
def equivalence_groups() -> dict[str, frozenset[int]]:
    """name -> ids of the equivalence groups it belongs to (nicknames, transliterations)."""
    groups: dict[str, set[int]] = {}
    for gid, row in enumerate(_data_lines("name_equivalents.csv")):
        for name in row:
            if name:
                groups.setdefault(fold(name), set()).add(gid)
    return {k: frozenset(v) for k, v in groups.items()}


@cache
def _address_map() -> dict[str, str]:
    return {row[0]: (row[1] if len(row) > 1 else "") for row in _data_lines("address_tokens.csv")}


def address_tokens(lines: list[str]) -> tuple[str, ...]:
    """Folded address tokens with abbreviations expanded and unit words dropped."""
    mapping = _address_map()
    out = []
    for token in fold(" ".join(lines)).split():
        token = mapping.get(token, token)
        if token:
            out.append(token)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Features:
    """Everything the comparisons look at, for one event. Stored (encrypted later) in Redis."""

    event_id: str
    agency_id: str
    agency_kind: str
    agency_record_id: str
    given: tuple[str, ...]
    middle: tuple[str, ...]
    family: tuple[str, ...]
    other_names: tuple[str, ...]
    dob: str | None
    sex: str
    nhs: str | None
    postcode: str | None
    address: tuple[str, ...]
    town: str
    carers: tuple[tuple[str, str], ...]
    closed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Features:
        tupled: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                  for k, v in data.items()}
        tupled["carers"] = tuple(tuple(c) for c in data.get("carers", ()))
        return cls(**tupled)

    @property
    def dob_date(self) -> date | None:
        return _date(self.dob) if self.dob else None


@lru_cache(maxsize=1 << 14)
def _date(iso: str) -> date:
    return date.fromisoformat(iso)


def features(std: StandardisedEvent) -> Features:
    """The comparison features of one event."""
    ev = std.event
    child = ev.child
    address = child.address
    other = tuple(t for name in child.other_names for t in name_tokens(name))
    return Features(
        event_id=str(ev.event_id),
        agency_id=ev.agency.id,
        agency_kind=ev.agency.kind.value,
        agency_record_id=ev.agency_record_id,
        given=name_tokens(child.given_name),
        middle=name_tokens(child.middle_names),
        family=name_tokens(child.family_name),
        other_names=other,
        dob=child.date_of_birth.isoformat() if child.date_of_birth else None,
        sex=child.sex.value,
        nhs=std.std.nhs_number,
        postcode=std.std.postcode,
        address=address_tokens(address.lines) if address else (),
        town=fold(address.town) if address else "",
        carers=tuple((fold(c.given_name), fold(c.family_name)) for c in ev.carers),
        closed=ev.event_type.value == "closure",
    )
