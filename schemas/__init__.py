"""The one place for every message Signpost reads or writes: one pydantic model per message."""

from schemas.alert import (
    Alert,
    AlertDelivery,
    AlertType,
    Escalation,
    PractitionerContact,
    Recipient,
)
from schemas.audit import AuditAction, AuditOutcome, AuditRecord
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
from schemas.sealed import SealedEvent
from schemas.standardised import StandardisedEvent, StandardisedFields

__all__ = [
    "Address",
    "Agency",
    "AgencyKind",
    "Alert",
    "AlertDelivery",
    "AlertDlqRecord",
    "AlertType",
    "AuditAction",
    "AuditOutcome",
    "AuditRecord",
    "Carer",
    "Child",
    "ContactEventV1",
    "DlqError",
    "DlqReason",
    "DlqRecord",
    "Escalation",
    "EventType",
    "FieldExplanation",
    "LinkDecision",
    "LinkOutcome",
    "Practitioner",
    "PractitionerContact",
    "Recipient",
    "SealedEvent",
    "StandardisedEvent",
    "StandardisedFields",
]
