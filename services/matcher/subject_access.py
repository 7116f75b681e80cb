"""The one place a subject-access export is put together (`signpost export-child`, DESIGN §1).

Who may: operators only. An export is every personal field held about a child, so it goes to
the role that already works with identifying data (review, splits, retention); auditors verify
the log and read reports of access, not the data itself. A refused attempt is audited (with the
child id, so the inappropriate-access report sees it); an allowed export is audited, with its
stated purpose, before anything is read (fail closed), so it is also the last access the file
lists.

Sources: the records (Index.child_features, through merges), the child's agencies and
practitioners (Index.child_info), the alerts on `alerts` and the audit records on `audit.log`
whose child id is, or was merged into, this child. Shielded: address, postcode and town of
every record, agency ids and practitioners' names, roles and contacts are withheld
(DESIGN §1: no address or location of a shielded child in any export), and the file says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from pydantic import ValidationError

from schemas import Alert, AuditAction, AuditOutcome, AuditRecord
from schemas.subject_access import (
    ExportedAccess,
    ExportedAgencyRecord,
    ExportedAlert,
    ExportedCarer,
    ExportedPractitioner,
    ExportedRecord,
    SubjectAccessExport,
)
from services.matcher.alerts import contact_of
from services.matcher.errors import OperatorError
from services.matcher.index import ChildInfo, Index
from services.matcher.operations import NotPermitted
from services.matcher.settings import MatcherSettings
from services.matcher.standardise import Features
from signpost.audit import AuditLog, read_audit_topic
from signpost.auth import Claims, Role
from signpost.kafka import security_options

__all__ = ["EXPORTERS", "SHIELDED_WITHHELD", "UnknownChild", "alerts_on_topic",
           "build_export", "export_child"]

EXPORTERS = (Role.operator,)
EXPORT_TARGET = "subject access export"
#: What a shielded child's export leaves out: anything that can say where the child is.
SHIELDED_WITHHELD = ["address", "postcode", "town", "agency_id",
                     "practitioner name, role, email and phone"]
NOTES = [
    "Identifying data is shown as Signpost holds it: standardised for matching (lower case, "
    "accents and punctuation removed, address abbreviations expanded). Signpost holds no case "
    "notes and no free text.",
    "Each agency record lists the events the agency sent, oldest first; a correction replaces "
    "the agency's earlier events, so a corrected value is no longer held.",
    "Alerts are those sent about this child as still kept on Signpost's alerts topic; "
    "accesses are every audit record naming the child (reads, changes, refusals), this "
    "export included.",
]
SHIELDED_NOTE = ("This child is shielded: address, postcode, town, agency ids and "
                 "practitioners' names, roles and contacts are withheld from this export.")


class UnknownChild(OperatorError):
    """No child is held under this id (never held, or deleted)."""


def _record(f: Features, shielded: bool) -> ExportedRecord:
    return ExportedRecord(
        event_id=f.event_id, closure=f.closed, given_name=" ".join(f.given),
        middle_names=" ".join(f.middle), family_name=" ".join(f.family),
        other_names=" ".join(f.other_names), date_of_birth=f.dob, sex=f.sex, nhs_number=f.nhs,
        postcode=None if shielded else f.postcode,
        address=None if shielded else " ".join(f.address),
        town=None if shielded else f.town,
        carers=[ExportedCarer(given_name=g, family_name=fam) for g, fam in f.carers])


def _agency_records(records: list[Features], shielded: bool) -> list[ExportedAgencyRecord]:
    grouped: dict[tuple[str, str], list[Features]] = {}
    for f in records:  # oldest first: each group keeps the order, groups by first event
        grouped.setdefault((f.agency_id, f.agency_record_id), []).append(f)
    return [ExportedAgencyRecord(agency_id=None if shielded else agency_id,
                                 agency_kind=fs[0].agency_kind, agency_record_id=record_id,
                                 records=[_record(f, shielded) for f in fs])
            for (agency_id, record_id), fs in grouped.items()]


def _alert(a: Alert) -> ExportedAlert:
    return ExportedAlert(alert_id=a.alert_id, alert_type=a.alert_type, created_at=a.created_at,
                         event_id=a.event_id,
                         recipients=[f"{r.kind}:{r.id}" for r in a.recipients],
                         agency_kinds=a.agency_kinds, discrepancies=a.discrepancies,
                         escalation_level=a.escalation_level)


def _access(r: AuditRecord) -> ExportedAccess:
    return ExportedAccess(seq=r.seq, at=r.at, actor=r.actor, role=r.role, service=r.service,
                          action=r.action, outcome=r.outcome, purpose=r.purpose)


def build_export(*, info: ChildInfo, records: list[Features], consent: bool,
                 alerts: Iterable[Alert], accesses: Iterable[AuditRecord],
                 generated_at: datetime) -> SubjectAccessExport:
    """The export of one child from what is held (pure): `alerts` and `accesses` are those
    about this child already; repeats (at-least-once delivery, audit re-sends) appear once."""
    shielded = info.shielded
    unique_alerts = {a.alert_id: a for a in alerts}.values()
    unique_accesses = {r.seq: r for r in accesses}.values()
    return SubjectAccessExport(
        child_id=info.child_id, generated_at=generated_at, shielded=shielded,
        withheld=list(SHIELDED_WITHHELD) if shielded else [],
        notes=[SHIELDED_NOTE, *NOTES] if shielded else list(NOTES),
        consent_recorded=consent,
        agency_records=_agency_records(records, shielded),
        practitioners=[ExportedPractitioner(contact=contact_of(p, shielded),
                                            agency_id=None if shielded else p.agency_id,
                                            lead_professional=p.lead)
                       for p in sorted(info.practitioners, key=lambda p: (p.agency_id, p.id))],
        alerts=[_alert(a) for a in sorted(unique_alerts, key=lambda a: a.created_at)],
        accesses=[_access(r) for r in sorted(unique_accesses, key=lambda r: r.seq)],
    )


def export_child(index: Index, audit: AuditLog, claims: Claims, child_id: str, *,
                 purpose: str, read_alerts: Callable[[], Iterable[Alert]],
                 read_audit: Callable[[], Iterable[AuditRecord]],
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)
                 ) -> SubjectAccessExport:
    """Everything held about one child, for its subject: operators only, audited first.

    Raises NotPermitted (audited as refused), UnknownChild, or AuditError (nothing read).
    """
    cid = index.resolve(child_id)
    if claims.role not in EXPORTERS:
        audit.record(actor=claims.sub, role=claims.role.value, action=AuditAction.export,
                     outcome=AuditOutcome.refused, child_id=cid, purpose=purpose,
                     target=EXPORT_TARGET)
        raise NotPermitted(f"role {claims.role.value} may not export a child's record")
    if not index.exists(cid):
        raise UnknownChild("no child is held under this id")
    audit.record(actor=claims.sub, role=claims.role.value, action=AuditAction.export,
                 child_id=cid, purpose=purpose, target=EXPORT_TARGET)
    records = index.child_features(cid)
    info = index.child_info(cid)
    consent = index.has_consent(cid)
    alerts = list(read_alerts())
    accesses = [r for r in read_audit() if r.child_id]
    roots = index.resolve_many([a.child_id for a in alerts]
                               + [r.child_id for r in accesses if r.child_id])
    return build_export(info=info, records=records, consent=consent,
                        alerts=(a for a in alerts if roots[a.child_id] == cid),
                        accesses=(r for r in accesses if r.child_id and roots[r.child_id] == cid),
                        generated_at=now())


def alerts_on_topic(settings: MatcherSettings) -> list[Alert]:
    """Every alert still on the `alerts` topic (read from its start to its end)."""
    out = []
    for stored in read_audit_topic(settings.kafka_bootstrap, settings.topics.alerts,
                                   security=security_options(settings)):
        try:
            out.append(Alert.model_validate_json(stored.value))
        except ValidationError:
            continue  # not an alert: nothing of this child's
    return out
