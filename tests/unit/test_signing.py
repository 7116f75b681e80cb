"""Agency signatures on raw messages: what is accepted, and why each forgery is refused."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from signpost.publish import event_agency, signed_message
from signpost.signing import (
    AGENCY_HEADER,
    SIGNATURE_HEADER,
    SignatureProblem,
    check_signature,
    sign,
    signed_headers,
)

PAYLOAD = b'{"agency": {"id": "school-1"}}'
KEYS = {"school-1": [SecretStr("k-school-new"), SecretStr("k-school-old")],
        "gp-1": [SecretStr("k-gp")]}


def _headers(agency: bytes, signature: bytes) -> list[tuple[str, bytes]]:
    return [(AGENCY_HEADER, agency), (SIGNATURE_HEADER, signature)]


GOOD = sign("k-school-new", PAYLOAD).encode()

CASES = [
    ("signed with the current key", signed_headers("school-1", "k-school-new", PAYLOAD),
     PAYLOAD, "school-1"),
    ("signed with the previous key while rotating",
     signed_headers("school-1", "k-school-old", PAYLOAD), PAYLOAD, "school-1"),
    ("header names in another case", [("Signpost-Agency", b"school-1"),
                                      ("SIGNPOST-SIGNATURE", GOOD)], PAYLOAD, "school-1"),
    ("no headers", None, PAYLOAD, SignatureProblem.missing),
    ("agency header only", [(AGENCY_HEADER, b"school-1")], PAYLOAD, SignatureProblem.missing),
    ("signature only", [(SIGNATURE_HEADER, GOOD)], PAYLOAD, SignatureProblem.missing),
    ("empty signature", _headers(b"school-1", b""), PAYLOAD, SignatureProblem.missing),
    ("unknown agency", signed_headers("school-9", "k-school-new", PAYLOAD), PAYLOAD,
     SignatureProblem.unknown_agency),
    ("another agency's key", signed_headers("school-1", "k-gp", PAYLOAD), PAYLOAD,
     SignatureProblem.mismatch),
    ("payload changed after signing", signed_headers("school-1", "k-school-new", PAYLOAD),
     PAYLOAD + b" ", SignatureProblem.mismatch),
    ("signature of one agency presented as another", _headers(b"gp-1", GOOD), PAYLOAD,
     SignatureProblem.mismatch),
    ("bare hex without the scheme", _headers(b"school-1", GOOD[len("sha256="):]), PAYLOAD,
     SignatureProblem.mismatch),
    ("agency header twice", [*signed_headers("school-1", "k-school-new", PAYLOAD),
                             (AGENCY_HEADER, b"gp-1")], PAYLOAD, SignatureProblem.duplicated),
    ("signature header twice", [*signed_headers("gp-1", "k-gp", PAYLOAD),
                                (SIGNATURE_HEADER, GOOD)], PAYLOAD,
     SignatureProblem.duplicated),
    ("agency header not UTF-8", _headers(b"\xff\xfe", GOOD), PAYLOAD,
     SignatureProblem.unknown_agency),
]


@pytest.mark.parametrize(("description", "headers", "payload", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_check_signature(description: str, headers: list[tuple[str, bytes]] | None,
                         payload: bytes, expected: str) -> None:
    assert check_signature(headers, payload, KEYS) == expected


def test_signature_is_hmac_sha256_hex_with_scheme() -> None:
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
    assert sign("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")


def test_publish_signs_as_the_event_agency_unless_told() -> None:
    assert event_agency(PAYLOAD) == "school-1"
    assert event_agency(b"not json") == event_agency(b'{"agency": 3}') == ""
    assert check_signature(signed_message(PAYLOAD, "k-school-new"), PAYLOAD, KEYS) == "school-1"
    assert check_signature(signed_message(PAYLOAD, "k-gp", agency="gp-1"), PAYLOAD,
                           KEYS) == "gp-1"


def test_production_refuses_short_signing_keys() -> None:
    from services.ingest.settings import IngestSettings
    from signpost.errors import ConfigError

    short = IngestSettings(environment="production", agency_signing_keys={"a": "short"})
    with pytest.raises(ConfigError, match="SIGNPOST_AGENCY_SIGNING_KEYS"):
        short.check()
    assert IngestSettings(environment="test", agency_signing_keys={"a": "short"}).check()
    good = IngestSettings(environment="production", agency_signing_keys={"a": ["k" * 32]})
    assert good.check().agency_signing_keys["a"][0].get_secret_value() == "k" * 32
    assert "k" * 32 not in repr(good)


def test_a_burst_smaller_than_a_batch_is_refused() -> None:
    from services.ingest.settings import IngestSettings
    from signpost.errors import ConfigError

    with pytest.raises(ConfigError, match="BURST"):
        IngestSettings(max_batch_events=100, gateway_burst_events=50)
