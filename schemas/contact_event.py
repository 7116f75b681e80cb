"""The one place for the contact event, version 1 (DESIGN §4, a fixed contract)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "Address",
    "Agency",
    "AgencyKind",
    "Carer",
    "CarerRelationship",
    "Child",
    "ContactEventV1",
    "EventType",
    "Practitioner",
    "Sex",
]

# Bounds keep one hostile event from costing memory downstream; real values are far shorter.
NAME_MAX = 100
ID_MAX = 100
LINES_MAX = 6
OTHER_NAMES_MAX = 10
CARERS_MAX = 10


class _Strict(BaseModel):
    """Unknown fields are rejected: data minimisation (DESIGN §4)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, str_strip_whitespace=True)


class EventType(StrEnum):
    registration = "registration"
    contact = "contact"
    referral = "referral"
    transfer = "transfer"
    update = "update"
    closure = "closure"


class AgencyKind(StrEnum):
    school = "school"
    gp = "gp"
    hospital = "hospital"
    health_visitor = "health_visitor"
    social_care = "social_care"
    police = "police"
    education_welfare = "education_welfare"
    housing = "housing"
    youth_justice = "youth_justice"
    early_years = "early_years"
    other = "other"


class Sex(StrEnum):
    F = "F"
    M = "M"
    X = "X"
    U = "U"


class CarerRelationship(StrEnum):
    mother = "mother"
    father = "father"
    aunt = "aunt"
    uncle = "uncle"
    grandparent = "grandparent"
    foster_carer = "foster_carer"
    guardian = "guardian"
    other = "other"


class Agency(_Strict):
    id: str = Field(min_length=1, max_length=ID_MAX)
    kind: AgencyKind


class Address(_Strict):
    lines: list[str] = Field(default_factory=list, max_length=LINES_MAX)
    town: str | None = Field(default=None, max_length=NAME_MAX)
    postcode: str | None = Field(default=None, max_length=10)


class Child(_Strict):
    given_name: str | None = Field(max_length=NAME_MAX)
    middle_names: str | None = Field(default=None, max_length=NAME_MAX)
    family_name: str | None = Field(max_length=NAME_MAX)
    other_names: list[str] = Field(default_factory=list, max_length=OTHER_NAMES_MAX)
    date_of_birth: date | None = None
    sex: Sex
    nhs_number: str | None = Field(default=None, max_length=12)
    address: Address | None = None


class Carer(_Strict):
    given_name: str | None = Field(max_length=NAME_MAX)
    family_name: str | None = Field(max_length=NAME_MAX)
    relationship: CarerRelationship
    phone: str | None = Field(default=None, max_length=30)
    email: str | None = Field(default=None, max_length=254)


class Practitioner(_Strict):
    id: str = Field(min_length=1, max_length=ID_MAX)
    name: str = Field(max_length=NAME_MAX)
    role: str = Field(max_length=NAME_MAX)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=30)
    lead_professional: bool


class ContactEventV1(_Strict):
    """One agency's contact with one child. JSON on Kafka and in JSONL files.

    Required keys are those DESIGN §4 does not list as optional; given_name and family_name
    must be present but may be null. Validate from JSON text (strict mode: no type coercion).
    """

    schema_version: Literal[1]
    event_id: UUID
    event_type: EventType
    occurred_at: AwareDatetime
    agency: Agency
    agency_record_id: str = Field(min_length=1, max_length=ID_MAX)
    child: Child
    carers: list[Carer] = Field(default_factory=list, max_length=CARERS_MAX)
    practitioner: Practitioner
    shielded: bool
