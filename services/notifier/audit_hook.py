"""The one place the notifier reports access to alerts, until `signpost/audit.py` exists.

Every read of an alert, every refusal and every acknowledgement is reported here with ids
only: who (principal id and role), what (action, alert id), the outcome. Never a child's data,
never an alert's content. The privacy work replaces the body of `record` with a write to the
hash-chained audit log; callers do not change.
"""

from __future__ import annotations

import logging
from uuid import UUID

__all__ = ["record"]

logger = logging.getLogger("signpost.audit")


def record(*, actor: str, role: str, action: str, outcome: str,
           alert_id: UUID | str | None = None, purpose: str | None = None) -> None:
    """Report one access: e.g. action "alert.read", outcome "granted" or "refused"."""
    logger.info("audit actor=%s role=%s action=%s alert_id=%s outcome=%s purpose=%s",
                actor, role, action, alert_id or "-", outcome, purpose or "-")
