"""The one place Redis key names of the notifier are built, and delivery jobs named.

Every key shares the hash tag {prefix}, so the Lua scripts that touch several keys stay in one
Cluster slot. A recipient is always named by kind and id together ("practitioner:sw-881",
"operators:review"), so a practitioner whose id happens to be "review" is not the queue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from uuid import UUID

from schemas import Recipient

__all__ = ["Job", "Keys", "who"]


def who(recipient: Recipient) -> str:
    """A recipient's name in keys: kind and id, never the routing fields."""
    return f"{recipient.kind}:{recipient.id}"


@dataclass(frozen=True, slots=True)
class Job:
    """One scheduled piece of work: a channel's delivery of an alert to a recipient, or the
    escalation check of that pair. Its member string in the schedule is JSON, so any id works."""

    alert_id: str
    kind: str
    id: str
    channel: str

    @property
    def recipient(self) -> Recipient:
        return Recipient(kind=self.kind, id=self.id)

    def member(self) -> str:
        return json.dumps([self.alert_id, self.kind, self.id, self.channel],
                          separators=(",", ":"))

    @classmethod
    def of(cls, alert_id: UUID | str, recipient: Recipient, channel: str) -> Job:
        return cls(str(alert_id), recipient.kind, recipient.id, channel)

    @classmethod
    def parse(cls, member: str) -> Job:
        alert_id, kind, id_, channel = json.loads(member)
        return cls(alert_id, kind, id_, channel)


class Keys:
    """Key names of the notifier, all under the hash tag {prefix}."""

    def __init__(self, prefix: str) -> None:
        self.p = f"{{{prefix}}}:n"

    def alert(self, alert_id: UUID | str) -> str:
        """STRING the alert's JSON, written once (SET NX)."""
        return f"{self.p}:alert:{alert_id}"

    def inbox(self, recipient: Recipient) -> str:
        """ZSET alert ids addressed to the recipient, scored by the alert's created_at."""
        return f"{self.p}:inbox:{who(recipient)}"

    def acks(self, recipient: Recipient) -> str:
        """HASH alert id -> ISO time the recipient acknowledged it (first ack wins)."""
        return f"{self.p}:ack:{who(recipient)}"

    def repeats(self, recipient: Recipient) -> str:
        """HASH alert id -> how many later alerts folded into it for this recipient."""
        return f"{self.p}:rep:{who(recipient)}"

    def record(self, alert_id: UUID | str, recipient: Recipient) -> str:
        """HASH the delivery record of one alert to one recipient: `state` (new | folded),
        `shown` (the alert id the recipient sees), `accepted` (unix s), and per channel
        `<channel>` (pending | delivered | failed | escalated | acknowledged | skipped),
        `<channel>:attempts`, `<channel>:at`. Its existence is the exactly-once marker."""
        return f"{self.p}:rec:{alert_id}:{who(recipient)}"

    def fold(self, digest: str) -> str:
        """STRING "<alert id> <created_at unix s>": the alert that repeats of one trigger
        (recipient, child, type, discrepancies, contacts) fold into; expires after the window."""
        return f"{self.p}:fold:{digest}"

    @property
    def jobs(self) -> str:
        """ZSET job member -> unix s when it is due (or when its claim lapses)."""
        return f"{self.p}:jobs"
