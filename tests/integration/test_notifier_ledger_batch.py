"""The ledger's batch calls against a real Redis: accept_many does what accept does one by
one (state, answers, folds within the batch), and claimed reads what the workers need."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from schemas import Alert, Recipient
from services.notifier.inbox import ESCALATE, REVIEW
from services.notifier.keys import Job
from services.notifier.ledger import Acceptance, Ledger

pytestmark = pytest.mark.integration

SW1 = Recipient(kind="practitioner", id="sw-1", email="sw-1@council.example")
SW2 = Recipient(kind="practitioner", id="sw-2")
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
NOW = T0.timestamp()
HOUR = 3600.0


def _alert(minutes: float, recipients: tuple[Recipient, ...], discrepancies: tuple[str, ...],
           child: str = "c-1") -> Alert:
    return Alert(alert_id=uuid.uuid4(), alert_type="identity_discrepancy", child_id=child,
                 event_id=uuid.uuid4(), recipients=list(recipients), agency_kinds=["school"],
                 discrepancies=list(discrepancies), shielded=False,
                 created_at=T0 + timedelta(minutes=minutes))


def _items(alerts: list[Alert]) -> list[Acceptance]:
    jobs = (("webhook", NOW), ("email", NOW), (ESCALATE, NOW + HOUR))
    return [Acceptance(a, r, jobs if r.kind == "practitioner" else ())
            for a in alerts for r in a.recipients]


def _stream() -> list[Alert]:
    """A batch with a repeat of a trigger (folds into the first), a replayed alert, another
    trigger, another child, and an operators' queue."""
    first = _alert(0, (SW1, SW2), ("name",))
    return [first, _alert(5, (SW1,), ("name",)), first, _alert(6, (SW1,), ("dob",)),
            _alert(7, (SW2, REVIEW), ("name",), child="c-2")]


@pytest.fixture
def other_prefix(new_prefix: Callable[[], str]) -> str:
    return new_prefix()


def _state(client: redis.Redis, prefix: str) -> dict[str, Any]:
    """Every key under the prefix (the prefix left out) and its value."""
    state: dict[str, Any] = {}
    for key in client.scan_iter(match=f"{{{prefix}}}:*"):
        kind = str(client.type(key))
        if kind == "string":
            value: Any = client.get(key)
        elif kind == "hash":
            value = client.hgetall(key)
        else:
            value = client.zrange(key, 0, -1, withscores=True)
        state[str(key).removeprefix(f"{{{prefix}}}")] = (kind, value)
    return state


def test_accept_many_is_accept_one_by_one(redis_client: redis.Redis, key_prefix: str,
                                          other_prefix: str) -> None:
    one_by_one, batched = Ledger(redis_client, key_prefix), Ledger(redis_client, other_prefix)
    items = _items(_stream())
    singles = [one_by_one.accept(alert=i.alert, recipient=i.recipient, now=NOW, jobs=i.jobs,
                                 fold_window_s=HOUR) for i in items]
    assert batched.accept_many(items, now=NOW, fold_window_s=HOUR) == singles
    assert [a.status for a in singles] == ["new", "new", "folded", "seen", "seen", "new", "new",
                                           "new"]
    assert _state(redis_client, other_prefix) == _state(redis_client, key_prefix)

    before = _state(redis_client, other_prefix)
    replay = batched.accept_many(items, now=NOW + 60, fold_window_s=HOUR)
    assert [a.status for a in replay] == ["seen"] * len(items)
    assert [a.shown for a in replay] == [a.shown for a in singles]
    assert _state(redis_client, other_prefix) == before


def test_accept_many_loads_the_script_when_redis_lost_it(redis_client: redis.Redis,
                                                         key_prefix: str) -> None:
    ledger = Ledger(redis_client, key_prefix)
    redis_client.script_flush()
    items = _items([_alert(0, (SW1,), ("name",))])
    assert [a.status for a in ledger.accept_many(items, now=NOW, fold_window_s=HOUR)] == ["new"]
    assert ledger.accept_many([], now=NOW, fold_window_s=HOUR) == []


def test_accept_many_raises_when_redis_refuses(redis_client: redis.Redis,
                                               key_prefix: str) -> None:
    ledger = Ledger(redis_client, key_prefix)
    redis_client.set(ledger.k.jobs, "not a schedule")
    with pytest.raises(redis.ResponseError):
        ledger.accept_many(_items([_alert(0, (SW1,), ("name",))]), now=NOW, fold_window_s=0)


def test_claimed_reads_each_jobs_alert_and_when_it_was_accepted(redis_client: redis.Redis,
                                                                key_prefix: str) -> None:
    ledger = Ledger(redis_client, key_prefix)
    alert = _alert(0, (SW1, SW2), ("name",))
    ledger.accept_many(_items([alert]), now=NOW, fold_window_s=HOUR)
    jobs = ledger.claim(now=NOW, lease_s=10, limit=10)
    gone = Job(str(uuid.uuid4()), "practitioner", "sw-1", "webhook")
    claimed = ledger.claimed([*jobs, gone])
    assert sorted((c.job.id, c.job.channel) for c in claimed[:-1]) == [
        ("sw-1", "email"), ("sw-1", "webhook"), ("sw-2", "email"), ("sw-2", "webhook")]
    assert all(c.alert == alert and c.accepted is not None and float(c.accepted) == NOW
               for c in claimed[:-1])
    assert (claimed[-1].job, claimed[-1].alert, claimed[-1].accepted) == (gone, None, None)
    assert ledger.claimed([]) == []
