"""The one place for the security commands: `signpost audit …` and `signpost access …`.

Registered on the main CLI (signpost/cli.py). People identify themselves with their signed
token (`--token` or SIGNPOST_TOKEN), checked with SIGNPOST_TOKEN_SECRET; every step that reads
personal data or changes access is audited.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from signpost.auth import AuthError, Claims, Role, verify_token
from signpost.settings import CommonSettings

if TYPE_CHECKING:
    from schemas.audit import AuditRecord
    from signpost.access import GrantStore
    from signpost.audit import AuditLog, StoredRecord

__all__ = ["access_app", "audit_app", "claims_of", "token_secret"]

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
access_app = typer.Typer(help="Exceptional access: purpose, a second person's approval, "
                              "time-limited, audited.", no_args_is_help=True)
console = Console(stderr=True)

TokenOption = Annotated[str, typer.Option(envvar="SIGNPOST_TOKEN", show_default=False,
                                          help="your signed token (or SIGNPOST_TOKEN)")]


def token_secret() -> str:
    """SIGNPOST_TOKEN_SECRET; a usage error if unset (or the placeholder in production)."""
    from signpost.errors import ConfigError
    from signpost.settings import TokenSettings

    try:
        return TokenSettings().secret()
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from exc


def claims_of(token: str, *roles: Role) -> Claims:
    """The caller's verified claims; refused (exit 2) if invalid or not one of `roles`."""
    try:
        claims = verify_token(token_secret(), token)
    except AuthError as exc:
        raise typer.BadParameter(str(exc), param_hint="--token") from exc
    if roles and claims.role not in roles:
        raise typer.BadParameter(f"role {claims.role.value} may not do this",
                                 param_hint="--token")
    return claims


@contextlib.contextmanager
def _audit_log(settings: CommonSettings) -> Iterator[AuditLog]:
    """An audit writer for one command (Redis for the chain's head, Kafka for the records)."""
    from signpost.audit import build_audit_log
    from signpost.kafka import make_producer
    from signpost.redis import make_redis

    r, producer = make_redis(settings), make_producer(settings)
    try:
        yield build_audit_log(settings, r, producer, "cli")
    finally:
        producer.close()
        r.close()


@audit_app.command("verify")
def audit_verify(
    topic: Annotated[str | None, typer.Option(help="default: audit.log (a copy may be "
                                                   "checked too)")] = None,
    head: Annotated[bool, typer.Option(help="also check the head kept in Redis")] = True,
) -> None:
    """Check every link of the audit chain; name the first broken record (exit 1)."""
    from redis import RedisError

    from signpost.audit import AuditError, read_audit_topic, read_head
    from signpost.audit_verify import verify_chain
    from signpost.kafka import security_options
    from signpost.redis import make_redis

    settings = CommonSettings()
    name = topic or settings.topics.audit
    try:
        anchor = read_head(make_redis(settings), settings.key_prefix) if head else None
        verdict = verify_chain(read_audit_topic(settings.kafka_bootstrap, name,
                                                security=security_options(settings)), anchor)
    except (AuditError, RedisError) as exc:
        console.print(f"cannot read the audit log or its head ({type(exc).__name__}): {exc}")
        raise typer.Exit(2) from exc
    if verdict.first_break is not None:
        typer.echo(f"audit chain BROKEN on {name} at {verdict.first_break.describe()}")
        raise typer.Exit(1)
    typer.echo(f"audit chain intact on {name}: {verdict.records} records (seq 1-"
               f"{verdict.last_seq}), last hash {verdict.last_hash}"
               + (f", {verdict.duplicates} identical re-sends" if verdict.duplicates else "")
               + ("" if anchor is None else f"; matches the head (seq {anchor[0]})"))


