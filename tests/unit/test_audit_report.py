"""`signpost audit report`'s findings over hand-made records (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.audit import GENESIS_HASH, AuditAction, AuditOutcome, AuditRecord
from signpost.audit_report import FindingKind, ReportPolicy, build_report, format_report

MONDAY_10 = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)  # 10:00 in London (GMT in November)


class Log:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def add(self, actor: str, at: datetime, action: AuditAction = AuditAction.inbox_read,
            **fields: object) -> None:
        self.records.append(AuditRecord.model_validate({
            "seq": len(self.records) + 1, "at": at, "service": "test", "actor": actor,
            "role": "professional", "action": action, "child_id": "c-1",
            "relationship": True, "prev_hash": GENESIS_HASH, "hash": GENESIS_HASH,
            **fields}))


def _kinds(log: Log, policy: ReportPolicy | None = None) -> dict[FindingKind, set[str]]:
    report = build_report(log.records, policy or ReportPolicy())
    found: dict[FindingKind, set[str]] = {}
    for f in report.findings:
        found.setdefault(f.kind, set()).add(f.actor)
    return found


def _ordinary_day(log: Log, actors: int = 5, reads: int = 4) -> None:
    for a in range(actors):
        for i in range(reads):
            log.add(f"sw-{a}", MONDAY_10 + timedelta(minutes=i))


def test_an_ordinary_day_has_no_findings() -> None:
    log = Log()
    _ordinary_day(log)
    assert _kinds(log) == {}


def test_reads_without_relationship_are_flagged_refused_or_not() -> None:
    log = Log()
    _ordinary_day(log)
    log.add("nosy", MONDAY_10, relationship=False, outcome=AuditOutcome.refused,
            child_id="c-7")
    log.add("nosy", MONDAY_10, relationship=False, child_id="c-8")
    report = build_report(log.records, ReportPolicy())
    (finding,) = report.findings
    assert (finding.kind, finding.actor, finding.count) == (FindingKind.no_relationship,
                                                            "nosy", 2)
    assert "2 children" in finding.detail and "1 refused" in finding.detail


def test_volume_far_above_the_median_is_flagged() -> None:
    log = Log()
    _ordinary_day(log)
    for i in range(60):
        log.add("bulk", MONDAY_10 + timedelta(seconds=i))
    assert _kinds(log) == {FindingKind.unusual_volume: {"bulk"}}


def test_volume_below_the_floor_is_not_flagged() -> None:
    log = Log()
    _ordinary_day(log, reads=1)
    for i in range(15):
        log.add("busy", MONDAY_10 + timedelta(minutes=i))
    assert _kinds(log) == {}


def test_bulk_out_of_hours_is_flagged_in_local_time() -> None:
    log = Log()
    _ordinary_day(log)
    night = datetime(2026, 11, 16, 23, 0, tzinfo=UTC)
    for i in range(12):
        log.add("night-owl", night + timedelta(minutes=i))
    summer_morning = datetime(2026, 6, 15, 7, 30, tzinfo=UTC)  # 08:30 BST: working hours
    for i in range(12):
        log.add("early-bird", summer_morning + timedelta(minutes=i))
    found = _kinds(log, ReportPolicy(volume_floor=100))
    assert found == {FindingKind.out_of_hours_bulk: {"night-owl"}}


def test_weekends_count_as_out_of_hours_unless_told() -> None:
    log = Log()
    saturday = datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
    for i in range(10):
        log.add("on-call", saturday + timedelta(minutes=i))
    assert _kinds(log) == {FindingKind.out_of_hours_bulk: {"on-call"}}
    assert _kinds(log, ReportPolicy(weekends_out_of_hours=False)) == {}


def test_each_exceptional_grant_is_listed_with_its_uses() -> None:
    log = Log()
    grant = {"grant_id": "g-1", "relationship": False, "purpose": "crime ref 123/26"}
    log.add("pc-1", MONDAY_10, AuditAction.exceptional_request, **grant)
    log.add("op-1", MONDAY_10, AuditAction.exceptional_approve, role="operator", **grant)
    log.add("pc-1", MONDAY_10, AuditAction.who_else, **grant)
    log.add("pc-1", MONDAY_10, AuditAction.who_else, **grant)
    report = build_report(log.records, ReportPolicy())
    (finding,) = report.findings
    assert finding.kind is FindingKind.exceptional_access and finding.actor == "pc-1"
    assert "approved by op-1" in finding.detail and "2 uses" in finding.detail
    assert "crime ref 123/26" in finding.detail
    assert "exceptional_access" in format_report(report)
