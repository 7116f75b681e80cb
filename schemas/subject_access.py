"""The one place for the subject-access export file (`signpost export-child`, DESIGN §1).

Everything Signpost holds about one child, for the child or family who asked: the identifying
data of every record, per agency record, in the standardised form the matcher holds it; the
agencies and practitioners (work contacts) in contact; the alerts sent about the child; and who
read or changed the record when, from the audit log. For a shielded child, address, postcode,
town and anything that says where the child is (agency ids, practitioners' names and contacts)
is withheld, and `withheld` and `notes` say so.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.alert import AlertType, PractitionerContact
from schemas.audit import AuditAction, AuditOutcome
from schemas.contact_event import AgencyKind

__all__ = ["ExportedAccess", "ExportedAgencyRecord", "ExportedAlert", "ExportedCarer",
           "ExportedPractitioner", "ExportedRecord", "SubjectAccessExport"]

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class ExportedCarer(BaseModel):
    model_config = _FROZEN

    given_name: str
    family_name: str


class ExportedRecord(BaseModel):
    """One event's identifying data as held (standardised: folded case and accents, address
    abbreviations expanded). A withheld field is null and named in the export's `withheld`."""

    model_config = _FROZEN

    event_id: str
    closure: bool = Field(description="the event closed the agency's record")
    given_name: str
    middle_names: str
    family_name: str
    other_names: str
    date_of_birth: str | None
    sex: str
    nhs_number: str | None
    postcode: str | None
    address: str | None
    town: str | None
    carers: list[ExportedCarer]


class ExportedAgencyRecord(BaseModel):
    """One agency's record of the child: its events, oldest first."""

    model_config = _FROZEN

    agency_id: str | None = Field(description="null: withheld (shielded child)")
    agency_kind: AgencyKind
    agency_record_id: str = Field(description="the agency's own id for the child")
    records: list[ExportedRecord]


class ExportedPractitioner(BaseModel):
    """A practitioner on the child's record: work contact only (shielded: id and kind)."""

    model_config = _FROZEN

    contact: PractitionerContact
    agency_id: str | None = Field(description="null: withheld (shielded child)")
    lead_professional: bool


class ExportedAlert(BaseModel):
    """An alert Signpost sent about the child, and to whom (practitioner or operators' ids)."""

    model_config = _FROZEN

    alert_id: UUID
    alert_type: AlertType
    created_at: AwareDatetime
    event_id: UUID
    recipients: list[str] = Field(description="'practitioner:<id>' or 'operators:<queue>'")
    agency_kinds: list[AgencyKind]
    discrepancies: list[str]
    escalation_level: int


class ExportedAccess(BaseModel):
    """One audit record naming the child: who read or changed its record, when, and why."""

    model_config = _FROZEN

    seq: int
    at: AwareDatetime
    actor: str
    role: str
    service: str
    action: AuditAction
    outcome: AuditOutcome
    purpose: str | None


class SubjectAccessExport(BaseModel):
    """The file `signpost export-child` writes (version 1)."""

    model_config = _FROZEN

    schema_version: Literal[1] = 1
    child_id: str = Field(description="the pseudonymous Signpost child id")
    generated_at: AwareDatetime
    shielded: bool
    withheld: list[str] = Field(
        description="fields left out (null) because the child is shielded; empty if none")
    notes: list[str] = Field(description="how to read this file, in words")
    consent_recorded: bool = Field(
        description="the young person consented to be kept past 18 (retention)")
    agency_records: list[ExportedAgencyRecord]
    practitioners: list[ExportedPractitioner]
    alerts: list[ExportedAlert] = Field(description="alerts sent about the child, oldest first")
    accesses: list[ExportedAccess] = Field(
        description="audit records naming the child, oldest first; this export's own last")
