"""Builders of contact events (dicts following DESIGN §4) for tests."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from schemas import StandardisedEvent
from services.ingest.validate import validate

__all__ = ["make_event", "make_standardised", "standardised"]


def make_event(
    *,
    agency_id: str = "school-0042",
    agency_kind: str = "school",
    record_id: str = "R1",
    given: str | None = "Victoria",
    family: str | None = "Climbié",
    dob: str | None = "2014-11-02",
    sex: str = "F",
    postcode: str | None = "N17 9EJ",
    line: str = "12 Somerset Road",
    town: str = "London",
    nhs: str | None = None,
    carer: tuple[str, str] | None = ("Marie-Thérèse", "Kouao"),
    practitioner: str = "t-1",
    lead: bool = True,
    shielded: bool = False,
    event_type: str = "contact",
    other_names: list[str] | None = None,
) -> dict[str, Any]:
    carers = [] if carer is None else [
        {"given_name": carer[0], "family_name": carer[1], "relationship": "mother",
         "phone": None, "email": None}]
    return {
        "schema_version": 1,
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "occurred_at": "2026-11-20T10:15:00Z",
        "agency": {"id": agency_id, "kind": agency_kind},
        "agency_record_id": record_id,
        "child": {
            "given_name": given, "middle_names": None, "family_name": family,
            "other_names": other_names or [], "date_of_birth": dob, "sex": sex,
            "nhs_number": nhs,
            "address": {"lines": [line], "town": town, "postcode": postcode},
        },
        "carers": carers,
        "practitioner": {"id": practitioner, "name": f"Practitioner {practitioner}",
                         "role": "teacher", "email": f"{practitioner}@agency.example",
                         "phone": None, "lead_professional": lead},
        "shielded": shielded,
    }


def standardised(event: dict[str, Any]) -> StandardisedEvent:
    """What ingest passes on for a valid event; the test fails if ingest would reject it."""
    out = validate(json.dumps(event).encode(), datetime.now(UTC))
    assert isinstance(out, StandardisedEvent), out
    return out


def make_standardised(**kwargs: Any) -> StandardisedEvent:
    """`make_event(**kwargs)`, standardised."""
    return standardised(make_event(**kwargs))
