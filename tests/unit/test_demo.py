"""The demo generator: valid events, deterministic, with the variants matching must survive."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any

import pytest

from schemas import ContactEventV1
from signpost.demo import (
    REFERENCE_DATE,
    demo_dataset,
    demo_stream,
    make_agencies,
    make_children,
    variant_event,
)

Event = dict[str, Any]


@pytest.fixture(scope="module")
def dataset() -> tuple[list[Event], list[Event]]:
    return demo_dataset(200, 1)


@pytest.fixture(scope="module")
def by_child(dataset: tuple[list[Event], list[Event]]) -> dict[str, list[Event]]:
    events, truth = dataset
    grouped: dict[str, list[Event]] = defaultdict(list)
    for event, row in zip(events, truth, strict=True):
        grouped[row["child_id"]].append(event)
    return grouped


def nhs_number_is_valid(number: str) -> bool:
    """Modulus 11, written out again here so the test does not trust the generator's copy."""
    if len(number) != 10 or not number.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(number[9])


NHS_CASES = [
    # description, number, valid
    ("the DESIGN example", "9434765919", True),
    ("check digit off by one", "9434765918", False),
    ("nine digits", "943476591", False),
    ("letters", "94347659A9", False),
]


@pytest.mark.parametrize(("description", "number", "valid"), NHS_CASES,
                         ids=[c[0] for c in NHS_CASES])
def test_the_tests_own_nhs_check(description: str, number: str, valid: bool) -> None:
    assert nhs_number_is_valid(number) is valid


def test_every_event_validates(dataset: tuple[list[Event], list[Event]]) -> None:
    events, truth = dataset
    assert len(events) == len(truth) >= 200
    for event in events:
        ContactEventV1.model_validate_json(json.dumps(event))


def test_truth_rows_name_each_event_once(dataset: tuple[list[Event], list[Event]]) -> None:
    events, truth = dataset
    assert [row["event_id"] for row in truth] == [e["event_id"] for e in events]
    assert len({e["event_id"] for e in events}) == len(events)
    assert len({row["child_id"] for row in truth}) == 200


def test_the_same_seed_gives_the_same_events() -> None:
    assert demo_dataset(30, 5) == demo_dataset(30, 5)
    assert list(islice(demo_stream(seed=3), 100)) == list(islice(demo_stream(seed=3), 100))
    assert demo_dataset(30, 5)[0] != demo_dataset(30, 6)[0]


def test_names_vary_across_agencies(by_child: dict[str, list[Event]]) -> None:
    varied = [child_id for child_id, events in by_child.items()
              if len({(e["child"]["given_name"], e["child"]["family_name"]) for e in events}) > 1]
    assert len(varied) >= 10


def test_dates_of_birth_and_addresses_vary(by_child: dict[str, list[Event]]) -> None:
    def varies(field: str) -> int:
        return sum(1 for events in by_child.values()
                   if len({json.dumps(e["child"][field]) for e in events}) > 1)

    assert varies("date_of_birth") >= 3
    assert varies("address") >= 10


def test_children_are_known_to_several_kinds_of_agency(by_child: dict[str, list[Event]]) -> None:
    kinds = [len({e["agency"]["kind"] for e in events}) for events in by_child.values()]
    assert max(kinds) >= 3
    assert sum(1 for k in kinds if k >= 2) >= 50


def test_record_ids_are_stable_per_agency_and_child(by_child: dict[str, list[Event]]) -> None:
    owner: dict[tuple[str, str], str] = {}
    for child_id, events in by_child.items():
        for e in events:
            key = (e["agency"]["id"], e["agency_record_id"])
            assert owner.setdefault(key, child_id) == child_id


def test_nhs_numbers_present_pass_the_check(dataset: tuple[list[Event], list[Event]]) -> None:
    numbers = [e["child"]["nhs_number"] for e in dataset[0] if e["child"]["nhs_number"]]
    assert len(numbers) >= 100
    assert all(nhs_number_is_valid(n) for n in numbers)


def test_contacts_use_example_domains_only(dataset: tuple[list[Event], list[Event]]) -> None:
    for event in dataset[0]:
        assert event["practitioner"]["email"].endswith(f"@{event['agency']['id']}.example")
        assert all(carer["email"] is None for carer in event["carers"])


def test_links_happen_early() -> None:
    """Within the first 20 default events, children already seen turn up at new agencies."""
    events, truth = demo_dataset(50, 7)
    assert events[:20] == list(islice(demo_stream(), 20))
    agencies_of: dict[str, set[str]] = defaultdict(set)
    new_agency_for_known_child = 0
    for event, row in zip(events[:20], truth[:20], strict=True):
        known = agencies_of[row["child_id"]]
        new_agency_for_known_child += bool(known) and event["agency"]["id"] not in known
        known.add(event["agency"]["id"])
    assert new_agency_for_known_child >= 3


def test_children_are_under_18_with_twins_and_some_shielded() -> None:
    children = make_children(300, random.Random(2))
    assert all(0 <= (REFERENCE_DATE - c.date_of_birth).days < 18 * 365 for c in children)
    households: dict[str, list[date]] = defaultdict(list)
    for child in children:
        households[child.household_id].append(child.date_of_birth)
    assert any(len(dobs) == 2 and dobs[0] == dobs[1] for dobs in households.values())
    assert any(len(set(dobs)) >= 2 for dobs in households.values())
    assert 0 < sum(c.shielded for c in children) < 30
    assert 0.45 < sum(c.nhs_number is not None for c in children) / len(children) < 0.75


def test_agencies_cover_the_kinds_with_leads() -> None:
    agencies = make_agencies(random.Random(4))
    assert 10 <= len(agencies) <= 12
    assert len({a.id for a in agencies}) == len(agencies)
    assert all(2 <= len(a.practitioners) <= 4 for a in agencies)
    social_care = [a for a in agencies if a.kind == "social_care"]
    assert social_care and all(p.lead_professional for p in social_care[0].practitioners)
    assert any(p.lead_professional for a in agencies if a.kind == "school"
               for p in a.practitioners)


def test_variant_event_validates_and_takes_its_time() -> None:
    rng = random.Random(9)
    child, agency = make_children(1, rng)[0], make_agencies(rng)[0]
    when = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    event = variant_event(child, agency, rng, when)
    parsed = ContactEventV1.model_validate_json(json.dumps(event))
    assert event["occurred_at"] == "2026-12-01T09:30:00Z"
    assert parsed.agency.id == agency.id
    assert parsed.shielded is child.shielded
