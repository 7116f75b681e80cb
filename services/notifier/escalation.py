"""The one place that decides what an unacknowledged alert becomes: pure, clock passed in.

An alert with an escalation plan that its recipient has not acknowledged within
SIGNPOST_ESCALATE_AFTER_S becomes a new alert (a deterministic id, so firing twice after a
crash makes no second one) to the next practitioner on the child's record and to the
operators' "escalated" queue. The new alert carries the rest of the chain, so it escalates in
turn; at the end of the chain only operators are told.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from schemas import Alert, Escalation, Recipient

__all__ = ["ESCALATED", "ESCALATION_NAMESPACE", "escalate"]

ESCALATED = Recipient(kind="operators", id="escalated")  # flagged: a lead did not acknowledge
ESCALATION_NAMESPACE = uuid.UUID("0c6f3a52-7d1e-4f7b-9e0a-5a1b2c3d4e5f")


def _remaining(alert: Alert, recipient: Recipient) -> list[Recipient]:
    """The chain without anybody who already has this alert."""
    told = {r.id for r in alert.recipients if r.kind == "practitioner"} | {recipient.id}
    chain = alert.escalation.chain if alert.escalation else []
    return [r for r in chain if r.id not in told]


def escalate(alert: Alert, recipient: Recipient, at: datetime) -> Alert:
    """The alert that escalates `alert`, left unacknowledged by `recipient`, at time `at`."""
    chain = _remaining(alert, recipient)
    upto = chain[:1]
    alert_id = uuid.uuid5(ESCALATION_NAMESPACE,
                          f"{alert.alert_id}|{recipient.kind}:{recipient.id}")
    return Alert(
        alert_id=alert_id, alert_type=alert.alert_type, child_id=alert.child_id,
        event_id=alert.event_id, recipients=[*upto, ESCALATED], agency_kinds=alert.agency_kinds,
        discrepancies=alert.discrepancies, contacts=alert.contacts, shielded=alert.shielded,
        created_at=at, escalation=Escalation(chain=chain[1:]) if upto else None,
        escalated_from=alert.alert_id, escalation_level=alert.escalation_level + 1)
