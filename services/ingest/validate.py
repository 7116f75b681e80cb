"""The one place that decides whether raw bytes are a valid contact event (Kafka and HTTP)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from schemas import ContactEventV1, DlqError, DlqReason, StandardisedEvent, StandardisedFields
from services.ingest.standardise import clean_nhs_number, clean_postcode
from signpost.dlq import reason_of, validation_errors

__all__ = ["MAX_EVENT_BYTES", "Rejection", "standardise", "validate"]

MAX_EVENT_BYTES = 64 * 1024  # a real event is under 2 KiB; anything this large is hostile


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an event was refused: a reason and errors that name fields, never values."""

    reason: DlqReason
    errors: tuple[DlqError, ...]


def standardise(event: ContactEventV1, received_at: datetime) -> StandardisedEvent:
    """Add ingest's cleaned fields to a valid event."""
    address = event.child.address
    postcode, is_uk = clean_postcode(address.postcode if address else None)
    nhs, flags = clean_nhs_number(event.child.nhs_number)
    std = StandardisedFields(postcode=postcode, postcode_is_uk=is_uk, nhs_number=nhs, flags=flags)
    return StandardisedEvent(event=event, std=std, received_at=received_at)


def validate(raw: bytes, received_at: datetime) -> StandardisedEvent | Rejection:
    """Parse, validate and standardise one event; never raises on bad input."""
    if len(raw) > MAX_EVENT_BYTES:
        err = DlqError(loc="$", type="too_large", msg=f"event exceeds {MAX_EVENT_BYTES} bytes")
        return Rejection(DlqReason.schema_invalid, (err,))
    try:
        event = ContactEventV1.model_validate_json(raw)
    except ValidationError as exc:
        errors = validation_errors(exc)
        return Rejection(reason_of(errors), errors)
    return standardise(event, received_at)
