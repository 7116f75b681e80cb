"""The one place that turns the message models into the JSON Schema files agencies read."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas.alert import Alert, AlertDelivery
from schemas.audit import AuditRecord
from schemas.contact_event import ContactEventV1
from schemas.dlq import AlertDlqRecord, DlqRecord
from schemas.link import LinkDecision
from schemas.sealed import SealedEvent
from schemas.standardised import StandardisedEvent
from schemas.subject_access import SubjectAccessExport

__all__ = ["MODELS", "SCHEMA_DIR", "render", "write_all"]

SCHEMA_DIR = Path(__file__).parent / "json"

#: file stem -> model; one file per message on a topic or in a file contract.
MODELS: dict[str, type[BaseModel]] = {
    "contact_event.v1": ContactEventV1,
    "standardised_event": StandardisedEvent,
    "sealed_event": SealedEvent,
    "link_decision": LinkDecision,
    "alert": Alert,
    "alert_delivery": AlertDelivery,
    "dlq_record": DlqRecord,
    "alert_dlq_record": AlertDlqRecord,
    "audit_record": AuditRecord,
    "subject_access_export": SubjectAccessExport,
}


def render(model: type[BaseModel]) -> str:
    """The JSON Schema text for one model, stable across runs."""
    return json.dumps(model.model_json_schema(mode="validation"), indent=2, sort_keys=True) + "\n"


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema file; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, model in MODELS.items():
        path = directory / f"{stem}.schema.json"
        path.write_text(render(model), encoding="utf-8")
        paths.append(path)
    return paths


def stale(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of schema files that differ from their models (or are missing)."""
    out = []
    for stem, model in MODELS.items():
        path = directory / f"{stem}.schema.json"
        if not path.exists() or path.read_text(encoding="utf-8") != render(model):
            out.append(path.name)
    return out


if __name__ == "__main__":
    import sys

    if "--check" in sys.argv:
        bad = stale()
        if bad:
            sys.exit(f"stale schema files (run python -m schemas.export): {', '.join(bad)}")
    else:
        for written in write_all():
            print(written)
