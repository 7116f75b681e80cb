"""The one place the notifier talks to Redis: inboxes, stored alerts, acks, delivery marks.

Every key shares the hash tag {prefix}, so one recipient's commands stay in one Cluster slot.
A recipient is always named by kind and id together ("practitioner:sw-881", "operators:review"),
so a practitioner whose id happens to be "review" can never read the operators' queue.
Effects are idempotent: adding an alert twice, or acknowledging it twice, changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from uuid import UUID

import redis

from schemas import Alert, Recipient
from services.notifier.errors import NotAddressedError

__all__ = ["OPERATOR_QUEUES", "REVIEW", "UNASSIGNED", "InboxItem", "InboxStore", "Keys"]

UNASSIGNED = Recipient(kind="operators", id="unassigned")  # alerts about a child with no lead
REVIEW = Recipient(kind="operators", id="review")  # possible matches awaiting a decision
OPERATOR_QUEUES = (UNASSIGNED, REVIEW)
DEFAULT_LIMIT = 100  # newest items returned per inbox: a page, not an export


def _who(recipient: Recipient) -> str:
    return f"{recipient.kind}:{recipient.id}"


class Keys:
    """Key names of the notifier, all under the hash tag {prefix}."""

    def __init__(self, prefix: str) -> None:
        self.p = f"{{{prefix}}}:n"

    def alert(self, alert_id: UUID | str) -> str:
        """STRING the alert's JSON, written once (SET NX)."""
        return f"{self.p}:alert:{alert_id}"

    def inbox(self, recipient: Recipient) -> str:
        """ZSET alert ids addressed to the recipient, scored by the alert's created_at."""
        return f"{self.p}:inbox:{_who(recipient)}"

    def acks(self, recipient: Recipient) -> str:
        """HASH alert id -> ISO time the recipient acknowledged it (first ack wins)."""
        return f"{self.p}:ack:{_who(recipient)}"

    def delivered(self, alert_id: UUID | str, recipient: Recipient, channel: str) -> str:
        """STRING '1' once the alert reached the recipient on the channel (SET NX)."""
        return f"{self.p}:sent:{channel}:{alert_id}:{_who(recipient)}"


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One alert in one recipient's inbox, and when that recipient acknowledged it."""

    alert: Alert
    recipient: Recipient
    acknowledged_at: datetime | None


def _text(value: bytes | str | None) -> str | None:
    """A Redis reply as str (the client decodes; the types allow bytes too)."""
    return value.decode() if isinstance(value, bytes) else value


def _time(value: bytes | str | None) -> datetime | None:
    text = _text(value)
    return datetime.fromisoformat(text) if text else None


class InboxStore:
    """Inboxes in Redis. The client must decode responses (signpost.redis.make_redis)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.k = Keys(prefix)

    def add(self, *, alert: Alert, recipient: Recipient) -> bool:
        """Put the alert in the recipient's inbox; True if it was not there yet."""
        pipe = self.r.pipeline(transaction=True)
        pipe.set(self.k.alert(alert.alert_id), alert.model_dump_json(), nx=True)
        pipe.zadd(self.k.inbox(recipient), {str(alert.alert_id): alert.created_at.timestamp()},
                  nx=True)
        _, added = pipe.execute()
        return bool(added)

    def get(self, *, alert_id: UUID | str) -> Alert | None:
        """The stored alert, or None."""
        raw = _text(self.r.get(self.k.alert(alert_id)))
        return Alert.model_validate_json(raw) if raw else None

    def is_addressed_to(self, *, alert_id: UUID | str, recipient: Recipient) -> bool:
        return self.r.zscore(self.k.inbox(recipient), str(alert_id)) is not None

    def list_for(self, *, recipient: Recipient, limit: int = DEFAULT_LIMIT) -> list[InboxItem]:
        """The recipient's newest `limit` items, newest first."""
        newest = cast(list[bytes | str], self.r.zrevrange(self.k.inbox(recipient), 0, limit - 1))
        ids = [str(_text(i)) for i in newest]
        if not ids:
            return []
        raws = [_text(raw) for raw in self.r.mget([self.k.alert(i) for i in ids])]
        acks = self.r.hmget(self.k.acks(recipient), ids)
        return [InboxItem(Alert.model_validate_json(raw), recipient, _time(ack))
                for raw, ack in zip(raws, acks, strict=True) if raw]

    def item(self, *, alert_id: UUID | str, recipient: Recipient) -> InboxItem:
        """One item of the recipient's inbox, or NotAddressedError."""
        alert = self.get(alert_id=alert_id)
        if alert is None or not self.is_addressed_to(alert_id=alert_id, recipient=recipient):
            raise NotAddressedError(f"alert {alert_id} is not addressed to this recipient")
        ack = self.r.hget(self.k.acks(recipient), str(alert_id))
        return InboxItem(alert, recipient, _time(ack))

    def acknowledge(self, *, alert_id: UUID | str, recipient: Recipient,
                    at: datetime) -> InboxItem:
        """Record the recipient's acknowledgement (the first one is kept); the updated item.

        Check-then-set is safe without a script: an alert, once addressed, stays addressed.
        """
        if not self.is_addressed_to(alert_id=alert_id, recipient=recipient):
            raise NotAddressedError(f"alert {alert_id} is not addressed to this recipient")
        self.r.hsetnx(self.k.acks(recipient), str(alert_id), at.isoformat())
        return self.item(alert_id=alert_id, recipient=recipient)

    def mark_delivered(self, *, alert_id: UUID | str, recipient: Recipient,
                       channel: str) -> bool:
        """Remember that the alert reached the recipient on `channel`; True if first (SET NX)."""
        return bool(self.r.set(self.k.delivered(alert_id, recipient, channel), "1", nx=True))

    def was_delivered(self, *, alert_id: UUID | str, recipient: Recipient,
                      channel: str) -> bool:
        return bool(self.r.exists(self.k.delivered(alert_id, recipient, channel)))

    def items_for(self, *, recipients: Sequence[Recipient],
                  limit: int = DEFAULT_LIMIT) -> list[InboxItem]:
        """Several inboxes merged (an operator's queues), newest first, each alert once."""
        seen: dict[UUID, InboxItem] = {}
        for recipient in recipients:
            for item in self.list_for(recipient=recipient, limit=limit):
                seen.setdefault(item.alert.alert_id, item)
        ordered = sorted(seen.values(), key=lambda i: i.alert.created_at, reverse=True)
        return ordered[:limit]
