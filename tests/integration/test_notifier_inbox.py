"""InboxStore against a real Redis: idempotent add, newest first, acks, delivery marks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis

from schemas import Alert, Recipient
from services.notifier.errors import NotAddressedError
from services.notifier.inbox import REVIEW, InboxStore

pytestmark = pytest.mark.integration

SW1 = Recipient(kind="practitioner", id="sw-1")
SW2 = Recipient(kind="practitioner", id="sw-2")
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _alert(minutes: int = 0, recipients: tuple[Recipient, ...] = (SW1,)) -> Alert:
    return Alert(alert_id=uuid.uuid4(), alert_type="new_agency_contact", child_id="c-1",
                 event_id=uuid.uuid4(), recipients=list(recipients), agency_kinds=["school"],
                 shielded=False, created_at=T0 + timedelta(minutes=minutes))


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def store(redis_client: redis.Redis, prefix: str) -> InboxStore:
    return InboxStore(redis_client, prefix)


def test_add_is_idempotent(store: InboxStore) -> None:
    alert = _alert()
    assert store.add(alert=alert, recipient=SW1) is True
    assert store.add(alert=alert, recipient=SW1) is False
    assert [i.alert for i in store.list_for(recipient=SW1)] == [alert]
    assert store.get(alert_id=alert.alert_id) == alert


def test_list_is_newest_first_and_per_recipient(store: InboxStore) -> None:
    old, new, other = _alert(0), _alert(5), _alert(3, (SW2,))
    for a in (new, old):
        store.add(alert=a, recipient=SW1)
    store.add(alert=other, recipient=SW2)
    assert [i.alert.alert_id for i in store.list_for(recipient=SW1)] == [new.alert_id,
                                                                          old.alert_id]
    assert store.is_addressed_to(alert_id=other.alert_id, recipient=SW2)
    assert not store.is_addressed_to(alert_id=other.alert_id, recipient=SW1)


def test_a_practitioner_named_like_a_queue_is_not_the_queue(store: InboxStore) -> None:
    alert = _alert(0, (REVIEW,))
    store.add(alert=alert, recipient=REVIEW)
    impostor = Recipient(kind="practitioner", id="review")
    assert store.list_for(recipient=impostor) == []
    assert not store.is_addressed_to(alert_id=alert.alert_id, recipient=impostor)


def test_acknowledge_keeps_the_first_time(store: InboxStore) -> None:
    alert = _alert()
    store.add(alert=alert, recipient=SW1)
    first = store.acknowledge(alert_id=alert.alert_id, recipient=SW1, at=T0)
    again = store.acknowledge(alert_id=alert.alert_id, recipient=SW1, at=T0 + timedelta(hours=1))
    assert first.acknowledged_at == again.acknowledged_at == T0
    assert store.list_for(recipient=SW1)[0].acknowledged_at == T0


def test_acknowledge_refuses_another_recipient(store: InboxStore) -> None:
    alert = _alert()
    store.add(alert=alert, recipient=SW1)
    with pytest.raises(NotAddressedError):
        store.acknowledge(alert_id=alert.alert_id, recipient=SW2, at=T0)
    with pytest.raises(NotAddressedError):
        store.item(alert_id=uuid.uuid4(), recipient=SW1)


def test_mark_delivered_is_true_once_per_channel(store: InboxStore) -> None:
    alert_id = uuid.uuid4()
    assert not store.was_delivered(alert_id=alert_id, recipient=SW1, channel="webhook")
    assert store.mark_delivered(alert_id=alert_id, recipient=SW1, channel="webhook") is True
    assert store.mark_delivered(alert_id=alert_id, recipient=SW1, channel="webhook") is False
    assert store.was_delivered(alert_id=alert_id, recipient=SW1, channel="webhook")
    assert not store.was_delivered(alert_id=alert_id, recipient=SW1, channel="email")
    assert not store.was_delivered(alert_id=alert_id, recipient=SW2, channel="webhook")


def test_every_key_shares_the_hash_tag(store: InboxStore, redis_client: redis.Redis,
                                       prefix: str) -> None:
    alert = _alert()
    store.add(alert=alert, recipient=SW1)
    store.acknowledge(alert_id=alert.alert_id, recipient=SW1, at=T0)
    store.mark_delivered(alert_id=alert.alert_id, recipient=SW1, channel="webhook")
    keys = sorted(redis_client.scan_iter(match=f"*{prefix}*"))
    assert len(keys) == 4  # alert, inbox, acks, delivery mark
    assert all(k.startswith(f"{{{prefix}}}:n:") for k in keys)
