"""The one settings class of the notifier (SIGNPOST_*)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from signpost.settings import PLACEHOLDER_SECRET, CommonSettings

__all__ = ["Endpoint", "NotifierSettings"]


class Endpoint(BaseModel):
    """One case-management system's webhook: where to POST and the key that signs for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    secret: SecretStr


class NotifierSettings(CommonSettings):
    webhook_url: str | None = Field(
        default=None,
        description="default webhook URL for practitioners without an endpoint of their own; "
                    "None = off")
    webhook_secret: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_SECRET),
        description="HMAC-SHA256 key of signatures to the default webhook URL")
    webhook_endpoints: dict[str, Endpoint] = Field(
        default_factory=dict,
        description='JSON {"practitioner-or-agency-id": {"url": …, "secret": …}}; a '
                    "practitioner's own entry wins over their agency's, both over the default")
    token_secret: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_SECRET), description="key of professionals' signed tokens"
    )
    notifier_group: str = Field(default="signpost-notifier", description="consumer group")
    fetch_max_wait_ms: int = Field(
        default=20, ge=1, le=500,
        description="longest the broker holds a fetch of `alerts` (Kafka's default 500 ms would "
                    "be most of the delivery latency)")
    inbox_port: int = Field(
        default=8082, ge=0, description="inbox page and API, /healthz and /metrics; 0 = off"
    )
    inbox_url: str = Field(
        default="http://127.0.0.1:8082/inbox",
        description="public address of the inbox page, the only link an e-mail carries")
    webhook_timeout_s: float = Field(default=5.0, gt=0, description="per attempt")
    max_attempts: int = Field(default=5, ge=1,
                              description="webhook or e-mail attempts before alerts.dlq")
    backoff_base_s: float = Field(default=0.2, ge=0, description="first retry's delay ceiling")
    backoff_cap_s: float = Field(default=10.0, ge=0, description="largest delay between retries")
    delivery_workers: int = Field(default=4, ge=1, le=64,
                                  description="threads delivering webhooks and e-mails")
    fold_window_s: float = Field(
        default=3600.0, ge=0,
        description="repeats about the same child and discrepancy within this fold into the "
                    "first alert; 0 = never fold")
    escalate_after_s: float = Field(
        default=86400.0, ge=0,
        description="unacknowledged this long: the alert goes to the next practitioner on the "
                    "child's record and to operators; 0 = never")
    smtp_host: str | None = Field(default=None, description="SMTP server for e-mail notices; "
                                                            "None = no e-mail")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP port")
    smtp_starttls: bool = Field(default=False, description="upgrade the SMTP connection with "
                                                           "STARTTLS")
    smtp_user: str | None = Field(default=None, description="SMTP login; None = no login")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password")
    smtp_from: str = Field(default="signpost@localhost", description="From: of e-mail notices")

    def check(self) -> NotifierSettings:
        self._refuse_placeholders(token_secret=self.token_secret)
        if self.webhook_url is not None:
            self._refuse_placeholders(webhook_secret=self.webhook_secret)
        for name, endpoint in self.webhook_endpoints.items():
            self._refuse_placeholders(**{f"webhook_endpoints[{name}].secret": endpoint.secret})
        return self

    @property
    def lease_s(self) -> float:
        """How long a claimed delivery job is hidden from other workers: longer than one
        attempt can take (connect, write and read each bounded by the timeout)."""
        return 3 * self.webhook_timeout_s + 1.0
