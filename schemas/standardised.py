"""The one place for a validated event as ingest passes it on, on `contact.events`."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.contact_event import ContactEventV1

__all__ = ["StandardisedEvent", "StandardisedFields"]


class StandardisedFields(BaseModel):
    """Cleaned values ingest derives; the original event is kept beside them unchanged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    postcode: str | None = Field(
        description="UK postcode in canonical form 'N17 9EJ', or the cleaned value if not UK"
    )
    postcode_is_uk: bool
    nhs_number: str | None = Field(description="10 digits, or null when absent or mod-11 fails")
    flags: list[str] = Field(
        default_factory=list,
        description="machine-readable notes, e.g. 'nhs_number_check_failed'",
    )


class StandardisedEvent(BaseModel):
    """A contact event that passed ingest: the event, its cleaned fields, when it arrived."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: ContactEventV1
    std: StandardisedFields
    received_at: AwareDatetime
    correction: bool = Field(
        default=False,
        description="the agency corrects its record (POST /v1/corrections): this event "
                    "supersedes the earlier events of the same agency record")
