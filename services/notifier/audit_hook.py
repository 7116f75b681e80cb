"""The one place the notifier turns an access to alerts into a record of the audit log.

Every read of an inbox or an alert, every refusal and every acknowledgement is one
`AuditRecord` (signpost/audit.py), with ids only: who (principal id and role), what (action,
alert id as the target), the pseudonymous child id, whether the caller works with the child
(the alert is addressed to them), the outcome. Never an alert's content. `AuditLog.record`
raises `AuditError` when the record cannot be written: callers then refuse (503), so no read
is ever served unaudited.
"""

from __future__ import annotations

from uuid import UUID

from schemas import Alert
from schemas.audit import AuditAction, AuditOutcome
from signpost.audit import AuditLog
from signpost.auth import Claims

__all__ = ["ACTIONS", "record"]

#: The notifier's names for what was done, and the audit action each one is.
ACTIONS = {
    "inbox.list": AuditAction.inbox_list,
    "alert.read": AuditAction.inbox_read,
    "alert.acknowledge": AuditAction.inbox_ack,
}


def record(log: AuditLog, *, claims: Claims, action: str, granted: bool,
           alert_id: UUID | None = None, alert: Alert | None = None,
           count: int | None = None) -> None:
    """Write one access to the audit log: e.g. action "alert.read", granted or refused.

    For one alert, the record names it (target) and, when the alert exists, its child; the
    relationship is whether the alert is addressed to the caller (granted). Raises AuditError.
    """
    log.record(actor=claims.sub, role=claims.role.value, action=ACTIONS[action],
               outcome=AuditOutcome.allowed if granted else AuditOutcome.refused,
               child_id=alert.child_id if alert is not None else None,
               relationship=granted if alert_id is not None else None,
               target=str(alert_id) if alert_id is not None else None, count=count)
