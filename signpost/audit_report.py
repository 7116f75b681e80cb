"""The one place inappropriate-access patterns are found in the audit records (pure).

Four kinds of finding, each naming the actor and the seqs to look at:
- no_relationship: reads of children the actor does not work with, refused or not (probing);
- unusual_volume: an actor's reads in one day above `volume_factor` x the median actor-day;
- out_of_hours_bulk: many reads outside working hours (local time) in one day;
- exceptional_access: every exceptional-access grant: who asked, why, who approved, each use.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from schemas.audit import READ_ACTIONS, AuditAction, AuditOutcome, AuditRecord

__all__ = ["AuditReport", "Finding", "FindingKind", "ReportPolicy", "build_report",
           "format_report"]

EVIDENCE_SEQS = 20  # seqs listed per finding; the count says how many there are in all
WEEKEND = (5, 6)  # Saturday, Sunday (date.weekday())
EXCEPTIONAL = frozenset({AuditAction.exceptional_request, AuditAction.exceptional_approve,
                         AuditAction.exceptional_revoke})


class ReportPolicy(BaseModel):
    """Thresholds of the report; every one is a CLI option."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    volume_factor: float = Field(default=3.0, gt=1.0)
    volume_floor: int = Field(default=20, ge=1, description="reads a day never flagged below")
    work_start_hour: int = Field(default=8, ge=0, le=23)
    work_end_hour: int = Field(default=18, ge=1, le=24)
    timezone: str = "Europe/London"
    bulk_out_of_hours: int = Field(default=10, ge=1)
    weekends_out_of_hours: bool = True


class FindingKind(StrEnum):
    no_relationship = "no_relationship"
    unusual_volume = "unusual_volume"
    out_of_hours_bulk = "out_of_hours_bulk"
    exceptional_access = "exceptional_access"


class Finding(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FindingKind
    actor: str
    role: str
    day: date | None = None
    count: int
    detail: str
    seqs: list[int]


class AuditReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    records: int
    reads: int
    median_reads_per_actor_day: float
    policy: ReportPolicy
    findings: list[Finding]


Key = tuple[str, str, date | None]


def _finding(kind: FindingKind, key: Key, found: list[AuditRecord], detail: str) -> Finding:
    actor, role, day = key
    return Finding(kind=kind, actor=actor, role=role, day=day, count=len(found), detail=detail,
                   seqs=[r.seq for r in found[:EVIDENCE_SEQS]])


def _no_relationship(reads: list[AuditRecord]) -> list[Finding]:
    groups: dict[Key, list[AuditRecord]] = defaultdict(list)
    for r in reads:
        if r.relationship is False and r.grant_id is None:
            groups[(r.actor, r.role, None)].append(r)
    out = []
    for key, found in groups.items():
        refused = sum(r.outcome is AuditOutcome.refused for r in found)
        children = len({r.child_id for r in found})
        out.append(_finding(FindingKind.no_relationship, key, found,
                            f"{len(found)} reads of {children} children with no relationship "
                            f"({refused} refused)"))
    return out


def _local_day(r: AuditRecord, tz: ZoneInfo) -> date:
    return r.at.astimezone(tz).date()


def _per_actor_day(reads: list[AuditRecord], tz: ZoneInfo) -> dict[Key, list[AuditRecord]]:
    groups: dict[Key, list[AuditRecord]] = defaultdict(list)
    for r in reads:
        if r.outcome is AuditOutcome.allowed:
            groups[(r.actor, r.role, _local_day(r, tz))].append(r)
    return groups


def _unusual_volume(days: dict[Key, list[AuditRecord]], median: float,
                    policy: ReportPolicy) -> list[Finding]:
    limit = max(policy.volume_floor, policy.volume_factor * median)
    return [_finding(FindingKind.unusual_volume, key, found,
                     f"{len(found)} reads in a day; median actor-day {median:g}, "
                     f"limit {limit:g}")
            for key, found in days.items() if len(found) >= limit and len(found) > median]


def _out_of_hours(at: datetime, policy: ReportPolicy, tz: ZoneInfo) -> bool:
    local = at.astimezone(tz)
    if policy.weekends_out_of_hours and local.weekday() in WEEKEND:
        return True
    return not policy.work_start_hour <= local.hour < policy.work_end_hour


def _out_of_hours_bulk(days: dict[Key, list[AuditRecord]], policy: ReportPolicy,
                       tz: ZoneInfo) -> list[Finding]:
    out = []
    for key, found in days.items():
        late = [r for r in found if _out_of_hours(r.at, policy, tz)]
        if len(late) >= policy.bulk_out_of_hours:
            out.append(_finding(FindingKind.out_of_hours_bulk, key, late,
                                f"{len(late)} reads outside {policy.work_start_hour:02d}:00-"
                                f"{policy.work_end_hour:02d}:00 {policy.timezone}"))
    return out


def _exceptional(records: list[AuditRecord]) -> list[Finding]:
    """One finding per grant: the request, its approval or revocation, and every use."""
    grants: dict[str, list[AuditRecord]] = defaultdict(list)
    for r in records:
        if r.grant_id is not None and (r.action in EXCEPTIONAL or r.action in READ_ACTIONS):
            grants[r.grant_id].append(r)
    out = []
    for grant_id, found in grants.items():
        request = next((r for r in found if r.action is AuditAction.exceptional_request),
                       found[0])
        approvals = [r for r in found if r.action is AuditAction.exceptional_approve]
        approvers = [r.actor for r in approvals if r.outcome is AuditOutcome.allowed]
        refused = len(approvals) - len(approvers)
        uses = [r for r in found if r.action in READ_ACTIONS]
        out.append(_finding(
            FindingKind.exceptional_access, (request.actor, request.role, None), found,
            f"grant {grant_id} for child {request.child_id}: purpose {request.purpose!r}; "
            f"approved by {', '.join(approvers) or 'nobody'}"
            + (f" (refused attempts: {refused})" if refused else "") + f"; {len(uses)} uses"))
    return out


def build_report(records: Iterable[AuditRecord], policy: ReportPolicy) -> AuditReport:
    """Every finding over the records given (the caller chooses the window)."""
    tz = ZoneInfo(policy.timezone)
    every = list(records)
    reads = [r for r in every if r.action in READ_ACTIONS]
    days = _per_actor_day(reads, tz)
    median = statistics.median(len(v) for v in days.values()) if days else 0.0
    findings = (_no_relationship(reads) + _unusual_volume(days, median, policy)
                + _out_of_hours_bulk(days, policy, tz) + _exceptional(every))
    return AuditReport(records=len(every), reads=len(reads),
                       median_reads_per_actor_day=float(median), policy=policy,
                       findings=findings)


def format_report(report: AuditReport) -> str:
    """Plain text: a summary line, then one line per finding."""
    lines = [f"{report.records} audit records, {report.reads} reads of personal data; "
             f"median {report.median_reads_per_actor_day:g} reads per actor-day; "
             f"{len(report.findings)} findings"]
    for f in report.findings:
        day = f" on {f.day.isoformat()}" if f.day else ""
        seqs = ", ".join(str(s) for s in f.seqs) + (" ..." if f.count > len(f.seqs) else "")
        lines.append(f"{f.kind.value:<18} {f.actor} ({f.role}){day}: {f.detail}  [seq {seqs}]")
    return "\n".join(lines) + "\n"
