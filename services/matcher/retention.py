"""The one place for retention (DESIGN §1, §7): which children are due for purge, and the run.

Policy (pure, `due_reason`):
- **age**: the child's birth date is the most frequent date of birth among its records (ties:
  the latest date, so nobody is purged early); due once its 18th birthday (29 February: 1
  March) plus `SIGNPOST_RETENTION_GRACE_DAYS` has passed, i.e. from the day after. No birth
  date known: never purged by age. Recorded consent (`signpost consent`) exempts from this.
- **closure** (only with `SIGNPOST_PURGE_ON_CLOSURE`): every agency record of the child has a
  `closure` as its latest event (by arrival order). Consent does not keep a child whom no agency
  works with any more: Signpost links, it does not keep files.

The run (`run_purge`) checks every child, then deletes each due child with
`Index.forget_child` under the matcher lock (checking again under it: an event may have
arrived), which deletes its data keys (crypto-shredding), and writes ONE audit record: the
number of children, records and keys, never an id or a name. A dry run deletes and audits
nothing. `signpost purge` and the matcher's schedule (`start_purge_schedule`) run the same.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from schemas import AuditAction
from services.matcher.index import Index
from services.matcher.settings import MatcherSettings
from services.matcher.standardise import Features
from signpost.audit import AuditLog, build_audit_log
from signpost.kafka import make_producer

__all__ = ["PurgeReason", "PurgeReport", "RetentionPolicy", "all_closed", "birth_date",
           "due_reason", "eighteenth_birthday", "run_purge", "scheduled_purge",
           "start_purge_schedule"]

logger = logging.getLogger(__name__)

ADULT_AGE = 18
SCHEDULE_CHECK_S = 60.0  # how often a matcher asks whether this interval's purge is unclaimed
SCHEDULE_ACTOR = "retention"  # the audit actor of the service's scheduled purge
SCHEDULE_ROLE = "service"


class PurgeReason(StrEnum):
    age = "age"
    closure = "closure"


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    grace_days: int = 365
    purge_on_closure: bool = False

    @classmethod
    def of(cls, settings: MatcherSettings) -> RetentionPolicy:
        return cls(grace_days=settings.retention_grace_days,
                   purge_on_closure=settings.purge_on_closure)


def birth_date(records: Sequence[Features]) -> date | None:
    """The most frequent date of birth among the records; on a tie the latest; None if none."""
    counts = Counter(d for d in (r.dob_date for r in records) if d is not None)
    if not counts:
        return None
    return max(counts, key=lambda d: (counts[d], d))


def eighteenth_birthday(dob: date) -> date:
    """The 18th birthday; one born on 29 February comes of age on 1 March in common years."""
    try:
        return dob.replace(year=dob.year + ADULT_AGE)
    except ValueError:
        return date(dob.year + ADULT_AGE, 3, 1)


def all_closed(records: Sequence[Features]) -> bool:
    """Whether every agency record's latest event (records oldest first) is a closure."""
    latest: dict[tuple[str, str], Features] = {}
    for r in records:
        latest[(r.agency_id, r.agency_record_id)] = r
    return bool(latest) and all(r.closed for r in latest.values())


def due_reason(records: Sequence[Features], consent: bool, today: date,
               policy: RetentionPolicy) -> PurgeReason | None:
    """Why a child with these records (oldest first) is due for purge today; None if not."""
    if policy.purge_on_closure and all_closed(records):
        return PurgeReason.closure
    dob = birth_date(records)
    if consent or dob is None:
        return None
    if today > eighteenth_birthday(dob) + timedelta(days=policy.grace_days):
        return PurgeReason.age
    return None


