"""The one place for who may read and acknowledge which alerts; both the API and the page
call it, so their rules cannot drift apart. Every read, refusal and acknowledgement is written
to the audit log (audit_hook) with ids only, before anything is served or changed: if the
record cannot be written, `AuditError` propagates and the caller answers 503.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from schemas import Recipient
from services.notifier import audit_hook, metrics
from services.notifier.errors import NotAddressedError
from services.notifier.inbox import OPERATOR_QUEUES, REVIEW, InboxItem, InboxStore
from signpost.audit import AuditLog
from signpost.auth import Claims, Role

__all__ = ["acknowledge_for", "list_for", "open_for", "queues_of"]


def queues_of(claims: Claims) -> tuple[Recipient, ...]:
    """The inboxes a principal may read: their own, or the operators' queues."""
    if claims.role is Role.professional:
        return (Recipient(kind="practitioner", id=claims.sub),)
    if claims.role is Role.operator:
        return OPERATOR_QUEUES
    if claims.role is Role.reviewer:
        return (REVIEW,)
    return ()


def _addressed(store: InboxStore, audit: AuditLog, alert_id: UUID, claims: Claims,
               action: str) -> list[Recipient]:
    """The caller's inboxes holding the alert; NotAddressedError (audited) if none."""
    queues = [q for q in queues_of(claims)
              if store.is_addressed_to(alert_id=alert_id, recipient=q)]
    if not queues:
        audit_hook.record(audit, claims=claims, action=action, granted=False,
                          alert_id=alert_id, alert=store.get(alert_id=alert_id))
        raise NotAddressedError(f"alert {alert_id} is not addressed to this principal")
    return queues


def list_for(store: InboxStore, audit: AuditLog, claims: Claims) -> list[InboxItem]:
    """The caller's alerts, newest first (audited: a read of their inbox)."""
    items = store.items_for(recipients=queues_of(claims))
    audit_hook.record(audit, claims=claims, action="inbox.list", granted=True,
                      count=len(items))
    return items


def open_for(store: InboxStore, audit: AuditLog, alert_id: UUID, claims: Claims) -> InboxItem:
    """One alert addressed to the caller, audited; NotAddressedError (audited) otherwise."""
    queue = _addressed(store, audit, alert_id, claims, "alert.read")[0]
    item = store.item(alert_id=alert_id, recipient=queue)
    audit_hook.record(audit, claims=claims, action="alert.read", granted=True,
                      alert_id=alert_id, alert=item.alert)
    return item


def acknowledge_for(store: InboxStore, audit: AuditLog, alert_id: UUID, claims: Claims,
                    at: datetime) -> InboxItem:
    """Acknowledge in every one of the caller's inboxes holding the alert; idempotent.

    The acknowledgement is audited before it is made: a change is never left unrecorded.
    """
    queues = _addressed(store, audit, alert_id, claims, "alert.acknowledge")
    audit_hook.record(audit, claims=claims, action="alert.acknowledge", granted=True,
                      alert_id=alert_id, alert=store.get(alert_id=alert_id))
    results = [store.acknowledge(alert_id=alert_id, recipient=q, at=at) for q in queues]
    if any(first for _, first in results):
        metrics.ACKNOWLEDGED.inc()
    return results[0][0]
