"""The one place inboxes are read and acknowledged (the ledger writes them, ledger.py).

Access is by recipient: every read names the inbox it reads, so the API decides who may
read which inbox and this module never widens it. Acknowledging is idempotent (the first time
is kept) and stops the alert's escalation in the same script.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import redis

from schemas import Alert, Recipient
from services.notifier.errors import NotAddressedError
from services.notifier.escalation import ESCALATED
from services.notifier.keys import Job, Keys
from services.notifier.scripts import ACKNOWLEDGE

__all__ = ["ESCALATE", "OPERATOR_QUEUES", "REVIEW", "UNASSIGNED", "InboxItem", "InboxStore",
           "Keys"]

UNASSIGNED = Recipient(kind="operators", id="unassigned")  # alerts about a child with no lead
REVIEW = Recipient(kind="operators", id="review")  # possible matches awaiting a decision
OPERATOR_QUEUES = (UNASSIGNED, REVIEW, ESCALATED)
ESCALATE = "escalate"  # the job channel of an alert's escalation check
DEFAULT_LIMIT = 100  # newest items returned per inbox: a page, not an export


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One alert in one recipient's inbox, when they acknowledged it, and how many later
    alerts about the same trigger folded into it."""

    alert: Alert
    recipient: Recipient
    acknowledged_at: datetime | None
    repeats: int = 0


def _text(value: Any) -> str | None:
    """A Redis reply as str (the client decodes; the types allow bytes too)."""
    return value.decode() if isinstance(value, bytes) else value


def _time(value: Any) -> datetime | None:
    text = _text(value)
    return datetime.fromisoformat(text) if text else None


class InboxStore:
    """Inboxes in Redis. The client must decode responses (signpost.redis.make_redis)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.k = Keys(prefix)
        self._ack = client.register_script(ACKNOWLEDGE)

    def get(self, *, alert_id: UUID | str) -> Alert | None:
        """The stored alert, or None."""
        raw = _text(self.r.get(self.k.alert(alert_id)))
        return Alert.model_validate_json(raw) if raw else None

    def is_addressed_to(self, *, alert_id: UUID | str, recipient: Recipient) -> bool:
        return self.r.zscore(self.k.inbox(recipient), str(alert_id)) is not None

    def is_acknowledged(self, *, alert_id: UUID | str, recipient: Recipient) -> bool:
        return bool(self.r.hexists(self.k.acks(recipient), str(alert_id)))

    def list_for(self, *, recipient: Recipient, limit: int = DEFAULT_LIMIT) -> list[InboxItem]:
        """The recipient's newest `limit` items, newest first."""
        newest = cast(list[Any], self.r.zrevrange(self.k.inbox(recipient), 0, limit - 1))
        ids = [str(_text(i)) for i in newest]
        if not ids:
            return []
        pipe = self.r.pipeline(transaction=False)
        pipe.mget([self.k.alert(i) for i in ids])
        pipe.hmget(self.k.acks(recipient), ids)
        pipe.hmget(self.k.repeats(recipient), ids)
        raws, acks, repeats = pipe.execute()
        return [InboxItem(Alert.model_validate_json(str(_text(raw))), recipient, _time(ack),
                          int(rep or 0))
                for raw, ack, rep in zip(raws, acks, repeats, strict=True) if raw]

    def item(self, *, alert_id: UUID | str, recipient: Recipient) -> InboxItem:
        """One item of the recipient's inbox, or NotAddressedError."""
        alert = self.get(alert_id=alert_id)
        if alert is None or not self.is_addressed_to(alert_id=alert_id, recipient=recipient):
            raise NotAddressedError(f"alert {alert_id} is not addressed to this recipient")
        ack = self.r.hget(self.k.acks(recipient), str(alert_id))
        repeats = self.r.hget(self.k.repeats(recipient), str(alert_id))
        return InboxItem(alert, recipient, _time(ack), int(_text(repeats) or 0))

    def acknowledge(self, *, alert_id: UUID | str, recipient: Recipient,
                    at: datetime) -> tuple[InboxItem, bool]:
        """Record the recipient's acknowledgement (the first is kept) and cancel the alert's
        escalation; the updated item, and True if this was the first acknowledgement.

        Check-then-set is safe: an alert, once addressed, stays addressed.
        """
        if not self.is_addressed_to(alert_id=alert_id, recipient=recipient):
            raise NotAddressedError(f"alert {alert_id} is not addressed to this recipient")
        escalation = Job.of(alert_id, recipient, ESCALATE).member()
        keys = [self.k.acks(recipient), self.k.record(alert_id, recipient), self.k.jobs]
        first = bool(self._ack(keys=keys, args=[str(alert_id), at.isoformat(), escalation]))
        return self.item(alert_id=alert_id, recipient=recipient), first

    def items_for(self, *, recipients: Sequence[Recipient],
                  limit: int = DEFAULT_LIMIT) -> list[InboxItem]:
        """Several inboxes merged (an operator's queues), newest first, each alert once."""
        seen: dict[UUID, InboxItem] = {}
        for recipient in recipients:
            for item in self.list_for(recipient=recipient, limit=limit):
                seen.setdefault(item.alert.alert_id, item)
        ordered = sorted(seen.values(), key=lambda i: i.alert.created_at, reverse=True)
        return ordered[:limit]
