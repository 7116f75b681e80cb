"""The one place that decides which alerts a link decision raises, and to whom (DESIGN §6).

Pure. Alert ids are uuid5 of (event id, type, audience): a replayed event raises the same ids,
which the notifier uses to deliver each alert to each recipient once.

An alert to lead professionals carries its escalation chain: the child's other practitioners,
statutory safeguarding services first, whom the notifier tells in turn if nobody acknowledges.
For a shielded child, contacts keep only the practitioner id and agency kind: a name, role,
e-mail or phone of another service can say where the child now is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from schemas import (
    AgencyKind,
    Alert,
    AlertType,
    Escalation,
    LinkOutcome,
    PractitionerContact,
    Recipient,
)
from services.matcher.index import ChildInfo, PractitionerOnRecord

__all__ = [
    "ALERT_NAMESPACE",
    "ESCALATION_ORDER",
    "REVIEW_QUEUE",
    "UNASSIGNED",
    "AlertContext",
    "build_alerts",
    "contact_of",
    "escalation_chain",
]

ALERT_NAMESPACE = uuid.UUID("5b0f6f0e-2f5c-4d8e-9a51-0c1d2e3f4a5b")
UNASSIGNED = Recipient(kind="operators", id="unassigned")  # a child with no lead professional
REVIEW_QUEUE = Recipient(kind="operators", id="review")
#: Who is asked next when a lead does not acknowledge: statutory safeguarding services first,
#: then health, then education and the rest. Within a kind, leads first, then by id.
ESCALATION_ORDER = (
    AgencyKind.social_care, AgencyKind.police, AgencyKind.health_visitor, AgencyKind.gp,
    AgencyKind.hospital, AgencyKind.school, AgencyKind.early_years,
    AgencyKind.education_welfare, AgencyKind.youth_justice, AgencyKind.housing,
    AgencyKind.other,
)


@dataclass(frozen=True, slots=True)
class AlertContext:
    """What build_alerts needs: the decision, the new event's practitioner, the children before."""

    event_id: str
    child_id: str
    outcome: LinkOutcome
    discrepancies: tuple[str, ...]
    agency_id: str
    agency_kind: str
    practitioner: PractitionerOnRecord
    before: tuple[ChildInfo, ...]  # the child (and merged children) as they were before
    shielded: bool
    now: datetime


def contact_of(p: PractitionerOnRecord, shielded: bool) -> PractitionerContact:
    """A practitioner's work contact in an alert; for a shielded child, id and kind only."""
    if shielded:
        return PractitionerContact(practitioner_id=p.id, name=None, role=None, email=None,
                                   phone=None, agency_kind=AgencyKind(p.agency_kind))
    return PractitionerContact(practitioner_id=p.id, name=p.name, role=p.role, email=p.email,
                               phone=p.phone, agency_kind=AgencyKind(p.agency_kind))


def _recipient(p: PractitionerOnRecord) -> Recipient:
    return Recipient(kind="practitioner", id=p.id, email=p.email, agency_id=p.agency_id)


def _escalation_rank(p: PractitionerOnRecord) -> tuple[int, bool, str]:
    return ESCALATION_ORDER.index(AgencyKind(p.agency_kind)), not p.lead, p.id


def escalation_chain(infos: Iterable[ChildInfo], skip: Iterable[str]) -> list[Recipient]:
    """The child's practitioners not in `skip` (ids), in the order they are asked next."""
    skipped = set(skip)
    seen = {p.id: p for i in infos for p in i.practitioners if p.id not in skipped}
    return [_recipient(p) for p in sorted(seen.values(), key=_escalation_rank)]


def _alert(ctx: AlertContext, kind: AlertType, audience: str, recipients: list[Recipient],
           contacts: Iterable[PractitionerOnRecord], kinds: list[AgencyKind],
           escalation: Escalation | None = None) -> Alert:
    alert_id = uuid.uuid5(ALERT_NAMESPACE, f"{ctx.event_id}|{kind.value}|{audience}")
    return Alert(alert_id=alert_id, alert_type=kind, child_id=ctx.child_id,
                 event_id=uuid.UUID(ctx.event_id), recipients=recipients, agency_kinds=kinds,
                 discrepancies=list(ctx.discrepancies),
                 contacts=[contact_of(p, ctx.shielded) for p in contacts],
                 shielded=ctx.shielded, created_at=ctx.now, escalation=escalation)


def _leads(infos: Iterable[ChildInfo], exclude_agency: str) -> list[PractitionerOnRecord]:
    seen: dict[str, PractitionerOnRecord] = {}
    for info in infos:
        for p in info.practitioners:
            if p.lead and p.agency_id != exclude_agency:
                seen.setdefault(p.id, p)
    return sorted(seen.values(), key=lambda p: p.id)


def _others(infos: Iterable[ChildInfo], exclude_agency: str) -> list[PractitionerOnRecord]:
    seen = {p.id: p for i in infos for p in i.practitioners if p.agency_id != exclude_agency}
    return sorted(seen.values(), key=lambda p: p.id)


def build_alerts(ctx: AlertContext) -> list[Alert]:
    """Alerts for one decision: to lead professionals, to the new practitioner, to operators."""
    agencies = {a: k for info in ctx.before for a, k in info.agencies.items()}
    kinds = sorted({AgencyKind(k) for k in agencies.values()} | {AgencyKind(ctx.agency_kind)})
    if ctx.outcome is LinkOutcome.review:
        return [_alert(ctx, AlertType.review_needed, "operators", [REVIEW_QUEUE], [], kinds)]
    if ctx.outcome not in (LinkOutcome.linked, LinkOutcome.merged):
        return []
    others = set(agencies) - {ctx.agency_id}
    if not others:
        return []  # the child is known only to this agency: nobody else to tell
    leads = _leads(ctx.before, ctx.agency_id)
    lead_recipients = [_recipient(p) for p in leads] or [UNASSIGNED]
    chain = escalation_chain(ctx.before, [p.id for p in leads] + [ctx.practitioner.id])
    plan = Escalation(chain=chain) if leads else None  # the unassigned queue is operators'
    alerts = []
    if ctx.outcome is LinkOutcome.merged:
        alerts.append(_alert(ctx, AlertType.records_merged, "leads", lead_recipients,
                             [ctx.practitioner], kinds, plan))
    new_contact = ctx.agency_id not in agencies
    if new_contact or ctx.discrepancies:
        kind = (AlertType.identity_discrepancy if ctx.discrepancies
                else AlertType.new_agency_contact)
        if ctx.outcome is not LinkOutcome.merged:
            alerts.append(_alert(ctx, kind, "leads", lead_recipients, [ctx.practitioner], kinds,
                                 plan))
        newcomer = [_recipient(ctx.practitioner)]
        alerts.append(_alert(ctx, kind, "newcomer", newcomer,
                             leads or _others(ctx.before, ctx.agency_id), kinds))
    return alerts
