"""The retention policy (pure): birth date by majority, 18th birthday plus grace, consent,
and the closure rule."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from services.matcher.retention import (
    PurgeReason,
    RetentionPolicy,
    all_closed,
    birth_date,
    due_reason,
    eighteenth_birthday,
)
from services.matcher.standardise import Features

POLICY = RetentionPolicy(grace_days=365, purge_on_closure=False)
CLOSURE = RetentionPolicy(grace_days=365, purge_on_closure=True)


def rec(dob: str | None = "2000-03-15", agency: str = "school-1", record: str = "R1",
        closed: bool = False, n: int = 0) -> Features:
    return Features(event_id=f"e{n}", agency_id=agency, agency_kind="school",
                    agency_record_id=record, given=("amy",), middle=(), family=("lee",),
                    other_names=(), dob=dob, sex="F", nhs=None, postcode=None, address=(),
                    town="", carers=(), closed=closed)


def test_birth_date_is_the_most_frequent_and_a_tie_takes_the_latest() -> None:
    assert birth_date([rec("2000-03-15"), rec("2000-03-16"), rec("2000-03-15")]) \
        == date(2000, 3, 15)
    assert birth_date([rec("2000-03-15"), rec("2001-03-15")]) == date(2001, 3, 15)
    assert birth_date([rec(None), rec(None)]) is None
    assert birth_date([]) is None


def test_eighteenth_birthday_of_a_leap_day_child_is_the_first_of_march() -> None:
    assert eighteenth_birthday(date(2008, 2, 29)) == date(2026, 3, 1)
    assert eighteenth_birthday(date(2012, 2, 29)) == date(2030, 3, 1)
    assert eighteenth_birthday(date(2000, 3, 15)) == date(2018, 3, 15)


@pytest.mark.parametrize(("today", "due"), [
    (date(2019, 3, 15), False),  # 18th birthday (2018-03-15) + 365 days: the last day kept
    (date(2019, 3, 16), True),  # the day after: due
    (date(2017, 1, 1), False),  # a minor
])
def test_due_by_age_from_the_day_after_birthday_plus_grace(today: date, due: bool) -> None:
    assert (due_reason([rec()], False, today, POLICY) is PurgeReason.age) is due


def test_grace_is_configurable() -> None:
    assert due_reason([rec()], False, date(2018, 3, 16), RetentionPolicy(grace_days=0)) \
        is PurgeReason.age
    assert due_reason([rec()], False, date(2018, 3, 16), RetentionPolicy(grace_days=1)) is None


def test_consent_exempts_from_age_and_no_birth_date_is_never_due_by_age() -> None:
    assert due_reason([rec()], True, date(2040, 1, 1), POLICY) is None
    assert due_reason([rec(None)], False, date(2090, 1, 1), POLICY) is None


def test_closure_only_when_every_agency_records_latest_event_is_a_closure() -> None:
    young = "2020-01-01"
    school = [rec(young, n=1), rec(young, closed=True, n=2)]
    gp_open = [rec(young, agency="gp-1", record="G1", n=3)]
    gp_closed_then_reopened = [rec(young, agency="gp-1", record="G1", closed=True, n=4),
                               rec(young, agency="gp-1", record="G1", n=5)]
    today = date(2026, 11, 22)
    assert due_reason(school, False, today, CLOSURE) is PurgeReason.closure
    assert due_reason(school, True, today, CLOSURE) is PurgeReason.closure  # consent: age only
    assert due_reason(school, False, today, POLICY) is None  # the policy is off
    assert due_reason(school + gp_open, False, today, CLOSURE) is None
    assert due_reason(school + gp_closed_then_reopened, False, today, CLOSURE) is None
    assert not all_closed([])


def test_a_closed_adult_is_due_by_closure_first() -> None:
    closed = dataclasses.replace(rec(), closed=True)
    assert due_reason([closed], False, date(2030, 1, 1), CLOSURE) is PurgeReason.closure
    assert due_reason([closed], False, date(2030, 1, 1), POLICY) is PurgeReason.age
