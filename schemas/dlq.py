"""The one place for dead-letter records: rejected events and undeliverable alerts."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["AlertDlqRecord", "DlqReason", "DlqRecord"]


class DlqReason(StrEnum):
    """Why a message was parked. Bad data goes here; a server outage is retried instead."""

    not_json = "not_json"
    schema_invalid = "schema_invalid"
    unknown_field = "unknown_field"
    bad_signature = "bad_signature"
    processing_failed = "processing_failed"
    engine_failed = "engine_failed"  # the matcher's engine raised on a valid event (a poison)
    undeliverable = "undeliverable"


class DlqError(BaseModel):
    """One problem, naming the field (its JSON path), never its value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    loc: str
    type: str
    msg: str


class DlqRecord(BaseModel):
    """A rejected input event on `contact.events.dlq`, with the original bytes kept intact."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: DlqReason
    errors: list[DlqError] = Field(default_factory=list)
    source_topic: str
    source_partition: int | None = None
    source_offset: int | None = None
    original: str = Field(description="the original payload, decoded as UTF-8 with replacement")
    rejected_at: AwareDatetime


class AlertDlqRecord(BaseModel):
    """An alert that could not be delivered to one recipient on one channel, on `alerts.dlq`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: DlqReason
    detail: str = Field(description="e.g. 'HTTP 503 after 5 attempts'; never personal data")
    alert_id: str
    recipient_id: str
    channel: str
    attempts: int
    alert: dict[str, object]
    failed_at: AwareDatetime
