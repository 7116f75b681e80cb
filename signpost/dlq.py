"""The one place dead-letter messages for rejected input are built."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from schemas import DlqError, DlqReason, DlqRecord
from signpost.kafka import ConsumerRecord, Outgoing

__all__ = ["dlq_outgoing", "reason_of", "validation_errors"]


def validation_errors(exc: ValidationError) -> tuple[DlqError, ...]:
    """pydantic's errors without their 'input' (which would carry personal data)."""
    return tuple(
        DlqError(loc=".".join(str(p) for p in e["loc"]) or "$", type=e["type"], msg=e["msg"])
        for e in exc.errors(include_input=False, include_url=False)
    )


def reason_of(errors: Sequence[DlqError]) -> DlqReason:
    """The named reason for a message that failed validation."""
    types = {e.type for e in errors}
    if "json_invalid" in types:
        return DlqReason.not_json
    if "extra_forbidden" in types:
        return DlqReason.unknown_field
    return DlqReason.schema_invalid


def dlq_outgoing(
    dlq_topic: str, record: ConsumerRecord, reason: DlqReason, errors: Sequence[DlqError]
) -> Outgoing:
    """A DLQ message keeping the original bytes, the reason, and where the record came from."""
    value: bytes = record.value or b""
    dlq = DlqRecord(
        reason=reason,
        errors=list(errors),
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        original=value.decode("utf-8", errors="replace"),
        rejected_at=datetime.now(UTC),
    )
    return Outgoing(dlq_topic, dlq.model_dump_json().encode(), record.key)
