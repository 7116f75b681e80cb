"""The synthetic evaluation set: valid, ordered, seeded, with its variations and hard negatives."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas import ContactEventV1
from signpost.demo import REFERENCE_DATE
from signpost.synth import (
    VARIATIONS,
    WINDOW_START,
    SynthChild,
    SynthSet,
    synthesise,
    write_synth,
)

Event = dict[str, Any]
Records = dict[tuple[str, str], list[tuple[Event, Event]]]  # (agency, record id) -> events
CHILDREN, SEED = 1000, 3


@pytest.fixture(scope="module")
def synth() -> SynthSet:
    return synthesise(CHILDREN, SEED)


@pytest.fixture(scope="module")
def stream(synth: SynthSet) -> list[tuple[Event, Event]]:
    return list(synth.stream())


@pytest.fixture(scope="module")
def truth(synth: SynthSet) -> dict[str, SynthChild]:
    return {child.child_id: child for child in synth.population.children}


@pytest.fixture(scope="module")
def by_record(stream: list[tuple[Event, Event]]) -> Records:
    grouped: Records = defaultdict(list)
    for event, row in stream:
        grouped[event["agency"]["id"], event["agency_record_id"]].append((event, row))
    return grouped


def nhs_number_is_valid(number: str) -> bool:
    """Modulus 11, written out again here so the test does not trust the generator's copy."""
    if len(number) != 10 or not number.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    return check != 10 and check % 11 == int(number[9])


def fold(name: str | None) -> str:
    return (name or "").casefold()


def test_every_event_validates_and_the_truth_names_each_once(
        stream: list[tuple[Event, Event]]) -> None:
    assert len(stream) > 4 * CHILDREN
    for event, row in stream:
        ContactEventV1.model_validate_json(json.dumps(event))
        assert row["event_id"] == event["event_id"]
    assert len({event["event_id"] for event, _row in stream}) == len(stream)
    assert len({row["child_id"] for _event, row in stream}) == CHILDREN


def test_events_arrive_in_time_order_over_six_years(stream: list[tuple[Event, Event]]) -> None:
    times = [event["occurred_at"] for event, _row in stream]
    assert times == sorted(times)
    assert times[0] >= WINDOW_START.isoformat() and times[-1] < REFERENCE_DATE.isoformat()
    assert int(times[-1][:4]) - int(times[0][:4]) >= 5


