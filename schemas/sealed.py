"""The one place for an event as it travels on `contact.events`: personal fields sealed."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SealedEvent"]


class SealedEvent(BaseModel):
    """A StandardisedEvent sealed by ingest with its agency record's data key (DESIGN §7).

    Only ids travel in clear. `sealed` is base64 of nonce || AES-256-GCM ciphertext of the
    StandardisedEvent's JSON, bound to event_id and key_id; once the key is deleted (the child
    was deleted) no copy of this message can be opened again.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    event_id: UUID
    agency_id: str = Field(max_length=128)
    key_id: str = Field(pattern=r"^[0-9a-f]{32}$",
                        description="keyed hash of the agency record: names its data key")
    sealed: str = Field(description="base64(nonce || AES-256-GCM(StandardisedEvent JSON))")
