"""Stored results (idempotency: a replayed event gets its first result back) are kept
compressed with a preset dictionary; older forms still open. Pure, no server."""

from __future__ import annotations

import base64
import hashlib
import zlib

from hypothesis import given
from hypothesis import strategies as st

from services.matcher.index import RESULT_ZDICT, pack_json, unpack_json

RESULT = ('{"decision":{"event_id":"12ccf265-3332-4650-b06d-e0f5a5ea404e","child_id":"C5851875'
          '683af480cb9ed","outcome":"linked","score":37.4,"prior":-6.1,"explanation":[{"compa'
          'rison":"given_name","level":"equivalent","weight":5.0,"term_frequency":null}],"rule'
          '":null,"model_version":"2"},"alerts":[]}')


def test_the_dictionary_never_changes() -> None:
    # Results packed with it are in Redis for RESULT_TTL_S: a new dictionary is a new file
    # and a new prefix, never an edit of this one.
    assert hashlib.sha256(RESULT_ZDICT).hexdigest() == (
        "2cda0552b0f48b3e4b16e8b47509b40d77ca9b598de38d40868ebad5f8dce1d3")


def test_a_result_packs_smaller_with_the_dictionary() -> None:
    packed = pack_json(RESULT)
    assert packed.startswith("y1") and unpack_json(packed) == RESULT
    plain_zlib = base64.b64encode(zlib.compress(RESULT.encode()))
    assert len(packed) < len(plain_zlib) * 0.75


@given(st.text())
def test_any_text_round_trips(text: str) -> None:
    assert unpack_json(pack_json(text)) == text


def test_earlier_forms_still_open() -> None:
    assert unpack_json("z" + base64.b64encode(zlib.compress(RESULT.encode())).decode()
                          ) == RESULT
    assert unpack_json(RESULT) == RESULT  # stored as JSON, before compression


def test_a_damaged_value_is_given_back_as_it_is() -> None:
    packed = pack_json(RESULT)
    for damaged in (packed[:-8], "y1" + "!" * 12, "z" + packed[2:]):
        assert unpack_json(damaged) == damaged
