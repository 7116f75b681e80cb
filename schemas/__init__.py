"""The one place for every message Signpost reads or writes: one pydantic model per message."""

from schemas.alert import Alert, AlertType, PractitionerContact, Recipient
from schemas.contact_event import (
    Address,
    Agency,
    AgencyKind,
    Carer,
    Child,
    ContactEventV1,
    EventType,
    Practitioner,
)
from schemas.dlq import AlertDlqRecord, DlqError, DlqReason, DlqRecord
from schemas.link import FieldExplanation, LinkDecision, LinkOutcome
from schemas.standardised import StandardisedEvent, StandardisedFields

__all__ = [
    "Address",
    "Agency",
    "AgencyKind",
    "Alert",
    "AlertDlqRecord",
    "AlertType",
    "Carer",
    "Child",
    "ContactEventV1",
    "DlqError",
    "DlqReason",
    "DlqRecord",
    "EventType",
    "FieldExplanation",
    "LinkDecision",
    "LinkOutcome",
    "Practitioner",
    "PractitionerContact",
    "Recipient",
    "StandardisedEvent",
    "StandardisedFields",
]
