"""The one settings class of ingest (SIGNPOST_*)."""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from signpost.errors import ConfigError
from signpost.settings import PLACEHOLDER_SECRET, CommonSettings, Environment

__all__ = ["IngestSettings"]

MIN_SIGNING_KEY_CHARS = 32  # 32 url-safe characters carry at least 190 bits


class IngestSettings(CommonSettings):
    ingest_group: str = Field(default="signpost-ingest", description="consumer group")
    gateway_port: int = Field(default=8081, description="HTTP gateway port; 0 = no gateway")
    agency_key_hashes: dict[str, str] = Field(
        default_factory=dict,
        description='JSON {"agency-id": "<sha256 hex of its API key>"}; keys are never stored',
    )
    agency_signing_keys: dict[str, list[SecretStr]] = Field(
        default_factory=dict,
        description='JSON {"agency-id": "<key>"} or {"agency-id": ["<new>", "<old>"]} while '
                    "rotating: HMAC keys of signed messages on contact.events.raw (secret)",
    )
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024,
                                description="largest accepted HTTP request body")
    max_batch_events: int = Field(default=1000, ge=1, description="events per JSONL request")
    gateway_events_per_s: float = Field(
        default=200.0, gt=0, description="sustained events per second per agency on the gateway")
    gateway_burst_events: int = Field(
        default=2000, ge=1,
        description="events an agency may send at once (token bucket); >= max batch")

    @field_validator("agency_signing_keys", mode="before")
    @classmethod
    def _one_key_or_several(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str | SecretStr) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _burst_fits_a_batch(self) -> Self:
        if self.gateway_burst_events < self.max_batch_events:
            raise ConfigError("SIGNPOST_GATEWAY_BURST_EVENTS must be at least "
                              "SIGNPOST_MAX_BATCH_EVENTS, or a full batch could never pass")
        return self

    def check(self) -> IngestSettings:
        """In production every signing key must be real: long, and not the placeholder."""
        if self.environment is not Environment.production:
            return self
        for agency, keys in self.agency_signing_keys.items():
            for key in keys:
                raw = key.get_secret_value()
                if len(raw) < MIN_SIGNING_KEY_CHARS or raw == PLACEHOLDER_SECRET:
                    raise ConfigError(f"SIGNPOST_AGENCY_SIGNING_KEYS: the key of {agency} "
                                      f"must have at least {MIN_SIGNING_KEY_CHARS} characters")
        return self
