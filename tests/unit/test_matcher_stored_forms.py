"""The compact forms the index stores a record's envelope, its sealed fields and a practitioner
in: each reads back to what was stored (the earlier JSON forms of the sealed fields and of a
practitioner too), and anything else is refused."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import AgencyKind
from services.matcher.index import (
    _KINDS,
    KIND_CODES,
    PACKED_V2,
    PractitionerOnRecord,
    SealedRecord,
    _pack,
    _pack_json,
    _unpack,
    stored_record_id,
)
from services.matcher.standardise import Features
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


tokens = st.tuples() | st.lists(st.text(max_size=8), max_size=3).map(tuple)
any_text = st.text(max_size=12)  # separators and all: such a record is packed as JSON


@given(st.builds(Features, event_id=st.just("e1"), agency_id=st.just("gp-1"),
                 agency_kind=st.just("gp"), agency_record_id=any_text, given=tokens,
                 middle=tokens, family=tokens, other_names=tokens,
                 dob=st.none() | any_text, sex=any_text, nhs=st.none() | any_text,
                 postcode=st.none() | any_text, address=tokens, town=any_text,
                 carers=st.lists(st.tuples(any_text, any_text), max_size=3).map(tuple),
                 closed=st.booleans()))
def test_sealed_fields_unpack_to_the_features_packed(f: Features) -> None:
    packed = _pack(f)
    assert _unpack(packed, f.event_id, f.agency_id, f.agency_kind) == f
    if not any("\x1c" <= ch <= "\x1f" for text in _strings(dataclasses.astuple(f))
               for ch in text):
        assert packed.startswith(PACKED_V2.encode()), "the compact form, where it can be"


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, tuple):
        return [t for v in value for t in _strings(v)]
    return []


def test_the_compact_form_is_smaller_and_json_still_reads() -> None:
    f = Features(event_id="e1", agency_id="school-1", agency_kind="school",
                 agency_record_id="T39743420", given=("aleksandra",), middle=("katarzyna",),
                 family=("zajac",), other_names=(), dob="2016-09-04", sex="F", nhs=None,
                 postcode="S8 8HG", address=("120", "ladypool", "grove"), town="sheffield",
                 carers=(("tomasz", "zajac"),))
    assert len(_pack(f)) < len(_pack_json(f)) - 25
    assert _unpack(_pack_json(f), "e1", "school-1", "school") == f
