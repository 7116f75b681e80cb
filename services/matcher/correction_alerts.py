"""The one place operators' corrections become alerts: records_merged and records_split.

Pure. The lead professionals of every child involved are told (operators' unassigned queue
when there are none); contacts are the leads' work contacts, withheld for a shielded child as
in alerts.py. The id is uuid5 of (trigger id, type), so a retried action alerts once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from schemas import AgencyKind, Alert, AlertType, Recipient
from services.matcher.alerts import ALERT_NAMESPACE, UNASSIGNED, contact_of
from services.matcher.index import ChildInfo, PractitionerOnRecord

__all__ = ["correction_alert"]


def _leads(infos: Iterable[ChildInfo]) -> list[PractitionerOnRecord]:
    seen = {p.id: p for i in infos for p in i.practitioners if p.lead}
    return sorted(seen.values(), key=lambda p: p.id)


def correction_alert(kind: AlertType, trigger_id: str, child_id: str,
                     before: list[ChildInfo], now: datetime) -> Alert:
    """One alert to the leads of the children as they were before the correction."""
    shielded = any(i.shielded for i in before)
    leads = _leads(before)
    recipients = [Recipient(kind="practitioner", id=p.id, email=p.email, agency_id=p.agency_id)
                  for p in leads] or [UNASSIGNED]
    kinds = sorted({AgencyKind(k) for i in before for k in i.agencies.values()})
    return Alert(alert_id=uuid.uuid5(ALERT_NAMESPACE, f"{trigger_id}|{kind.value}|operator"),
                 alert_type=kind, child_id=child_id, event_id=uuid.UUID(trigger_id),
                 recipients=recipients, agency_kinds=kinds,
                 contacts=[contact_of(p, shielded) for p in leads], shielded=shielded,
                 created_at=now)
