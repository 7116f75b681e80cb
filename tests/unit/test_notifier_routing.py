"""Routing (services/matcher/alerts.py) and escalation (services/notifier/escalation.py):
which alert types reach whom, with which escalation chain; pure, no server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from schemas import Alert, AlertType, LinkOutcome, Recipient
from services.matcher.alerts import REVIEW_QUEUE, UNASSIGNED, AlertContext, build_alerts
from services.matcher.index import ChildInfo, PractitionerOnRecord
from services.notifier.escalation import ESCALATED, escalate

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _p(pid: str, agency: str, kind: str, lead: bool = False) -> PractitionerOnRecord:
    return PractitionerOnRecord(id=pid, name=f"Name {pid}", role="role", email=f"{pid}@x.example",
                                phone="020 7946 0000", agency_id=agency, agency_kind=kind,
                                lead=lead)


TEACHER = _p("teacher-1", "school-1", "school", lead=True)
NURSE = _p("nurse-3", "hosp-1", "hospital")
SW = _p("sw-5", "council-1", "social_care")
GP = _p("gp-9", "gp-1", "gp")


def _child(cid: str, *practitioners: PractitionerOnRecord) -> ChildInfo:
    return ChildInfo(child_id=cid, agencies={p.agency_id: p.agency_kind for p in practitioners},
                     practitioners=list(practitioners), shielded=False)


def _ctx(outcome: LinkOutcome, before: tuple[ChildInfo, ...], newcomer: PractitionerOnRecord,
         discrepancies: tuple[str, ...] = (), shielded: bool = False) -> AlertContext:
    return AlertContext(event_id=str(uuid.uuid4()), child_id="C1", outcome=outcome,
                        discrepancies=discrepancies, agency_id=newcomer.agency_id,
                        agency_kind=newcomer.agency_kind, practitioner=newcomer,
                        before=before, shielded=shielded, now=T0)


def _by_audience(alerts: list[Alert]) -> dict[tuple[str, ...], Alert]:
    return {tuple(r.id for r in a.recipients): a for a in alerts}


def test_new_agency_contact_tells_the_lead_and_the_newcomer_learns_who_leads() -> None:
    alerts = build_alerts(_ctx(LinkOutcome.linked, (_child("C1", TEACHER, NURSE, SW),), GP))
    by = _by_audience(alerts)
    assert set(by) == {("teacher-1",), ("gp-9",)}
    to_lead, to_new = by[("teacher-1",)], by[("gp-9",)]
    assert to_lead.alert_type is to_new.alert_type is AlertType.new_agency_contact
    assert [c.practitioner_id for c in to_lead.contacts] == ["gp-9"]
    assert [c.practitioner_id for c in to_new.contacts] == ["teacher-1"]
    assert to_lead.recipients[0].email == "teacher-1@x.example"
    assert to_lead.recipients[0].agency_id == "school-1"  # picks the agency's webhook
    assert to_lead.escalation is not None  # social care before health, never the newcomer
    assert [r.id for r in to_lead.escalation.chain] == ["sw-5", "nurse-3"]
    assert to_new.escalation is None


def test_a_discrepancy_makes_it_an_identity_discrepancy() -> None:
    alerts = build_alerts(_ctx(LinkOutcome.linked, (_child("C1", TEACHER),), GP, ("name",)))
    assert {a.alert_type for a in alerts} == {AlertType.identity_discrepancy}
    assert all(a.discrepancies == ["name"] for a in alerts)


def test_a_child_without_a_lead_goes_to_the_unassigned_queue() -> None:
    alerts = build_alerts(_ctx(LinkOutcome.linked, (_child("C1", NURSE),), GP))
    by = _by_audience(alerts)
    assert by[(UNASSIGNED.id,)].recipients == [UNASSIGNED]
    assert by[(UNASSIGNED.id,)].escalation is None  # operators already have it
    assert [c.practitioner_id for c in by[("gp-9",)].contacts] == ["nurse-3"]


def test_records_merged_tells_the_leads_of_both_children() -> None:
    other_lead = _p("hv-2", "hv-1", "health_visitor", lead=True)
    before = (_child("C1", TEACHER), _child("C2", other_lead))
    alerts = build_alerts(_ctx(LinkOutcome.merged, before, GP))
    merged = [a for a in alerts if a.alert_type is AlertType.records_merged]
    assert len(merged) == 1
    assert [r.id for r in merged[0].recipients] == ["hv-2", "teacher-1"]


def test_review_needed_goes_to_operators_only() -> None:
    alerts = build_alerts(_ctx(LinkOutcome.review, (), GP))
    assert [(a.alert_type, a.recipients) for a in alerts] == [
        (AlertType.review_needed, [REVIEW_QUEUE])]


def test_shielded_contacts_carry_only_id_and_agency_kind() -> None:
    alerts = build_alerts(_ctx(LinkOutcome.linked, (_child("C1", TEACHER),), GP,
                               shielded=True))
    for alert in alerts:
        for c in alert.contacts:
            assert (c.name, c.role, c.email, c.phone) == (None, None, None, None)


def test_replayed_decisions_raise_the_same_ids() -> None:
    ctx = _ctx(LinkOutcome.linked, (_child("C1", TEACHER),), GP)
    assert [a.alert_id for a in build_alerts(ctx)] == [a.alert_id for a in build_alerts(ctx)]


@pytest.fixture
def to_lead() -> Alert:
    alerts = build_alerts(_ctx(LinkOutcome.linked, (_child("C1", TEACHER, NURSE, SW),), GP))
    return next(a for a in alerts if a.recipients[0].id == "teacher-1")


def test_escalation_goes_to_the_next_practitioner_and_operators(to_lead: Alert) -> None:
    at = T0 + timedelta(days=1)
    first = escalate(to_lead, to_lead.recipients[0], at)
    assert [r.id for r in first.recipients] == ["sw-5", ESCALATED.id]
    assert first.recipients[0].email == "sw-5@x.example"
    assert (first.escalated_from, first.escalation_level, first.created_at) == (
        to_lead.alert_id, 1, at)
    assert first.escalation is not None and [r.id for r in first.escalation.chain] == ["nurse-3"]
    second = escalate(first, first.recipients[0], at)
    assert [r.id for r in second.recipients] == ["nurse-3", ESCALATED.id]
    last = escalate(second, second.recipients[0], at)
    assert last.recipients == [ESCALATED] and last.escalation is None


def test_escalating_twice_makes_the_same_alert_id(to_lead: Alert) -> None:
    lead = to_lead.recipients[0]
    assert escalate(to_lead, lead, T0).alert_id == escalate(to_lead, lead, T0 + timedelta(1)
                                                            ).alert_id
    other = Recipient(kind="practitioner", id="someone-else")
    assert escalate(to_lead, lead, T0).alert_id != escalate(to_lead, other, T0).alert_id
