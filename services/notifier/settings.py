"""The one settings class of the notifier (SIGNPOST_*)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from signpost.settings import PLACEHOLDER_SECRET, CommonSettings

__all__ = ["NotifierSettings"]


class NotifierSettings(CommonSettings):
    webhook_url: str | None = Field(
        default=None, description="one webhook URL for every practitioner for now; None = off"
    )
    webhook_secret: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_SECRET), description="HMAC-SHA256 key of webhook signatures"
    )
    token_secret: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_SECRET), description="key of professionals' signed tokens"
    )
    notifier_group: str = Field(default="signpost-notifier", description="consumer group")
    inbox_port: int = Field(
        default=8082, ge=0, description="inbox API, /healthz and /metrics; 0 = off"
    )
    webhook_timeout_s: float = Field(default=5.0, gt=0, description="per attempt")
    max_attempts: int = Field(default=5, ge=1, description="webhook attempts before alerts.dlq")
    backoff_base_s: float = Field(default=0.2, ge=0, description="first retry's delay ceiling")
    backoff_cap_s: float = Field(default=10.0, ge=0, description="largest delay between retries")

    def check(self) -> NotifierSettings:
        self._refuse_placeholders(webhook_secret=self.webhook_secret,
                                  token_secret=self.token_secret)
        return self
