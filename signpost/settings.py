"""The one place for settings every service shares; each service extends it (SIGNPOST_*)."""

from __future__ import annotations

import secrets
from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from signpost.errors import ConfigError

__all__ = ["KEY_CACHE_ENTRIES", "PLACEHOLDER_SECRET", "SASL_PROTOCOLS", "CommonSettings",
           "Environment", "TokenSettings", "Topics", "random_secret"]

#: The value shipped in examples. Refused outside dev and test (FastAPI template's rule).
PLACEHOLDER_SECRET = "changethis"

#: Kafka security protocols that authenticate with SASL (and so need a mechanism and login).
SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})

#: Unwrapped data keys each process keeps by default (~15 MB): SIGNPOST_KEY_CACHE_ENTRIES.
KEY_CACHE_ENTRIES = 100_000


class Environment(StrEnum):
    dev = "dev"
    test = "test"
    production = "production"


def random_secret() -> str:
    """A fresh 256-bit secret, url-safe."""
    return secrets.token_urlsafe(32)


class Topics:
    """Topic names, optionally prefixed so that tests and tenants never collide."""

    def __init__(self, prefix: str = "") -> None:
        self.raw = f"{prefix}contact.events.raw"
        self.events = f"{prefix}contact.events"
        self.events_dlq = f"{prefix}contact.events.dlq"
        self.links = f"{prefix}child.links"
        self.alerts = f"{prefix}alerts"
        self.alerts_dlq = f"{prefix}alerts.dlq"
        self.audit = f"{prefix}audit.log"  # the hash-chained audit records; keep forever

    def all(self) -> list[str]:
        return [self.raw, self.events, self.events_dlq, self.links, self.alerts, self.alerts_dlq,
                self.audit]


class CommonSettings(BaseSettings):
    """Read from SIGNPOST_* environment variables; frozen once built in main()."""

    model_config = SettingsConfigDict(env_prefix="SIGNPOST_", frozen=True, extra="ignore")

    environment: Environment = Field(
        default=Environment.dev,
        description="dev, test or production; production refuses placeholder secrets")
    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="Kafka bootstrap servers")
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis URL")
    key_prefix: str = Field(default="sp", description="prefix of every Redis key")
    topic_prefix: str = Field(default="", description="prefix of every topic name")
    partitions: int = Field(default=3, ge=1, description="partitions of topics Signpost creates")
    session_timeout_ms: int = Field(
        default=10_000, ge=1000, description="Kafka consumer session timeout; >= 6000 on Kafka"
    )
    max_poll_records: int = Field(default=200, ge=1, description="records per consumer poll")
    http_host: str = Field(default="127.0.0.1",
                           description="bind address of every HTTP server; 0.0.0.0 in containers")
    log_level: str = Field(default="INFO", description="Python logging level")
    exceptional_access_max_s: int = Field(
        default=8 * 3600, ge=60,
        description="longest exceptional-access grant, from its approval (seconds)")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="how every Kafka client connects; SASL_SSL in production (see Security)")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism; required with a SASL_* protocol")
    kafka_sasl_username: str | None = Field(
        default=None, description="SASL principal of this service; required with SASL")
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="SASL password; required with SASL")
    master_key: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_SECRET),
        description="master key material that wraps every data key (any high-entropy string); "
                    "production refuses the placeholder")
    master_key_file: Path | None = Field(
        default=None, description="file holding the master key material; wins over MASTER_KEY")
    plaintext_retention_hours: int = Field(
        default=72, ge=1,
        description="retention of the only topics holding plaintext personal data "
                    "(contact.events.raw and its DLQ), set when Signpost creates them")
    keystore_url: str | None = Field(
        default=None,
        description="Redis of the wrapped data keys; None = REDIS_URL (dev and test only: "
                    "production needs a Redis of its own)")
    key_cache_entries: int = Field(
        default=KEY_CACHE_ENTRIES, ge=0,
        description="unwrapped data keys each process keeps in memory for opening (~150 "
                    "bytes each), newest used first, each for 5 minutes at most; 0 = off")
    kafka_ssl_cafile: str | None = Field(
        default=None,
        description="CA bundle (PEM) the brokers' certificates are checked against; None = "
                    "the system's")

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    def _refuse_placeholders(self, **named: SecretStr) -> None:
        """Outside dev and test, a placeholder or empty secret is a configuration error."""
        if self.environment is not Environment.production:
            return
        for name, value in named.items():
            raw = value.get_secret_value()
            if not raw or raw == PLACEHOLDER_SECRET:
                raise ConfigError(f"SIGNPOST_{name.upper()} must be set to a real secret")

    def refuse_placeholder_master_key(self) -> None:
        self._refuse_placeholders(master_key=self.master_key)

    @model_validator(mode="after")
    def _check_timeouts(self) -> Self:
        if self.session_timeout_ms < 1000:
            raise ConfigError("SIGNPOST_SESSION_TIMEOUT_MS must be at least 1000")
        return self

    @model_validator(mode="after")
    def _check_sasl(self) -> Self:
        """A SASL protocol needs a mechanism, a username and a password; the error names
        the missing setting, never a value."""
        if self.kafka_security_protocol not in SASL_PROTOCOLS:
            return self
        for name in ("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password"):
            if not getattr(self, name):
                raise ConfigError(f"SIGNPOST_{name.upper()} must be set with "
                                  f"SIGNPOST_KAFKA_SECURITY_PROTOCOL="
                                  f"{self.kafka_security_protocol}")
        return self


class TokenSettings(CommonSettings):
    """What the commands that issue or check people's tokens read (the services use the same)."""

    token_secret: SecretStr = Field(default=SecretStr(""),
                                    description="key of people's signed tokens")

    def secret(self) -> str:
        """The key; ConfigError if unset, or the placeholder in production."""
        if not self.token_secret.get_secret_value():
            raise ConfigError("SIGNPOST_TOKEN_SECRET must be set")
        self._refuse_placeholders(token_secret=self.token_secret)
        return self.token_secret.get_secret_value()