@audit_app.command("report")
def audit_report(
    token: TokenOption,
    days: Annotated[int, typer.Option(min=0, help="look back this many days; 0 = all")] = 30,
    volume_factor: Annotated[float, typer.Option(help="flag > k x median reads a day")] = 3.0,
    volume_floor: Annotated[int, typer.Option(help="never flag fewer reads a day")] = 20,
    work_hours: Annotated[str, typer.Option(help="local working hours, e.g. 8-18")] = "8-18",
    timezone: Annotated[str, typer.Option(help="for working hours")] = "Europe/London",
    bulk: Annotated[int, typer.Option(help="out-of-hours reads a day that are bulk")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of text")] = False,
) -> None:
    """Inappropriate-access patterns (auditors only; running it is audited)."""
    from datetime import UTC, datetime, timedelta

    from schemas.audit import AuditAction
    from signpost.audit_report import ReportPolicy, build_report, format_report
    from signpost.audit_verify import verify_chain

    claims = claims_of(token, Role.auditor)
    start, _, end = work_hours.partition("-")
    policy = ReportPolicy(volume_factor=volume_factor, volume_floor=volume_floor,
                          work_start_hour=int(start), work_end_hour=int(end or 24),
                          timezone=timezone, bulk_out_of_hours=bulk)
    settings = CommonSettings()
    stored = _audit_records(settings)
    verdict = verify_chain(stored)
    since = datetime.now(UTC) - timedelta(days=days) if days else None
    records = [r for r in _parsed(stored) if since is None or r.at >= since]
    with _audit_log(settings) as log:
        log.record(actor=claims.sub, role=claims.role.value, action=AuditAction.audit_report,
                   target=f"last {days} days" if days else "all")
    report = build_report(records, policy)
    typer.echo(report.model_dump_json(indent=2) if as_json else format_report(report), nl=False)
    if not verdict.ok:
        console.print("[bold red]the audit chain is broken[/]: run `signpost audit verify`")


def _audit_records(settings: CommonSettings) -> list[StoredRecord]:
    from signpost.audit import AuditError, read_audit_topic
    from signpost.kafka import security_options

    try:
        return list(read_audit_topic(settings.kafka_bootstrap, settings.topics.audit,
                                     security=security_options(settings)))
    except AuditError as exc:
        console.print(f"cannot read the audit log: {exc}")
        raise typer.Exit(2) from exc


def _parsed(stored: list[StoredRecord]) -> list[AuditRecord]:
    from pydantic import ValidationError

    from schemas.audit import AuditRecord

    out = []
    for item in stored:
        try:
            out.append(AuditRecord.model_validate_json(item.value))
        except ValidationError:
            continue  # `verify` names it; the report reads what it can
    return out


@contextlib.contextmanager
def _grants(settings: CommonSettings) -> Iterator[GrantStore]:
    from signpost.access import GrantStore
    from signpost.redis import make_redis

    with _audit_log(settings) as log:
        yield GrantStore(make_redis(settings), settings.key_prefix, log,
                         settings.exceptional_access_max_s)


def _access_step(step: Callable[[], object]) -> None:
    """Run one access step; print the grant as JSON, or the rule that refused it (exit 1)."""
    from pydantic import BaseModel, ValidationError

    from signpost.access import AccessError

    try:
        result = step()
    except (AccessError, ValidationError) as exc:
        console.print(f"refused: {exc}")
        raise typer.Exit(1) from exc
    items = result if isinstance(result, list) else [result]
    for item in items:
        assert isinstance(item, BaseModel)
        typer.echo(item.model_dump_json())


@access_app.command("request")
def access_request(
    token: TokenOption,
    child: Annotated[str, typer.Option(help="the pseudonymous child id")],
    purpose: Annotated[str, typer.Option(help="why, with a case or crime reference")],
    hours: Annotated[float, typer.Option(help="how long, once approved")] = 4.0,
) -> None:
    """Ask for exceptional access to one child; a second person must approve it."""
    claims = claims_of(token)
    with _grants(CommonSettings()) as grants:
        _access_step(lambda: grants.request(claims=claims, child_id=child, purpose=purpose,
                                            duration_s=int(hours * 3600)))


@access_app.command("approve")
def access_approve(grant_id: str, token: TokenOption) -> None:
    """Approve a pending request (an operator who is not the requester); starts its clock."""
    claims = claims_of(token)
    with _grants(CommonSettings()) as grants:
        _access_step(lambda: grants.approve(claims=claims, grant_id=grant_id))


@access_app.command("revoke")
def access_revoke(grant_id: str, token: TokenOption) -> None:
    """End a grant early (its requester or an operator)."""
    claims = claims_of(token)
    with _grants(CommonSettings()) as grants:
        _access_step(lambda: grants.revoke(claims=claims, grant_id=grant_id))


@access_app.command("pending")
def access_pending(token: TokenOption) -> None:
    """Requests awaiting approval, one JSON line each (operators and auditors)."""
    claims_of(token, Role.operator, Role.auditor)
    with _grants(CommonSettings()) as grants:
        _access_step(grants.pending)
