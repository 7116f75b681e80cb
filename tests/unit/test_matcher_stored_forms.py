"""The compact forms the index stores a record's envelope and a practitioner in: each reads
back to what was stored (a practitioner's earlier JSON form too), and anything else is
refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import AgencyKind
from services.matcher.index import (
    _KINDS,
    KIND_CODES,
    PractitionerOnRecord,
    SealedRecord,
    stored_record_id,
)
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
kinds = st.sampled_from(sorted(KIND_CODES)) | no_bar.filter(lambda k: k not in _KINDS)


@given(st.builds(SealedRecord, record_id=st.uuids().map(str) | no_bar, child_id=no_bar,
                 seq=st.integers(0, 2**53), agency_id=text, agency_kind=kinds,
                 key_id=st.binary(min_size=16, max_size=16).map(bytes.hex),
                 sealed=st.text("ABCDEFabcdef0123456789+/=", max_size=60)))
def test_a_record_envelope_reads_back_from_its_stored_form(r: SealedRecord) -> None:
    assert SealedRecord.parse(r.dump(), r.seq) == r
    assert stored_record_id(r.dump()) == r.record_id


def test_every_agency_kind_has_its_own_letter() -> None:
    assert set(KIND_CODES) == {k.value for k in AgencyKind}
    assert len(set(KIND_CODES.values())) == len(KIND_CODES)
    assert all(len(code) == 1 for code in KIND_CODES.values())


@pytest.mark.parametrize("raw", ["", "r3|id|k|C1|s|x", "r3|id|notakey|C1|s|x|a",
                                 "r2|1|k|C1|gp|s|a", '{"seq":1}', "[]"])
def test_a_record_envelope_in_no_known_form_is_refused(raw: str) -> None:
    with pytest.raises(CryptoError, match="no known form"):
        SealedRecord.parse(raw, 1)
