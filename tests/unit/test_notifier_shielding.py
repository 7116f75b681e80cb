"""Shielding and minimal content, as properties over generated alerts, on every channel.

Alerts of every type carry location-like text (town names, postcodes, address lines, agency
e-mail domains and ids) in the other practitioners' contacts and in the escalation chain.
For a shielded child none of it appears in the webhook body, the inbox API's JSON, the inbox
page (list and alert), or the e-mail; the e-mail never carries anything of any alert; the
escalation chain never leaves. For a child that is not shielded the contacts do appear in the
webhook body, which shows the generator really plants what the property looks for.
"""

from __future__ import annotations

import html
import uuid
from datetime import UTC, datetime

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from schemas import AgencyKind, Alert, AlertType, Escalation, PractitionerContact, Recipient
from services.notifier import mail, render
from services.notifier.api import AlertPublic
from services.notifier.content import delivery_body
from services.notifier.inbox import InboxItem
from services.notifier.settings import NotifierSettings

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SETTINGS = NotifierSettings(smtp_host="127.0.0.1", smtp_from="signpost@notices.example",
                            inbox_url="https://signpost.example/inbox")

towns = st.from_regex(r"[A-Z][a-z]{5,10}(ham|ford|bury)", fullmatch=True)
postcodes = st.from_regex(r"[A-Z]{1,2}[0-9]{1,2} [0-9][A-Z]{2}", fullmatch=True)
streets = st.builds(lambda n, t: f"{n} {t} Road", st.integers(1, 999), towns)


@st.composite
def places(draw: st.DrawFn) -> str:
    return draw(st.one_of(towns, postcodes, streets))


@st.composite
def contacts(draw: st.DrawFn, planted: list[str]) -> PractitionerContact:
    town, postcode, street = draw(towns), draw(postcodes), draw(streets)
    planted += [town, postcode, street]
    return PractitionerContact(
        practitioner_id=f"p-{draw(st.integers(1, 10**6))}",
        name=draw(st.sampled_from([f"Dr A Smith, {town} Health Centre", f"J Doe ({street})"])),
        role=f"SENCO at {town} Primary, {postcode}",
        email=f"j.doe@{town.lower()}-school.sch.uk",
        phone=draw(st.sampled_from([None, f"{town} 0161 496 0000"])),
        agency_kind=draw(st.sampled_from(list(AgencyKind))))


@st.composite
def alerts(draw: st.DrawFn) -> tuple[Alert, Recipient, list[str], str]:
    """An alert, its recipient, the places planted in contacts, the place in the chain."""
    planted: list[str] = []
    recipient = Recipient(kind="practitioner", id=f"r-{draw(st.integers(1, 999))}",
                          email="lead@council.example", agency_id="council-1")
    chain_place = draw(places())
    chain = [Recipient(kind="practitioner", id="next-1", email=f"x@{chain_place}.example",
                       agency_id=f"agency {chain_place}")]
    alert = Alert(
        alert_id=uuid.uuid4(), alert_type=draw(st.sampled_from(list(AlertType))),
        child_id=f"C{uuid.uuid4().hex[:20]}", event_id=uuid.uuid4(), recipients=[recipient],
        agency_kinds=draw(st.lists(st.sampled_from(list(AgencyKind)), min_size=1, max_size=4,
                                   unique=True)),
        discrepancies=draw(st.lists(st.sampled_from(["name", "dob", "address"]), unique=True)),
        contacts=draw(st.lists(contacts(planted), min_size=1, max_size=3)),
        shielded=draw(st.booleans()), created_at=T0,
        escalation=draw(st.sampled_from([None, Escalation(chain=chain)])),
        escalated_from=draw(st.sampled_from([None, uuid.uuid4()])),
        escalation_level=draw(st.integers(0, 3)))
    return alert, recipient, planted, chain_place


def _channels(alert: Alert, recipient: Recipient) -> dict[str, str]:
    """Everything each channel shows the recipient, as text."""
    item = InboxItem(alert, recipient, acknowledged_at=None, repeats=2)
    pages = render.list_page([item], recipient.id, "csrf") + render.alert_page(item, recipient.id,
                                                                                "csrf")
    return {
        "webhook": delivery_body(alert, recipient).decode(),
        "api": AlertPublic.of(item).model_dump_json(),
        "page": pages + html.unescape(pages),
        "email": mail.notice(SETTINGS, str(recipient.email), T0).as_bytes().decode(),
    }


def _leaks(text: str, planted: list[str]) -> list[str]:
    return [p for p in planted if p in text or p.lower() in text.lower()]


@settings(max_examples=150, deadline=None)
@given(alerts())
def test_a_shielded_child_is_never_placed_on_any_channel(
        generated: tuple[Alert, Recipient, list[str], str]) -> None:
    alert, recipient, planted, chain_place = generated
    assume(not any(chain_place.lower() in p.lower() for p in planted))
    shown = _channels(alert, recipient)
    for channel, text in shown.items():
        if alert.shielded or channel == "email":
            assert _leaks(text, planted) == [], channel
        assert _leaks(text, [chain_place]) == [], f"escalation chain on {channel}"
    if not alert.shielded:
        assert _leaks(shown["webhook"], planted), "the generator planted nothing"


@settings(max_examples=100, deadline=None)
@given(alerts())
def test_the_email_says_nothing_of_the_alert(
        generated: tuple[Alert, Recipient, list[str], str]) -> None:
    alert, recipient, _, _ = generated
    text = _channels(alert, recipient)["email"]
    for value in (alert.child_id, str(alert.alert_id), str(alert.event_id), recipient.id,
                  *(k.value for k in alert.agency_kinds),
                  *(c.practitioner_id for c in alert.contacts)):
        assert value not in text
    assert SETTINGS.inbox_url in text and "To: lead@council.example" in text