def test_the_same_seed_writes_the_same_files(tmp_path: Path) -> None:
    first = write_synth(tmp_path / "a", 200, 5)
    write_synth(tmp_path / "b", 200, 5)
    write_synth(tmp_path / "c", 200, 6)
    for name in ("events.jsonl", "truth.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes()
    lines = (tmp_path / "a" / "truth.jsonl").read_text().splitlines()
    assert len(lines) == first.events + sum(first.hard_negatives.values())


def test_children_are_0_to_17_and_known_to_1_to_6_agencies(
        synth: SynthSet, stream: list[tuple[Event, Event]]) -> None:
    ages = [(REFERENCE_DATE - c.date_of_birth).days / 365.25 for c in synth.population.children]
    assert min(ages) >= 0 and max(ages) < 18
    agencies: dict[str, set[str]] = defaultdict(set)
    for event, row in stream:
        agencies[row["child_id"]].add(event["agency"]["id"])
    counts = [len(a) for a in agencies.values()]
    assert min(counts) == 1 and max(counts) == 6
    assert sum(2 <= n <= 3 for n in counts) > len(counts) / 2


def test_many_agencies_of_every_kind_with_lead_professionals(
        synth: SynthSet, stream: list[tuple[Event, Event]]) -> None:
    kinds = {event["agency"]["kind"] for event, _row in stream}
    assert len(kinds) == 10
    assert len(synth.population.services) >= 40
    leads = {e["agency"]["kind"] for e, _r in stream if e["practitioner"]["lead_professional"]}
    assert {"social_care", "school"} <= leads


def test_a_record_id_belongs_to_one_child(
        by_record: Records) -> None:
    for events in by_record.values():
        assert len({row["child_id"] for _event, row in events}) == 1


def test_hard_negatives_of_every_kind(synth: SynthSet, truth: dict[str, SynthChild]) -> None:
    kinds: dict[str, list[tuple[SynthChild, SynthChild]]] = defaultdict(list)
    for id_a, id_b, kind in synth.population.hard_negatives:
        kinds[kind].append((truth[id_a], truth[id_b]))
    assert set(kinds) == {"twin", "sibling", "namesake"}
    for a, b in kinds["twin"]:
        assert a.date_of_birth == b.date_of_birth and a.household is b.household
        assert a.family_name == b.family_name
        assert fold(a.given_name)[:3] != fold(b.given_name)[:3]
    for a, b in kinds["sibling"]:
        assert a.household is b.household
        assert abs((a.date_of_birth - b.date_of_birth).days) >= 300
    for a, b in kinds["namesake"]:
        assert (fold(a.given_name), fold(a.family_name)) == (fold(b.given_name),
                                                             fold(b.family_name))
        assert abs((a.date_of_birth - b.date_of_birth).days) <= 60
        assert a.household is not b.household
        assert a.household.carers != b.household.carers


def test_hard_negative_rows_follow_the_truth_format(tmp_path: Path) -> None:
    write_synth(tmp_path, 300, 2)
    rows = [json.loads(line) for line in (tmp_path / "truth.jsonl").read_text().splitlines()]
    events = [r for r in rows if "event_id" in r]
    pairs = [r for r in rows if "hard_negative" in r]
    assert rows == events + pairs  # events first, then the pairs
    assert {r["kind"] for r in pairs} <= {"twin", "sibling", "namesake"}
    assert all(set(r) <= {"event_id", "child_id", "alias"} for r in events)


def test_alias_events_carry_an_unexplained_given_name(
        stream: list[tuple[Event, Event]], truth: dict[str, SynthChild]) -> None:
    aliases = [(event, row) for event, row in stream if row.get("alias")]
    assert aliases
    for event, row in aliases:
        child = truth[row["child_id"]]
        given = fold(event["child"]["given_name"])
        assert given[:3] != fold(child.given_name)[:3]
    assert len({row["child_id"] for _e, row in aliases}) < CHILDREN * 0.03


def test_every_variation_occurs(synth: SynthSet) -> None:
    made = synth.summary().variations
    expected = {name for name, _p, _f in VARIATIONS} | {
        "nhs_missing", "middle_as_given", "newborn_placeholder", "house_move_followed",
        "carer_other_recorded"}
    assert expected <= set(made), expected - set(made)


def _first_events(by_record: Records
                  ) -> list[tuple[Event, str]]:
    return [(events[0][0], events[0][1]["child_id"]) for events in by_record.values()]


def test_names_vary_as_declared(by_record: Records,
                                truth: dict[str, SynthChild]) -> None:
    swapped = nickname = accent = 0
    for event, child_id in _first_events(by_record):
        child, given, family = truth[child_id], event["child"]["given_name"], \
            event["child"]["family_name"]
        swapped += (fold(given), fold(family)) == (fold(child.family_name),
                                                   fold(child.given_name))
        nickname += (child.given_name, given) in (("Elizabeth", "Beth"), ("Thomas", "Tom"),
                                                  ("Mohammed", "Muhammad"), ("James", "Jamie"),
                                                  ("Daniel", "Danny"), ("Samuel", "Sam"))
        accent += not child.family_name.isascii() and family is not None and family.isascii()
    assert swapped and nickname and accent


def test_dates_of_birth_vary_as_declared(
        by_record: Records,
        truth: dict[str, SynthChild]) -> None:
    kinds: dict[str, int] = defaultdict(int)
    for event, child_id in _first_events(by_record):
        true, text = truth[child_id].date_of_birth, event["child"]["date_of_birth"]
        if text is None:
            kinds["missing"] += 1
            continue
        recorded = date.fromisoformat(text)
        kinds["swapped"] += (recorded.month, recorded.day) == (true.day, true.month) != (
            true.month, true.day)
        kinds["year"] += abs(recorded.year - true.year) == 1 and recorded.month == true.month
        kinds["digit"] += sum(a != b for a, b in zip(text, true.isoformat(), strict=True)) == 1
    assert all(kinds[k] for k in ("missing", "swapped", "year", "digit")), kinds


def test_nhs_numbers_missing_spaced_or_mistyped(stream: list[tuple[Event, Event]],
                                                truth: dict[str, SynthChild]) -> None:
    numbers = [(event["child"]["nhs_number"], truth[row["child_id"]].nhs_number)
               for event, row in stream]
    missing = sum(recorded is None for recorded, _true in numbers) / len(numbers)
    assert 0.3 < missing < 0.5
    assert any(r and " " in r and r.replace(" ", "") == t for r, t in numbers)
    mistyped = [r for r, t in numbers if r and t and r.replace(" ", "") != t]
    assert mistyped and not any(nhs_number_is_valid(r.replace(" ", "")) for r in mistyped)
    assert all(nhs_number_is_valid(t) for _r, t in numbers if t)


def test_newborns_are_renamed_within_their_record(
        by_record: Records,
        truth: dict[str, SynthChild]) -> None:
    renamed = 0
    for events in by_record.values():
        first, last = events[0][0]["child"], events[-1][0]["child"]
        child = truth[events[0][1]["child_id"]]
        if fold(first["given_name"]) in ("", "baby", "unborn") and last["given_name"]:
            renamed += fold(last["given_name"]) != fold(first["given_name"])
            assert child.date_of_birth >= WINDOW_START - timedelta(days=42)
    assert renamed


def _postcode(event: Event) -> str | None:
    address = event["child"]["address"]
    return address["postcode"].replace(" ", "").upper() if address else None


def test_house_moves_reach_some_agencies_not_others(
        by_record: Records,
        truth: dict[str, SynthChild]) -> None:
    followed = kept_old = 0
    for events in by_record.values():
        followed += len({_postcode(e) for e, _r in events} - {None}) > 1
        homes = truth[events[0][1]["child_id"]].household.homes
        if len(homes) > 1:
            settled = (WINDOW_START + timedelta(days=homes[1].since + 121)).isoformat()
            old = homes[0].address.postcode.replace(" ", "")
            kept_old += any(e["occurred_at"] > settled and _postcode(e) == old
                            for e, _r in events)
    assert followed and kept_old