class PurgeReport(BaseModel):
    """What a purge did, by count only: no child id, no name (it is printed and audited)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    today: date
    dry_run: bool
    checked: int = Field(description="children checked")
    due: dict[PurgeReason, int] = Field(description="children due, by reason")
    purged: int = Field(description="children deleted (0 in a dry run)")
    records: int = Field(description="records deleted")
    keys: int = Field(description="data keys deleted (crypto-shredding)")
    audit_seq: int | None = Field(default=None, description="the run's audit record")

    def summary(self) -> str:
        reasons = ", ".join(f"{n} by {r.value}" for r, n in sorted(self.due.items())) or "none"
        if self.dry_run:
            return (f"dry run for {self.today}: {self.checked} children checked, "
                    f"{sum(self.due.values())} due ({reasons}); nothing deleted")
        return (f"purge for {self.today}: {self.checked} children checked, {self.purged} "
                f"purged ({reasons}): {self.records} records, {self.keys} data keys deleted; "
                f"audit record {self.audit_seq}")


def _reason(index: Index, child_id: str, today: date,
            policy: RetentionPolicy) -> PurgeReason | None:
    return due_reason(index.child_features(child_id), index.has_consent(child_id), today,
                      policy)


def run_purge(index: Index, audit: AuditLog | None, *, actor: str, role: str,
              policy: RetentionPolicy, today: date, dry_run: bool = False,
              stop: threading.Event | None = None) -> PurgeReport:
    """Purge every child due today (see the module's doc); `audit` may be None only for a dry
    run. `stop` ends the run between two children (what was deleted is audited). Raises
    AuditError if the run's audit record cannot be written (the deletions stand)."""
    children = index.child_ids()
    due = [(cid, reason) for cid in children
           if (reason := _reason(index, cid, today, policy)) is not None]
    if dry_run:
        return PurgeReport(today=today, dry_run=True, checked=len(children),
                           due=dict(Counter(reason for _, reason in due)), purged=0,
                           records=0, keys=0)
    if audit is None:
        raise ValueError("a purge that deletes must be audited")
    purged: Counter[PurgeReason] = Counter()
    records = keys = 0
    for cid, _ in due:
        if stop is not None and stop.is_set():
            break
        with index.held():
            reason = _reason(index, cid, today, policy) if index.exists(cid) else None
            if reason is None:
                continue  # an event arrived (or it was deleted) since the check
            gone = index.forget_child(cid)
        purged[reason] += 1
        records += gone.records
        keys += gone.keys
    total = sum(purged.values())
    detail = "".join(f"; {r.value} {n}" for r, n in sorted(purged.items()))
    record = audit.record(actor=actor, role=role, action=AuditAction.purge, count=total,
                          target=f"retention {today}: {records} records, {keys} keys{detail}")
    logger.info("retention purge: %d children, %d records, %d keys deleted", total, records,
                keys)
    return PurgeReport(today=today, dry_run=False, checked=len(children), due=dict(purged),
                       purged=total, records=records, keys=keys, audit_seq=record.seq)


def scheduled_purge(settings: MatcherSettings, index: Index, today: date | None = None,
                    stop: threading.Event | None = None) -> PurgeReport:
    """One run of the service's schedule, audited as the `retention` service."""
    producer = make_producer(settings)
    try:
        audit = build_audit_log(settings, index.r, producer, "matcher")
        return run_purge(index, audit, actor=SCHEDULE_ACTOR, role=SCHEDULE_ROLE,
                         policy=RetentionPolicy.of(settings),
                         today=today or datetime.now(UTC).date(), stop=stop)
    finally:
        producer.close()


def _schedule(settings: MatcherSettings, index: Index, stop: threading.Event) -> None:
    interval = settings.purge_interval_s
    while not stop.is_set():
        try:
            if index.claim_purge_run(interval):
                scheduled_purge(settings, index, stop=stop)
        except Exception as exc:  # a failed run must not stop the schedule or the matcher
            logger.error("scheduled retention purge failed (%s); next in %g s",
                         type(exc).__name__, interval)
        stop.wait(min(interval, SCHEDULE_CHECK_S))


def start_purge_schedule(settings: MatcherSettings, index: Index,
                         stop: threading.Event) -> threading.Thread | None:
    """The matcher's retention schedule on a daemon thread (every SIGNPOST_PURGE_INTERVAL_S;
    the matchers sharing Redis run one purge per interval between them); None when it is 0."""
    if not settings.purge_interval_s:
        return None
    thread = threading.Thread(target=_schedule, args=(settings, index, stop),
                              name="signpost-retention", daemon=True)
    thread.start()
    return thread
