"""The one place for the webhook channel: endpoints, signing, verifying, one signed attempt.

Wire contract (receivers rely on it):
- POST, body = `AlertDelivery` JSON (schemas/json/alert_delivery.schema.json): the alert as
  this recipient receives it, with "recipient": {"kind", "id"}; Content-Type: application/json;
- X-Signpost-Timestamp: unix seconds of this attempt;
- X-Signpost-Signature: "sha256=" + hex HMAC-SHA256(secret, f"{timestamp}." + body);
- Idempotency-Key: "<alert_id>:<recipient_id>", the same on every attempt and every replay:
  a receiver that keeps the keys it has seen shows each alert once, whatever happens.
Any 2xx is delivered. 5xx, 429, timeouts and connection errors are retried with the backoff;
any other status is final (the receiver refused the request, sending it again cannot help),
and so is a URL or proxy that cannot be used (not http(s), or an https:// proxy).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from schemas import Alert, Recipient
from services.notifier.content import delivery_body
from services.notifier.retry import Attempt
from services.notifier.sender import Sender, SendFailed, SendTimeout, Unusable
from services.notifier.settings import NotifierSettings

__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Target",
    "endpoint_for",
    "idempotency_key",
    "post",
    "sign",
    "verify",
]

TIMESTAMP_HEADER = "X-Signpost-Timestamp"
SIGNATURE_HEADER = "X-Signpost-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_SCHEME = "sha256="
RETRYABLE_STATUS = frozenset({429})  # plus every 5xx: the receiver may answer later


@dataclass(frozen=True, slots=True)
class Target:
    """Where one recipient's webhook goes, and the key that signs for that receiver."""

    url: str
    secret: str


def endpoint_for(recipient: Recipient, settings: NotifierSettings) -> Target | None:
    """The recipient's webhook: their own entry, else their agency's, else the default URL.

    Operators' queues have none (they read the inbox); None also when nothing is configured.
    """
    if recipient.kind != "practitioner":
        return None
    for name in (recipient.id, recipient.agency_id):
        endpoint = settings.webhook_endpoints.get(name) if name else None
        if endpoint is not None:
            return Target(endpoint.url, endpoint.secret.get_secret_value())
    if settings.webhook_url is None:
        return None
    return Target(settings.webhook_url, settings.webhook_secret.get_secret_value())


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over `f"{timestamp}."` + body: binds the signature to its time."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str, *,
           tolerance_s: float | None = None, now: Callable[[], float] = time.time) -> bool:
    """True if `header` ("sha256=<hex>") signs this body at this time (constant-time compare).

    With `tolerance_s`, a timestamp further than that from now is refused (replay protection).
    """
    if not header.startswith(SIGNATURE_SCHEME):
        return False
    if tolerance_s is not None:
        try:
            if abs(now() - int(timestamp)) > tolerance_s:
                return False
        except ValueError:
            return False
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected, header.removeprefix(SIGNATURE_SCHEME))


def idempotency_key(alert: Alert, recipient: Recipient) -> str:
    return f"{alert.alert_id}:{recipient.id}"


def _headers(secret: str, body: bytes, key: str, timestamp: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: SIGNATURE_SCHEME + sign(secret, timestamp, body),
        IDEMPOTENCY_HEADER: key,
    }


def _of_status(status: int) -> Attempt:
    return Attempt(ok=200 <= status < 300,
                   retryable=status >= 500 or status in RETRYABLE_STATUS,
                   label=f"HTTP {status}")


def post(sender: Sender, target: Target, alert: Alert, recipient: Recipient, *,
         now: Callable[[], float] = time.time) -> Attempt:
    """One signed POST of the alert to the recipient's receiver (signed afresh each time).

    Transport errors become an Attempt naming their kind, never their message.
    """
    body = delivery_body(alert, recipient)
    headers = _headers(target.secret, body, idempotency_key(alert, recipient), str(int(now())))
    try:
        status = sender.post(target.url, body, headers)
    except SendTimeout:
        return Attempt(ok=False, retryable=True, label="timeout")
    except Unusable:
        return Attempt(ok=False, retryable=False, label="unusable URL or proxy")
    except SendFailed:
        return Attempt(ok=False, retryable=True, label="connection error")
    return _of_status(status)
