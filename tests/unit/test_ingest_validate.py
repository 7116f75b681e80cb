"""Ingest's validation and cleaning: pure, no server."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from schemas import DlqReason, StandardisedEvent
from services.ingest.standardise import clean_nhs_number, clean_postcode, nhs_check_digit_ok
from services.ingest.validate import MAX_EVENT_BYTES, Rejection, validate
from tests.support.events import make_event

NOW = datetime(2026, 11, 21, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("N17 9EJ", ("N17 9EJ", True)),
        ("n179ej", ("N17 9EJ", True)),
        (" sw1a  0aa ", ("SW1A 0AA", True)),
        ("N17 9E1", ("N17 9EI", True)),  # digit 1 keyed for letter I in the inward code
        ("NI7 9EJ", ("NI7 9EJ", True)),  # a valid shape is kept as it is
        ("0X1 2AB", ("OX1 2AB", True)),  # zero keyed for O as the first character
        ("2119", ("2119", False)),  # not UK: kept, flagged by postcode_is_uk
        ("", (None, False)),
        (None, (None, False)),
    ],
)
def test_clean_postcode(raw: str | None, expected: tuple[str | None, bool]) -> None:
    assert clean_postcode(raw) == expected


@pytest.mark.parametrize(
    ("raw", "digits", "flags"),
    [
        ("9434765919", "9434765919", []),
        ("943 476 5919", "9434765919", []),
        ("9434765918", None, ["nhs_number_check_failed"]),
        ("12345", None, ["nhs_number_check_failed"]),
        (None, None, []),
    ],
)
def test_clean_nhs_number(raw: str | None, digits: str | None, flags: list[str]) -> None:
    assert clean_nhs_number(raw) == (digits, flags)


def test_nhs_check_digit_of_ten_is_invalid() -> None:
    # weights sum 10*1+9*0+...: any number whose check would be 10 must fail
    assert not nhs_check_digit_ok("0000000010")


def _raw(event: dict[str, object]) -> bytes:
    return json.dumps(event).encode()


def test_valid_event_is_standardised() -> None:
    event = make_event(postcode="n179ej", nhs="943 476 5919")
    out = validate(_raw(event), NOW)
    assert isinstance(out, StandardisedEvent)
    assert out.std.postcode == "N17 9EJ"
    assert out.std.nhs_number == "9434765919"
    assert out.received_at == NOW


def test_failed_nhs_check_is_flagged_not_rejected() -> None:
    out = validate(_raw(make_event(nhs="9434765918")), NOW)
    assert isinstance(out, StandardisedEvent)
    assert out.std.nhs_number is None
    assert out.std.flags == ["nhs_number_check_failed"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", DlqReason.not_json),
        (b"\xff\xfe\x00", DlqReason.not_json),
        (b"[]", DlqReason.schema_invalid),
        (b"", DlqReason.not_json),
        (b"x" * (MAX_EVENT_BYTES + 1), DlqReason.schema_invalid),
    ],
)
def test_rejections_have_reasons(raw: bytes, reason: DlqReason) -> None:
    out = validate(raw, NOW)
    assert isinstance(out, Rejection)
    assert out.reason is reason


def test_unknown_field_is_its_own_reason_and_errors_carry_no_values() -> None:
    event = make_event(given="Zebedee-Unique")
    event["child"]["favourite_colour"] = "Zebedee-Unique"  # type: ignore[index]
    out = validate(_raw(event), NOW)
    assert isinstance(out, Rejection)
    assert out.reason is DlqReason.unknown_field
    assert "child.favourite_colour" in {e.loc for e in out.errors}
    assert "Zebedee" not in json.dumps([e.model_dump() for e in out.errors])
