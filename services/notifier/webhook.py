"""The one place for the webhook channel: signing, verifying and delivering with retries.

Wire contract (receivers rely on it):
- POST, body = the Alert JSON plus "recipient": {"kind", "id"}; Content-Type: application/json;
- X-Signpost-Timestamp: unix seconds of this attempt;
- X-Signpost-Signature: "sha256=" + hex HMAC-SHA256(secret, f"{timestamp}." + body);
- Idempotency-Key: "<alert_id>:<recipient_id>", the same on every attempt and every replay.
Any 2xx is delivered. 5xx, 429, timeouts and connection errors are retried with the backoff;
any other status is final (the receiver refused the request, sending it again cannot help).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from schemas import Alert, Recipient
from services.notifier.retry import Backoff

__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "DeliveryOutcome",
    "body_of",
    "deliver",
    "sign",
    "verify",
]

logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Signpost-Timestamp"
SIGNATURE_HEADER = "X-Signpost-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_SCHEME = "sha256="
RETRYABLE_STATUS = frozenset({429})  # plus every 5xx: the receiver may answer later


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """How one delivery ended. `detail` names a status or an error kind, never personal data."""

    delivered: bool
    attempts: int
    detail: str
    status: int | None = None


@dataclass(frozen=True, slots=True)
class _Try:
    """One attempt's result: an HTTP status, or the name of the transport error."""

    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        if self.status is None:
            return True  # timeout or connection error
        return self.status >= 500 or self.status in RETRYABLE_STATUS

    @property
    def label(self) -> str:
        return f"HTTP {self.status}" if self.status is not None else str(self.error)


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


def body_of(alert: Alert, recipient: Recipient) -> bytes:
    """The request body: the alert as JSON plus the one recipient it is delivered to."""
    payload = alert.model_dump(mode="json")
    payload["recipient"] = recipient.model_dump(mode="json")
    return json.dumps(payload, separators=(",", ":")).encode()


def _headers(secret: str, body: bytes, idempotency_key: str, timestamp: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: SIGNATURE_SCHEME + sign(secret, timestamp, body),
        IDEMPOTENCY_HEADER: idempotency_key,
    }


def _attempt(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> _Try:
    """POST once; transport errors become a _Try naming their kind (never their message)."""
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        return _Try(None, "timeout")
    except httpx.TransportError:
        return _Try(None, "connection error")
    return _Try(response.status_code)


def _plural(n: int) -> str:
    return f"{n} attempt" if n == 1 else f"{n} attempts"


def deliver(client: httpx.Client, url: str, secret: str, alert: Alert, recipient: Recipient,
            backoff: Backoff, max_attempts: int, *,
            sleep: Callable[[float], object] = time.sleep,
            now: Callable[[], float] = time.time) -> DeliveryOutcome:
    """POST the signed alert until a 2xx, a final refusal, or `max_attempts` tries.

    Each attempt is signed afresh (its own timestamp); the body and idempotency key never change.
    The only sleep between attempts is here, for `backoff.delay(attempt)`.
    """
    body = body_of(alert, recipient)
    key = f"{alert.alert_id}:{recipient.id}"
    attempt = 0
    while True:
        result = _attempt(client, url, body, _headers(secret, body, key, str(int(now()))))
        attempt += 1
        if result.ok:
            return DeliveryOutcome(True, attempt, f"{result.label} after {_plural(attempt)}",
                                   result.status)
        if not result.retryable or attempt >= max(1, max_attempts):
            return DeliveryOutcome(False, attempt, f"{result.label} after {_plural(attempt)}",
                                   result.status)
        logger.info("webhook alert_id=%s attempt %d: %s; retrying", alert.alert_id, attempt,
                    result.label)
        sleep(backoff.delay(attempt - 1))
