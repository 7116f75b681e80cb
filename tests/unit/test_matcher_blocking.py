"""Blocking keys: which stored records an event meets (pure; index.py hashes the material)."""

from __future__ import annotations

from services.matcher.blocking import block_keys
from tests.unit.test_matcher_compare import feats


def test_keying_errors_in_every_name_and_place_still_meet_on_birth_date_and_initials() -> None:
    """FEBRL3 rec-1559: jessica rivers, 5065, kingsthorpe / jessiva rivera, 5056, kingstoxrpe:
    every phonetic code, the postcode and the town differ; the birth date and initials do not."""
    stored = feats(given="Jessica", family="Rivers", postcode="5065", town="Kingsthorpe",
                   line="14 Quick Street", record_id="A")
    event = feats(given="Jessiva", family="Rivera", postcode="5056", town="Kingstoxrpe",
                  line="14 Quick Strkeet", record_id="B", agency_id="gp-0001")
    assert set(block_keys(stored)) & set(block_keys(event))


def test_no_birth_date_no_initials_key() -> None:
    assert not [k for k in block_keys(feats(dob=None)) if k.startswith("di|")]
