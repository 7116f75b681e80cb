"""The one place files of events (JSONL or CSV) are read and signed for publishing to Kafka."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from signpost.signing import signed_headers

__all__ = ["CSV_COLUMNS", "csv_row_to_event", "event_agency", "read_event_lines",
           "signed_message"]

#: CSV columns (one event per row); lists are ';'-separated; empty cells are null.
CSV_COLUMNS = (
    "event_id", "event_type", "occurred_at", "agency_id", "agency_kind", "agency_record_id",
    "given_name", "middle_names", "family_name", "other_names", "date_of_birth", "sex",
    "nhs_number", "address_lines", "town", "postcode", "carer_given_name", "carer_family_name",
    "carer_relationship", "practitioner_id", "practitioner_name", "practitioner_role",
    "practitioner_email", "practitioner_phone", "lead_professional", "shielded",
)


def _cell(row: dict[str, str], name: str) -> str | None:
    value = (row.get(name) or "").strip()
    return value or None


def _list(row: dict[str, str], name: str) -> list[str]:
    return [p.strip() for p in (row.get(name) or "").split(";") if p.strip()]


def _bool(row: dict[str, str], name: str) -> bool:
    return (row.get(name) or "").strip().lower() in {"1", "true", "yes", "y"}


def csv_row_to_event(row: dict[str, str]) -> dict[str, Any]:
    """A contact event (DESIGN §4) from one CSV row; ingest validates it like any other."""
    def c(name: str) -> str | None:
        return _cell(row, name)

    address = None
    if c("postcode") or c("town") or _list(row, "address_lines"):
        address = {"lines": _list(row, "address_lines"), "town": c("town"),
                   "postcode": c("postcode")}
    carers = []
    if c("carer_given_name") or c("carer_family_name"):
        carers.append({"given_name": c("carer_given_name"),
                       "family_name": c("carer_family_name"),
                       "relationship": c("carer_relationship") or "other"})
    return {
        "schema_version": 1,
        "event_id": c("event_id") or str(uuid.uuid4()),
        "event_type": c("event_type") or "contact",
        "occurred_at": c("occurred_at"),
        "agency": {"id": c("agency_id"), "kind": c("agency_kind")},
        "agency_record_id": c("agency_record_id"),
        "child": {"given_name": c("given_name"), "middle_names": c("middle_names"),
                  "family_name": c("family_name"), "other_names": _list(row, "other_names"),
                  "date_of_birth": c("date_of_birth"), "sex": c("sex") or "U",
                  "nhs_number": c("nhs_number"), "address": address},
        "carers": carers,
        "practitioner": {"id": c("practitioner_id"), "name": c("practitioner_name"),
                         "role": c("practitioner_role"), "email": c("practitioner_email"),
                         "phone": c("practitioner_phone"),
                         "lead_professional": _bool(row, "lead_professional")},
        "shielded": _bool(row, "shielded"),
    }


def read_event_lines(path: Path) -> Iterator[bytes]:
    """The file's events as raw JSON bytes, one per event, in file order."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                yield json.dumps(csv_row_to_event(row), ensure_ascii=False).encode()
        return
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                yield line.rstrip(b"\r\n")


def count_events(path: Path) -> int:
    """How many events the file holds (for a progress bar's total)."""
    return sum(1 for _ in read_event_lines(path))


__all__ += ["count_events"]


def event_agency(raw: bytes) -> str:
    """The event's `agency.id`, or "" if the bytes do not say (ingest will dead-letter it)."""
    try:
        agency = json.loads(raw).get("agency", {}).get("id")
    except (ValueError, AttributeError):
        return ""
    return agency if isinstance(agency, str) else ""


def signed_message(raw: bytes, key: str, agency: str | None = None) -> list[tuple[str, bytes]]:
    """Headers signing `raw` as `agency` (default: the event's own agency id)."""
    return signed_headers(agency or event_agency(raw), key, raw)
