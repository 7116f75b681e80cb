"""The one place for the privacy commands (DESIGN §1, §7): `signpost purge`, `consent`,
`forget-child` and `export-child`. Registered on the main CLI (cli.py).

Each authenticates with the caller's token (`--token` or SIGNPOST_TOKEN) and runs over the
matcher's Redis through the operators' helpers (operator_cli.py); every change and every
export is audited. Deletions are audited by count, never by child id or name.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from signpost.auth import Role
from signpost.operator_cli import JsonOption, _emit, _fail, _operations, console
from signpost.security_cli import TokenOption, _audit_records, _parsed, claims_of

__all__ = ["register"]

TodayOption = Annotated[datetime | None, typer.Option(
    formats=["%Y-%m-%d"], help="the date to judge ages on (default: today, UTC); a later date "
                               "only with --dry-run")]


def purge(
    token: TokenOption,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count, delete nothing")] = False,
    today: TodayOption = None,
    as_json: JsonOption = False,
) -> None:
    """Retention: delete the children due for purge, keys included (operators; audited).

    Due: past the 18th birthday + SIGNPOST_RETENTION_GRACE_DAYS without recorded consent; with
    SIGNPOST_PURGE_ON_CLOSURE, also a child all of whose agency records are closed. One audit
    record with the counts; never a child id or name.
    """
    from services.matcher.retention import RetentionPolicy, run_purge
    from services.matcher.settings import MatcherSettings
    from signpost.audit import AuditError

    claims = claims_of(token, Role.operator)
    real_today = datetime.now(UTC).date()
    day = today.date() if today is not None else real_today
    if day > real_today and not dry_run:
        raise typer.BadParameter("a date after today only with --dry-run", param_hint="--today")
    with _operations() as ops:
        try:
            report = run_purge(ops.index, ops.audit, actor=claims.sub, role=claims.role.value,
                               policy=RetentionPolicy.of(MatcherSettings()), today=day,
                               dry_run=dry_run)
        except AuditError as exc:
            raise _fail(exc) from exc
    _emit(report, as_json, report.summary())


def consent(
    child_id: Annotated[str, typer.Argument(help="the pseudonymous child id")],
    token: TokenOption,
    granted: Annotated[bool, typer.Option(
        "--granted/--withdrawn", help="the young person consents to be kept past 18, or no "
                                      "longer does")],
    as_json: JsonOption = False,
) -> None:
    """Record (or withdraw) a young person's consent to be kept past 18 (operators; audited)."""
    from schemas import AuditAction
    from signpost.audit import AuditError

    claims = claims_of(token, Role.operator)
    state = "granted" if granted else "withdrawn"
    with _operations() as ops:
        cid = ops.index.resolve(child_id)
        if not ops.index.exists(cid):
            raise _fail(LookupError("no child is held under this id"))
        try:
            ops.audit.record(actor=claims.sub, role=claims.role.value,
                             action=AuditAction.consent_change, child_id=cid,
                             target=f"consent {state}")
        except AuditError as exc:
            raise _fail(exc) from exc
        ops.index.set_consent(cid, granted)
    _emit({"child_id": cid, "consent": state}, as_json, f"consent {state} for {cid}")


def forget_child(
    child_id: Annotated[str, typer.Argument(help="the pseudonymous child id")],
    token: TokenOption,
    reason: Annotated[str, typer.Option(help="why (e.g. an erasure request's reference): "
                                             "kept in the audit log, so never a name")],
    as_json: JsonOption = False,
) -> None:
    """Delete one child on request, keys included (operators; audited by count).

    Records, index entries and the data keys go (crypto-shredding): copies in backups and on
    Kafka can no longer be opened. The audit record is a key deletion with counts, no child id.
    """
    from schemas import AuditAction
    from signpost.audit import AuditError

    claims = claims_of(token, Role.operator)
    if not reason.strip():
        raise typer.BadParameter("must not be empty", param_hint="--reason")
    with _operations() as ops:
        index = ops.index
        with index.held():
            if not index.exists(child_id):
                raise _fail(LookupError("no child is held under this id"))
            gone = index.forget_child(child_id)
        try:
            record = ops.audit.record(actor=claims.sub, role=claims.role.value,
                                      action=AuditAction.key_delete, count=gone.keys,
                                      purpose=reason.strip()[:500],
                                      target=f"erasure on request: {gone.records} records")
        except AuditError as exc:
            console.print("the child is deleted, but its audit record was not written")
            raise _fail(exc) from exc
    value = {"records": gone.records, "keys": gone.keys, "audit_seq": record.seq}
    _emit(value, as_json, f"deleted {gone.records} records and {gone.keys} data keys; "
                          f"audit record {record.seq}")


def export_child(
    child_id: Annotated[str, typer.Argument(help="the pseudonymous child id")],
    token: TokenOption,
    out: Annotated[Path, typer.Option(dir_okay=False, help="the JSON file to write (mode 600)")],
    purpose: Annotated[str, typer.Option(
        help="why, e.g. the subject-access request's reference: kept in the audit log")
    ] = "subject access request",
) -> None:
    """Subject access: everything held about one child, as JSON (operators; audited).

    Identifying data of every record, agencies, practitioners, alerts sent and who viewed the
    record when; a shielded child's location withheld. A refused attempt is audited too.
    """
    from services.matcher.errors import OperatorError
    from services.matcher.settings import MatcherSettings
    from services.matcher.subject_access import alerts_on_topic
    from services.matcher.subject_access import export_child as build
    from signpost.audit import AuditError

    claims = claims_of(token)  # any valid token: a refusal by role is audited
    settings = MatcherSettings()
    with _operations() as ops:
        try:
            export = build(ops.index, ops.audit, claims, child_id, purpose=purpose,
                           read_alerts=lambda: alerts_on_topic(settings),
                           read_audit=lambda: _parsed(_audit_records(settings)))
        except (OperatorError, AuditError) as exc:
            raise _fail(exc) from exc
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(export.model_dump_json(indent=2) + "\n")
    records = sum(len(a.records) for a in export.agency_records)
    console.print(f"wrote {out}: {records} records from {len(export.agency_records)} agency "
                  f"records, {len(export.alerts)} alerts, {len(export.accesses)} accesses"
                  + ("; shielded: location withheld" if export.shielded else ""))


def register(app: typer.Typer) -> None:
    """Add the privacy commands to the main CLI."""
    app.command("purge")(purge)
    app.command("consent")(consent)
    app.command("forget-child")(forget_child)
    app.command("export-child")(export_child)
