"""The one place the audit log is searched for operators and auditors (console and CLI).

Reads `audit.log` from its start (signpost/audit.read_audit_topic) and keeps the newest
matches: a linear scan, fine for a console's occasional query; an index is future work.
"""

from __future__ import annotations

from collections import deque

from pydantic import ValidationError

from schemas import AuditRecord
from signpost.audit import read_audit_topic

__all__ = ["search_audit"]

DEFAULT_LIMIT = 200


def _matches(rec: AuditRecord, query: dict[str, str]) -> bool:
    fields = {"actor": rec.actor, "action": rec.action.value, "child_id": rec.child_id or "",
              "role": rec.role, "target": rec.target or ""}
    return all(value.lower() in fields.get(name, "").lower()
               for name, value in query.items() if value)


def search_audit(bootstrap: str, topic: str, query: dict[str, str],
                 limit: int = DEFAULT_LIMIT) -> list[AuditRecord]:
    """Records whose fields contain each query value (case-insensitive), newest first."""
    kept: deque[AuditRecord] = deque(maxlen=limit)
    for stored in read_audit_topic(bootstrap, topic):
        try:
            rec = AuditRecord.model_validate_json(stored.value)
        except ValidationError:
            continue  # `signpost audit verify` reports a malformed record; search skips it
        if _matches(rec, query):
            kept.append(rec)
    return sorted(kept, key=lambda r: r.seq, reverse=True)
