"""The compact forms the index stores a record's envelope and a practitioner in: each reads
back to what was stored, the earlier JSON forms still read, and anything else is refused."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.matcher.index import PractitionerOnRecord, SealedRecord
from signpost.crypto import CryptoError

text = st.text(max_size=30)
maybe = st.none() | text

practitioners = st.builds(PractitionerOnRecord, id=text, name=maybe, role=maybe, email=maybe,
                          phone=maybe, agency_id=text, agency_kind=text, lead=st.booleans())


@given(practitioners)
def test_a_practitioner_reads_back_from_its_stored_form_and_the_earlier_one(
        p: PractitionerOnRecord) -> None:
    assert PractitionerOnRecord.from_stored(p.id, p.stored()) == p
    assert PractitionerOnRecord.from_stored(p.id, p.model_dump_json(exclude_defaults=True)) == p
    assert len(p.stored().encode()) < len(p.model_dump_json().encode()), "and smaller"


@pytest.mark.parametrize("value", ["[]", '["a"]', '"x"', "[1,2,3,4,5,6,7,8]", "nope"])
def test_a_practitioner_in_no_known_form_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        PractitionerOnRecord.from_stored("p1", value)


no_bar = st.text(st.characters(blacklist_characters="|"), max_size=30)


@given(st.builds(SealedRecord, child_id=no_bar, seq=st.integers(0, 2**53),
                 agency_id=text, agency_kind=no_bar, key_id=no_bar,
                 sealed=st.text("ABCDEFabcdef0123456789+/=", max_size=60)))
def test_a_record_envelope_reads_back_from_its_stored_form_and_the_earlier_one(
        r: SealedRecord) -> None:
    assert SealedRecord.parse(r.dump()) == r
    earlier = json.dumps({"child_id": r.child_id, "seq": r.seq, "agency_id": r.agency_id,
                          "agency_kind": r.agency_kind, "key_id": r.key_id, "sealed": r.sealed})
    assert SealedRecord.parse(earlier) == r


@pytest.mark.parametrize("raw", ["", "r2|1|k|C1|gp|s", "r2|x|k|C1|gp|s|a", '{"seq":1}', "[]"])
def test_a_record_envelope_in_no_known_form_is_refused(raw: str) -> None:
    with pytest.raises(CryptoError, match="no known form"):
        SealedRecord.parse(raw)
