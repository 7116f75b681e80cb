"""The one place for an alert to professionals or operators, on `alerts` (DESIGN §6).

Content is minimal by design: a pseudonymous child id, agency kinds, the kind of discrepancy,
and practitioners' work contacts. Never a child's name, birth date, address or NHS number.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.contact_event import AgencyKind

__all__ = ["Alert", "AlertType", "PractitionerContact", "Recipient"]


class AlertType(StrEnum):
    new_agency_contact = "new_agency_contact"
    identity_discrepancy = "identity_discrepancy"
    records_merged = "records_merged"
    review_needed = "review_needed"


class Recipient(BaseModel):
    """Who is told: a practitioner by id, or the operators' queue ('operators')."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(pattern="^(practitioner|operators)$")
    id: str


class PractitionerContact(BaseModel):
    """A practitioner's work contact: what a professional may learn about another."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    practitioner_id: str
    name: str | None
    role: str | None
    email: str | None
    phone: str | None
    agency_kind: AgencyKind


class Alert(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: UUID = Field(description="deterministic: the same trigger gives the same id")
    alert_type: AlertType
    child_id: str = Field(description="pseudonymous Signpost child id")
    event_id: UUID = Field(description="the event that triggered the alert")
    recipients: list[Recipient]
    agency_kinds: list[AgencyKind] = Field(description="kinds of agency now in contact")
    discrepancies: list[str] = Field(default_factory=list)
    contacts: list[PractitionerContact] = Field(
        default_factory=list, description="the other practitioners the recipient may contact"
    )
    shielded: bool
    created_at: AwareDatetime
