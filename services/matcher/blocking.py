"""The one place for blocking-key material: which stored records an event is compared with.

Keys pair two fields each, so one wrong or missing field cannot hide a match: a mistyped birth
date still meets its record through the names, a new surname through birth date and given name.
Pure; index.py hashes the material with a secret key before it reaches Redis.
"""

from __future__ import annotations

from services.matcher.standardise import Features, equivalence_groups, phonetic

__all__ = ["BROAD_KINDS", "block_keys", "given_key", "is_broad", "record_key"]

#: Kinds of key whose blocks grow with the population: a name alone (gf, sw: every namesake)
#: and a birth date in a town (dt). At 60k demo records two thirds of the records scored
#: shared only gf and sw with the event, and 3.6% of those scored as high as review; a record
#: sharing only dt, none of 541. So fewer members are read from these (`is_broad`): an event's
#: same-child records share narrower keys too, and a record met through a broad key alone is
#: still read while the key's block is small.
BROAD_KINDS = frozenset({"gf", "sw", "dt"})


def is_broad(material: str) -> bool:
    """Whether a key (block_keys's material) is of a kind whose blocks grow with the
    population (BROAD_KINDS)."""
    return material.split("|", 1)[0] in BROAD_KINDS


def given_key(token: str) -> str:
    """Nicknames and transliterations share one key (their lowest group id); else phonetic."""
    groups = equivalence_groups().get(token)
    return f"g{min(groups)}" if groups else phonetic(token)


def record_key(agency_id: str, agency_record_id: str) -> str:
    """The blocking key of one agency record: its events meet each other whatever changed,
    and its members are the events a correction of it replaces (index.superseded_by)."""
    return f"rec|{agency_id}|{agency_record_id}"


def _dob_key(dob: str | None) -> str:
    """Year plus day and month in sorted order, so a day/month swap keys the same."""
    if not dob:
        return ""
    year, month, day = dob.split("-")
    return f"{year}{min(month, day)}{max(month, day)}"


def block_keys(f: Features) -> list[str]:
    """Key material for one record; empty fields contribute no key."""
    given = given_key(f.given[0]) if f.given else ""
    families = {phonetic("".join(f.family))} | {phonetic(p) for p in f.family}
    families.discard("")
    dob = _dob_key(f.dob)
    keys = [f"nhs|{f.nhs}" if f.nhs else "", record_key(f.agency_id, f.agency_record_id)]
    if dob:
        keys.append(f"dg|{dob}|{given}" if given else "")
        keys.extend(f"df|{dob}|{fam}" for fam in families)
        keys.append(f"dp|{dob}|{f.postcode}" if f.postcode else "")
        keys.append(f"dt|{dob}|{f.town}" if f.town else "")
        # Initials survive the keying errors that change a name's phonetic code (jessiva
        # for jessica, georfe for george) when the postcode and town are mistyped too.
        if f.given and f.family:
            keys.append(f"di|{dob}|{f.given[0][0]}{f.family[0][0]}")
    for fam in families:
        keys.append(f"gf|{given}|{fam}" if given else "")
        keys.append(f"pf|{f.postcode}|{fam}" if f.postcode else "")
    if given and f.postcode:
        keys.append(f"pg|{f.postcode}|{given}")
    if f.given and f.family:
        pair = sorted((phonetic(f.given[0]), phonetic("".join(f.family))))
        keys.append(f"sw|{pair[0]}|{pair[1]}")
    return sorted({k for k in keys if k})
