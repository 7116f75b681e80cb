"""The blocking digests and the agency signatures are HMAC-SHA256, checked against RFC 4231's
published test vector rather than another call of the same library (the webhook signature:
test_notifier_webhook_sign.py)."""

from __future__ import annotations

from services.matcher.index import keyed_digest
from signpost import signing

# RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
KEY, DATA = "Jefe", "what do ya want for nothing?"
HMAC_SHA256 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_a_blocking_digest_is_the_truncated_hmac() -> None:
    assert keyed_digest(KEY.encode(), DATA, 64) == HMAC_SHA256
    assert keyed_digest(KEY.encode(), DATA, 32) == HMAC_SHA256[:32]


def test_an_agency_signature_is_the_hmac_of_the_payload() -> None:
    assert signing.sign(KEY, DATA.encode()) == "sha256=" + HMAC_SHA256
