"""The one place for agency signatures on `contact.events.raw` (publishers sign, ingest checks).

Wire contract (agencies' systems rely on it):
- header `signpost-agency`: the publishing agency's id, UTF-8, exactly once;
- header `signpost-signature`: "sha256=" + hex HMAC-SHA256(agency's signing key, value bytes),
  exactly once; the MAC is over the exact message value as produced, nothing else.
The event's `agency.id` must equal the header's agency (ingest checks after parsing). A replay
of a signed message is harmless: the event id inside it makes every effect idempotent.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum

from pydantic import SecretStr

__all__ = [
    "AGENCY_HEADER",
    "SIGNATURE_HEADER",
    "SIGNATURE_SCHEME",
    "SignatureProblem",
    "check_signature",
    "sign",
    "signed_headers",
]

AGENCY_HEADER = "signpost-agency"
SIGNATURE_HEADER = "signpost-signature"
SIGNATURE_SCHEME = "sha256="

Headers = Sequence[tuple[str, bytes]]


class SignatureProblem(StrEnum):
    """Why a message's signature was refused; each is dead-lettered as `bad_signature`."""

    missing = "signature_missing"
    duplicated = "signature_header_repeated"
    unknown_agency = "unknown_agency"
    mismatch = "signature_mismatch"
    agency_mismatch = "agency_mismatch"


def sign(key: str, payload: bytes) -> str:
    """The `signpost-signature` header value for `payload` under `key`."""
    return SIGNATURE_SCHEME + hmac.new(key.encode(), payload, hashlib.sha256).hexdigest()


def signed_headers(agency_id: str, key: str, payload: bytes) -> list[tuple[str, bytes]]:
    """The two headers a publisher adds to one message."""
    return [(AGENCY_HEADER, agency_id.encode()),
            (SIGNATURE_HEADER, sign(key, payload).encode())]


def _one(headers: Headers, name: str) -> bytes | SignatureProblem | None:
    values = [v for k, v in headers if k.lower() == name]
    if len(values) > 1:
        return SignatureProblem.duplicated
    return values[0] if values else None


def _matches(keys: Iterable[SecretStr], payload: bytes, signature: bytes) -> bool:
    """Constant-time comparison against every current key (two during a rotation)."""
    found = False
    for key in keys:
        expected = sign(key.get_secret_value(), payload).encode()
        found |= hmac.compare_digest(expected, signature)
    return found


def check_signature(headers: Headers | None, payload: bytes,
                    keys: Mapping[str, Sequence[SecretStr]]) -> str | SignatureProblem:
    """The agency id whose key signed `payload`, or why not."""
    agency = _one(headers or (), AGENCY_HEADER)
    signature = _one(headers or (), SIGNATURE_HEADER)
    for value in (agency, signature):
        if isinstance(value, SignatureProblem):
            return value
    if not agency or not signature:
        return SignatureProblem.missing
    assert isinstance(agency, bytes) and isinstance(signature, bytes)
    agency_id = agency.decode("utf-8", errors="replace")
    if agency_id not in keys:
        return SignatureProblem.unknown_agency
    if not _matches(keys[agency_id], payload, signature):
        return SignatureProblem.mismatch
    return agency_id
