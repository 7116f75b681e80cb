"""Webhook signatures: sign/verify round trip; any change to body, time or secret fails."""

from __future__ import annotations

import hashlib
import hmac

from services.notifier.webhook import sign, verify

SECRET = "s3cret"
BODY = b'{"alert_id":"a","recipient":{"kind":"practitioner","id":"sw-1"}}'
TS = "1700000000"


def _header(secret: str = SECRET, ts: str = TS, body: bytes = BODY) -> str:
    return "sha256=" + sign(secret, ts, body)


def test_sign_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, TS, BODY) == expected


def test_round_trip() -> None:
    assert verify(SECRET, TS, BODY, _header())


def test_tampered_body_fails() -> None:
    assert not verify(SECRET, TS, BODY.replace(b"sw-1", b"sw-2"), _header())


def test_other_timestamp_fails() -> None:
    assert not verify(SECRET, "1700000001", BODY, _header())


def test_other_secret_fails() -> None:
    assert not verify("other", TS, BODY, _header())


def test_header_without_scheme_fails() -> None:
    assert not verify(SECRET, TS, BODY, sign(SECRET, TS, BODY))


def test_tolerance_refuses_old_timestamps() -> None:
    header = _header()
    assert verify(SECRET, TS, BODY, header, tolerance_s=300, now=lambda: 1700000100.0)
    assert not verify(SECRET, TS, BODY, header, tolerance_s=300, now=lambda: 1700000400.0)
    assert not verify(SECRET, "not-a-number", BODY, header, tolerance_s=300)
