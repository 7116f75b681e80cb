"""The one place for credentials: signed expiring tokens for people, hashed API keys for agencies.

Token format: base64url(JSON claims) "." base64url(HMAC-SHA256(secret, claims part)).
Claims: sub (principal id), role, exp (unix seconds). Verification is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, ValidationError

from signpost.errors import SignpostError

__all__ = [
    "AuthError",
    "Claims",
    "Role",
    "hash_api_key",
    "issue_token",
    "verify_api_key",
    "verify_token",
]

DEFAULT_TOKEN_TTL_S = 8 * 3600  # one working day


class AuthError(SignpostError):
    """A credential is missing, malformed, forged or expired."""


class Role(StrEnum):
    professional = "professional"
    operator = "operator"
    reviewer = "reviewer"
    auditor = "auditor"


class Claims(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sub: str
    role: Role
    exp: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())


def issue_token(secret: str, sub: str, role: Role, ttl_s: int = DEFAULT_TOKEN_TTL_S,
                now: Callable[[], float] = time.time) -> str:
    claims = Claims(sub=sub, role=role, exp=int(now()) + ttl_s)
    body = _b64(claims.model_dump_json().encode())
    return f"{body}.{_sign(secret, body)}"


def verify_token(secret: str, token: str, now: Callable[[], float] = time.time) -> Claims:
    """The token's claims, or AuthError. Never says which check failed beyond its kind."""
    body, _, signature = token.partition(".")
    if not body or not signature:
        raise AuthError("malformed token")
    if not hmac.compare_digest(_sign(secret, body), signature):
        raise AuthError("bad token signature")
    try:
        claims = Claims.model_validate_json(_unb64(body))
    except (ValidationError, ValueError) as exc:
        raise AuthError("malformed token claims") from exc
    if claims.exp < now():
        raise AuthError("token expired")
    return claims


def hash_api_key(key: str) -> str:
    """SHA-256 of an API key, hex: what configuration stores, never the key itself.

    API keys are 256-bit random values, so a fast hash is safe (no dictionary to guess from).
    """
    return hashlib.sha256(key.encode()).hexdigest()


def verify_api_key(key: str, hashes: dict[str, str]) -> str | None:
    """The agency id whose stored hash matches `key`, else None (constant-time compare)."""
    digest = hash_api_key(key)
    found = None
    for agency_id, stored in hashes.items():
        if hmac.compare_digest(digest, stored):
            found = agency_id
    return found
