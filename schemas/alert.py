"""The one place for an alert to professionals or operators, on `alerts` (DESIGN §6).

Content is minimal by design: a pseudonymous child id, agency kinds, the kind of discrepancy,
and practitioners' work contacts. Never a child's name, birth date, address or NHS number.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.contact_event import AgencyKind

__all__ = ["Alert", "AlertDelivery", "AlertType", "Escalation", "PractitionerContact", "Recipient"]


class AlertType(StrEnum):
    new_agency_contact = "new_agency_contact"
    identity_discrepancy = "identity_discrepancy"
    records_merged = "records_merged"
    review_needed = "review_needed"
    records_split = "records_split"  # an operator split a wrong merge (added in v1.1)


class Recipient(BaseModel):
    """Who is told: a practitioner by id, or the operators' queue ('operators').

    `email` and `agency_id` are routing data for the notifier (where to send the e-mail notice,
    which agency's webhook endpoint applies); they never leave in any channel.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(pattern="^(practitioner|operators)$")
    id: str
    email: str | None = Field(default=None, description="work e-mail for the notice; routing only")
    agency_id: str | None = Field(
        default=None, description="the practitioner's agency, to pick its webhook; routing only")


class PractitionerContact(BaseModel):
    """A practitioner's work contact: what a professional may learn about another."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    practitioner_id: str
    name: str | None
    role: str | None
    email: str | None
    phone: str | None
    agency_kind: AgencyKind


class Escalation(BaseModel):
    """Who is told next if a recipient does not acknowledge in time: the rest of the child's
    practitioners, in order (routing data; never shown to a recipient). Empty = operators only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chain: list[Recipient] = Field(default_factory=list)


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
    escalation: Escalation | None = Field(
        default=None, description="None: never escalates (operators' queues, newcomers)")
    escalated_from: UUID | None = Field(
        default=None, description="the unacknowledged alert this one escalates")
    escalation_level: int = Field(default=0, ge=0, description="0 = the original alert")


class AlertDelivery(BaseModel):
    """The webhook body: one alert as one recipient receives it.

    Not the other recipients, not the escalation chain, not routing data: only what the
    recipient must know. For a shielded child the contacts carry no name, role, e-mail or phone.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: UUID
    alert_type: AlertType
    child_id: str
    event_id: UUID
    agency_kinds: list[AgencyKind]
    discrepancies: list[str]
    contacts: list[PractitionerContact]
    shielded: bool
    created_at: AwareDatetime
    escalated_from: UUID | None = None
    escalation_level: int = 0
    recipient: Recipient = Field(description="kind and id of the one recipient")
