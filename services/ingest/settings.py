"""The one settings class of ingest (SIGNPOST_*)."""

from __future__ import annotations

from pydantic import Field

from signpost.settings import CommonSettings

__all__ = ["IngestSettings"]


class IngestSettings(CommonSettings):
    ingest_group: str = Field(default="signpost-ingest", description="consumer group")
    gateway_port: int = Field(default=8081, description="HTTP gateway port; 0 = no gateway")
    agency_key_hashes: dict[str, str] = Field(
        default_factory=dict,
        description='JSON {"agency-id": "<sha256 hex of its API key>"}; keys are never stored',
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024,
                                description="largest accepted HTTP request body")
    max_batch_events: int = Field(default=1000, ge=1, description="events per JSONL request")

    def check(self) -> IngestSettings:
        return self
