"""Ledger and InboxStore against a real Redis: accept once, fold, jobs and claims, acks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis

from schemas import Alert, Recipient
from services.notifier.errors import NotAddressedError
from services.notifier.inbox import ESCALATE, REVIEW, InboxStore
from services.notifier.keys import Job
from services.notifier.ledger import Ledger

pytestmark = pytest.mark.integration

SW1 = Recipient(kind="practitioner", id="sw-1")
SW2 = Recipient(kind="practitioner", id="sw-2")
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
NOW = T0.timestamp()
HOUR = 3600.0


def _alert(minutes: float = 0, recipients: tuple[Recipient, ...] = (SW1,),
           discrepancies: tuple[str, ...] = ("name",), child: str = "c-1") -> Alert:
    return Alert(alert_id=uuid.uuid4(), alert_type="identity_discrepancy", child_id=child,
                 event_id=uuid.uuid4(), recipients=list(recipients), agency_kinds=["school"],
                 discrepancies=list(discrepancies), shielded=False,
                 created_at=T0 + timedelta(minutes=minutes))


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def ledger(redis_client: redis.Redis, prefix: str) -> Ledger:
    return Ledger(redis_client, prefix)


@pytest.fixture
def store(redis_client: redis.Redis, prefix: str) -> InboxStore:
    return InboxStore(redis_client, prefix)


def _accept(ledger: Ledger, alert: Alert, recipient: Recipient = SW1, window: float = HOUR,
            jobs: tuple[tuple[str, float], ...] = (("webhook", NOW),)) -> str:
    return ledger.accept(alert=alert, recipient=recipient, now=NOW, jobs=jobs,
                         fold_window_s=window).status


def test_accept_is_once_per_alert_and_recipient(ledger: Ledger, store: InboxStore) -> None:
    alert = _alert(recipients=(SW1, SW2))
    assert _accept(ledger, alert) == "new"
    assert _accept(ledger, alert) == "seen"
    assert _accept(ledger, alert, SW2) == "new"
    assert [i.alert for i in store.list_for(recipient=SW1)] == [alert]
    assert ledger.claim(now=NOW, lease_s=10, limit=10) == [
        Job.of(alert.alert_id, SW1, "webhook"), Job.of(alert.alert_id, SW2, "webhook")]


def test_repeats_within_the_window_fold_into_the_first(ledger: Ledger,
                                                       store: InboxStore) -> None:
    first, repeat, later = _alert(0), _alert(30), _alert(61 * 60)
    other_kind, other_child = _alert(31, discrepancies=("dob",)), _alert(32, child="c-2")
    assert _accept(ledger, first) == "new"
    assert ledger.accept(alert=repeat, recipient=SW1, now=NOW, jobs=[("webhook", NOW)],
                         fold_window_s=HOUR).shown == str(first.alert_id)
    assert _accept(ledger, repeat) == "seen"  # a replay of the folded one changes nothing
    assert [_accept(ledger, a) for a in (other_kind, other_child, later)] == ["new"] * 3
    items = {i.alert.alert_id: i for i in store.list_for(recipient=SW1)}
    assert set(items) == {first.alert_id, other_kind.alert_id, other_child.alert_id,
                          later.alert_id}
    assert items[first.alert_id].repeats == 1
    jobs = ledger.claim(now=NOW, lease_s=10, limit=10)
    assert Job.of(repeat.alert_id, SW1, "webhook") not in jobs and len(jobs) == 4
    assert ledger.record(repeat.alert_id, SW1)["state"] == "folded"


def test_a_zero_window_never_folds(ledger: Ledger) -> None:
    assert [_accept(ledger, _alert(i), window=0) for i in range(3)] == ["new"] * 3


def test_a_claim_hides_a_job_until_it_lapses_and_completing_is_once(ledger: Ledger) -> None:
    alert = _alert()
    _accept(ledger, alert)
    job = Job.of(alert.alert_id, SW1, "webhook")
    assert ledger.claim(now=NOW, lease_s=10, limit=5) == [job]
    assert ledger.claim(now=NOW + 5, lease_s=10, limit=5) == []  # still claimed
    assert ledger.claim(now=NOW + 11, lease_s=10, limit=5) == [job]  # the claim lapsed
    assert ledger.begin_attempt(job) == 1 and ledger.begin_attempt(job) == 2
    assert ledger.complete(job, "delivered", T0) is True
    assert ledger.complete(job, "delivered", T0) is False  # the lapsed claim's twin
    assert ledger.state(alert.alert_id, SW1, "webhook") == "delivered"
    assert ledger.retry(job, NOW) is False and ledger.next_due() is None


def test_retry_reschedules_a_claimed_job(ledger: Ledger) -> None:
    alert = _alert()
    _accept(ledger, alert)
    job = ledger.claim(now=NOW, lease_s=60, limit=5)[0]
    assert ledger.retry(job, NOW + 2) is True
    assert ledger.next_due() == pytest.approx(NOW + 2)
    assert ledger.claim(now=NOW + 1, lease_s=60, limit=5) == []
    assert ledger.claim(now=NOW + 2, lease_s=60, limit=5) == [job]


def test_a_practitioner_named_like_a_queue_is_not_the_queue(ledger: Ledger,
                                                            store: InboxStore) -> None:
    alert = _alert(0, (REVIEW,))
    _accept(ledger, alert, REVIEW, jobs=())
    impostor = Recipient(kind="practitioner", id="review")
    assert store.list_for(recipient=impostor) == []
    assert not store.is_addressed_to(alert_id=alert.alert_id, recipient=impostor)


def test_acknowledging_keeps_the_first_time_and_stops_escalation(ledger: Ledger,
                                                                store: InboxStore) -> None:
    alert = _alert()
    _accept(ledger, alert, jobs=(("escalate", NOW + HOUR),))
    first, was_first = store.acknowledge(alert_id=alert.alert_id, recipient=SW1, at=T0)
    again, was_first_again = store.acknowledge(alert_id=alert.alert_id, recipient=SW1,
                                               at=T0 + timedelta(hours=1))
    assert (was_first, was_first_again) == (True, False)
    assert first.acknowledged_at == again.acknowledged_at == T0
    assert ledger.claim(now=NOW + 2 * HOUR, lease_s=10, limit=5) == []
    assert ledger.state(alert.alert_id, SW1, ESCALATE) == "acknowledged"


def test_acknowledge_refuses_another_recipient(ledger: Ledger, store: InboxStore) -> None:
    alert = _alert()
    _accept(ledger, alert)
    with pytest.raises(NotAddressedError):
        store.acknowledge(alert_id=alert.alert_id, recipient=SW2, at=T0)
    with pytest.raises(NotAddressedError):
        store.item(alert_id=uuid.uuid4(), recipient=SW1)


def test_every_key_shares_the_hash_tag(ledger: Ledger, store: InboxStore,
                                       redis_client: redis.Redis, prefix: str) -> None:
    alert = _alert()
    _accept(ledger, alert, jobs=(("webhook", NOW), ("escalate", NOW + HOUR)))
    _accept(ledger, _alert(1))  # folds
    store.acknowledge(alert_id=alert.alert_id, recipient=SW1, at=T0)
    keys = sorted(redis_client.scan_iter(match=f"*{prefix}*"))
    assert len(keys) == 8  # 2 records, alert, inbox, fold slot, repeats, acks, jobs
    assert all(k.startswith(f"{{{prefix}}}:n:") for k in keys)
