"""The one place the notifier records deliveries: accept once, fold repeats, schedule jobs.

Exactly once, as the recipient sees it: ACCEPT writes the delivery record of (alert,
recipient), the inbox entry and the channel jobs in one script, and does nothing if the record
exists, so Kafka redelivery and restarts never make a second delivery. A job leaves the
schedule only with its channel's final state (COMPLETE); a worker that dies mid-attempt leaves
it claimed until the claim lapses, and it is attempted again with the same idempotency key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

from schemas import Alert, Recipient
from services.notifier.keys import Job, Keys, who
from services.notifier.scripts import ACCEPT, CLAIM, COMPLETE

__all__ = ["Acceptance", "Accepted", "Claimed", "Ledger", "fold_digest"]

FOLD_TTL_MARGIN_S = 3600.0  # a fold slot outlives its window by this, then Redis drops it


@dataclass(frozen=True, slots=True)
class Accepted:
    """ACCEPT's answer: "new", "folded" or "seen", and the alert id the recipient sees."""

    status: str
    shown: str


@dataclass(frozen=True, slots=True)
class Acceptance:
    """One alert to accept for one of its recipients, with the jobs (channel, due unix s) it
    makes if it is new."""

    alert: Alert
    recipient: Recipient
    jobs: Sequence[tuple[str, float]]


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed job with what running it needs: its alert (None if gone) and when the alert
    was accepted for the recipient (unix s as text, None if unknown)."""

    job: Job
    alert: Alert | None
    accepted: str | None


def fold_digest(alert: Alert, recipient: Recipient) -> str:
    """What makes two alerts repeats of one trigger for one recipient: the same child, type,
    discrepancies, other practitioners and escalation level."""
    material = [who(recipient), alert.child_id, alert.alert_type.value,
                sorted(alert.discrepancies), sorted(c.practitioner_id for c in alert.contacts),
                alert.escalation_level]
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()[:32]


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _accepted(reply: Any) -> Accepted:
    status, shown = cast(list[Any], reply)
    return Accepted(str(_text(status)), str(_text(shown)))


class Ledger:
    """Delivery records and the job schedule in Redis (a decoding client, signpost.redis)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.k = Keys(prefix)
        self._accept = client.register_script(ACCEPT)
        self._claim = client.register_script(CLAIM)
        self._complete = client.register_script(COMPLETE)

    def _accept_call(self, alert: Alert, alert_json: str, recipient: Recipient, now: float,
                     jobs: Sequence[tuple[str, float]], fold_window_s: float
                     ) -> tuple[list[str], list[str | float | int]]:
        """ACCEPT's keys and arguments for one alert and recipient."""
        k = self.k
        keys = [k.alert(alert.alert_id), k.inbox(recipient), k.record(alert.alert_id, recipient),
                k.fold(fold_digest(alert, recipient)), k.repeats(recipient), k.jobs]
        ttl_ms = int((fold_window_s + FOLD_TTL_MARGIN_S) * 1000)
        args: list[str | float | int] = [str(alert.alert_id), alert_json,
                                         alert.created_at.timestamp(), fold_window_s, ttl_ms, now]
        for channel, due in jobs:
            args += [channel, Job.of(alert.alert_id, recipient, channel).member(), due]
        return keys, args

    def accept(self, *, alert: Alert, recipient: Recipient, now: float,
               jobs: Sequence[tuple[str, float]], fold_window_s: float) -> Accepted:
        """Accept the alert for the recipient once; `jobs` are (channel, due unix s)."""
        keys, args = self._accept_call(alert, alert.model_dump_json(), recipient, now, jobs,
                                       fold_window_s)
        return _accepted(self._accept(keys=keys, args=args))

    def accept_many(self, items: Sequence[Acceptance], *, now: float,
                    fold_window_s: float) -> list[Accepted]:
        """`accept` for each item, in order, in one round trip (a pipeline, not a transaction:
        each ACCEPT is atomic and idempotent on its own, so a crash part way leaves what was
        done, and doing the rest again later is what a replay does)."""
        jsons: dict[UUID, str] = {}
        calls = []
        for item in items:
            alert = item.alert
            if alert.alert_id not in jsons:
                jsons[alert.alert_id] = alert.model_dump_json()
            calls.append(self._accept_call(alert, jsons[alert.alert_id], item.recipient, now,
                                           item.jobs, fold_window_s))
        return [_accepted(reply) for reply in self._evalsha_many(self._accept, calls)]

    def _evalsha_many(self, script: Script,
                      calls: Sequence[tuple[list[str], list[str | float | int]]]) -> list[Any]:
        """The script's replies to `calls`, run in order in one pipeline; loaded first if
        Redis does not know it (a restart or SCRIPT FLUSH), then the calls are run again
        (the scripts run this way are idempotent)."""
        if not calls:
            return []
        for _ in range(2):
            pipe = self.r.pipeline(transaction=False)
            for keys, args in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            replies: list[Any] = pipe.execute(raise_on_error=False)
            if not any(isinstance(reply, NoScriptError) for reply in replies):
                break
            script.sha = str(self.r.script_load(script.script))
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    def claim(self, *, now: float, lease_s: float, limit: int) -> list[Job]:
        """Due jobs, each hidden from other workers for `lease_s`."""
        members = cast(list[Any], self._claim(keys=[self.k.jobs], args=[now, now + lease_s,
                                                                         limit]))
        return [Job.parse(str(_text(m))) for m in members]

    def claimed(self, jobs: Sequence[Job]) -> list[Claimed]:
        """Each job with its alert (each alert read and parsed once) and accepted time, in
        one round trip."""
        if not jobs:
            return []
        ids = list(dict.fromkeys(job.alert_id for job in jobs))
        pipe = self.r.pipeline(transaction=False)
        pipe.mget([self.k.alert(i) for i in ids])
        for job in jobs:
            pipe.hget(self.k.record(job.alert_id, job.recipient), "accepted")
        raws, *accepted = pipe.execute()
        alerts = {i: Alert.model_validate_json(str(_text(raw))) if raw else None
                  for i, raw in zip(ids, raws, strict=True)}
        return [Claimed(job, alerts[job.alert_id], _text(at))
                for job, at in zip(jobs, accepted, strict=True)]

    def begin_attempt(self, job: Job) -> int:
        """Count an attempt before making it (a crash mid-attempt still counts); its number."""
        key = self.k.record(job.alert_id, job.recipient)
        return int(self.r.hincrby(key, f"{job.channel}:attempts", 1))

    def retry(self, job: Job, due: float) -> bool:
        """Schedule the job's next attempt; False if it was finished meanwhile."""
        return bool(self.r.zadd(self.k.jobs, {job.member(): due}, xx=True, ch=True))

    def complete(self, job: Job, state: str, at: datetime) -> bool:
        """Finish the job with its channel's final state; True only for the first finisher."""
        keys = [self.k.record(job.alert_id, job.recipient), self.k.jobs]
        return bool(self._complete(keys=keys, args=[job.channel, state, job.member(),
                                                    at.isoformat()]))

    def next_due(self) -> float | None:
        """When the earliest job is due (unix s), or None if none is scheduled."""
        first = cast(list[tuple[Any, float]], self.r.zrange(self.k.jobs, 0, 0, withscores=True))
        return float(first[0][1]) if first else None

    def alert(self, alert_id: UUID | str) -> Alert | None:
        raw = _text(self.r.get(self.k.alert(alert_id)))
        return Alert.model_validate_json(raw) if raw else None

    def record(self, alert_id: UUID | str, recipient: Recipient) -> dict[str, str]:
        """The delivery record (empty if the alert was never accepted for the recipient)."""
        raw = cast(dict[Any, Any], self.r.hgetall(self.k.record(alert_id, recipient)))
        return {str(_text(f)): str(_text(v)) for f, v in raw.items()}

    def accepted_at(self, job: Job) -> str | None:
        """When the job's alert was accepted for its recipient (unix s, as text)."""
        return _text(self.r.hget(self.k.record(job.alert_id, job.recipient), "accepted"))

    def state(self, alert_id: UUID | str, recipient: Recipient, channel: str) -> str | None:
        """A channel's state for the pair: pending, delivered, failed, … or None."""
        return _text(self.r.hget(self.k.record(alert_id, recipient), channel))
