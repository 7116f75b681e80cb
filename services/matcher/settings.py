"""The one settings class of the matcher (SIGNPOST_*)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from signpost.settings import PLACEHOLDER_SECRET, CommonSettings

__all__ = ["BROAD_CANDIDATES_PER_KEY", "RECORD_CACHE_ENTRIES", "MatcherSettings"]

#: Opened records each matcher keeps by default: SIGNPOST_RECORD_CACHE_ENTRIES.
RECORD_CACHE_ENTRIES = 100_000
#: Members read from a broad blocking key by default (README, "Broad blocking keys"):
#: SIGNPOST_BROAD_CANDIDATES_PER_KEY.
BROAD_CANDIDATES_PER_KEY = 10


class MatcherSettings(CommonSettings):
    blocking_secret: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_SECRET),
        description="HMAC key of blocking keys in Redis; the same for every matcher",
    )
    model_path: Path | None = Field(default=None, description="model.json; default: shipped")
    upper_threshold: float | None = Field(default=None, description="override the model's")
    lower_threshold: float | None = Field(default=None, description="override the model's")
    candidates_per_key: int = Field(default=50, ge=1, le=1000,
                                    description="newest records read per blocking key")
    broad_candidates_per_key: int = Field(
        default=BROAD_CANDIDATES_PER_KEY, ge=1, le=1000,
        description="newest records read per broad blocking key (a name alone, a birth date "
                    "in a town: blocks that grow with the population); at most "
                    "`candidates_per_key`")
    max_candidates: int = Field(
        default=40, ge=1, le=5000,
        description="records scored per event: those sharing the most of its blocking keys")
    result_ttl_hours: float = Field(
        default=168.0, ge=0,
        description="hours each event's stored result (`evt` key) is kept, so that a "
                    "redelivered or replayed event gets its first decision back; must "
                    "exceed the longest a decided event can wait uncommitted on "
                    "`contact.events`; 0 = kept forever")
    record_cache_entries: int = Field(
        default=RECORD_CACHE_ENTRIES, ge=0,
        description="opened (decrypted) records each matcher keeps in memory, newest "
                    "used first; still read from Redis and opened only while their data "
                    "key exists; 0 = off")
    matcher_group: str = Field(default="signpost-matcher", description="consumer group")
    matcher_http_port: int = Field(default=8083, description="/healthz and /metrics; 0 = off")
    console_lag_groups: dict[str, str] = Field(
        default={"signpost-ingest": "contact.events.raw", "signpost-notifier": "alerts"},
        description="JSON {\"consumer group\": \"topic (unprefixed)\"} whose lag the console "
                    "shows, besides the matcher's own group on contact.events")
    token_secret: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_SECRET),
        description="key of professionals' signed tokens (Who else?); in production a "
                    "placeholder leaves the lookup off")

    retention_grace_days: int = Field(
        default=365, ge=0,
        description="days after the 18th birthday before a child without recorded consent "
                    "is purged (`signpost purge`, and the service's schedule)")
    purge_on_closure: bool = Field(
        default=False,
        description="also purge a child once every agency record's latest event is a closure")
    purge_interval_s: float = Field(
        default=86400.0, ge=0,
        description="seconds between the service's retention purges (one matcher of all "
                    "runs each); 0 = off")

    def check(self) -> MatcherSettings:
        self._refuse_placeholders(blocking_secret=self.blocking_secret)
        return self
