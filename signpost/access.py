"""The one place for exceptional access and for deciding (and auditing) a read of one child.

A professional with no relationship to a child (e.g. a police liaison officer) may read what
Signpost holds about it only through a grant: they state a purpose, a second person with an
approver role approves it, and it lasts a limited time from approval. Every step, and every
use, writes an audit record; `signpost audit report` lists each grant with its uses.

Everything that reads a child's data calls `authorise_read` once per read: it decides
(relationship, else an active grant, else refused) and writes the one audit record.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import redis
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.audit import AuditAction, AuditOutcome, AuditRecord
from signpost.audit import AuditError, AuditLog
from signpost.auth import Claims, Role
from signpost.errors import SignpostError

__all__ = ["APPROVER_ROLES", "REQUESTER_ROLES", "AccessError", "Grant", "GrantStatus",
           "GrantStore", "ReadDecision", "authorise_read"]

#: Who may ask: practitioners of any agency (police liaison officers are professionals).
REQUESTER_ROLES = frozenset({Role.professional})
#: Who may approve: operators, and never the requester themself.
APPROVER_ROLES = frozenset({Role.operator})
PENDING_TTL_S = 24 * 3600  # a request nobody approves within a day lapses
PURPOSE_MIN_CHARS = 10  # "x" is not a purpose; a case reference and a reason are

# Replace a grant if it is still the version the caller read; maintain its indexes.
# KEYS[1]: the grant (JSON);  KEYS[2]: the requester's active grant for the child (grant id)
# KEYS[3]: the pending set (zset of grant ids)
# ARGV[1]: the grant JSON as read;  ARGV[2]: the new grant JSON
# ARGV[3]: when both keys expire, unix ms;  ARGV[4]: the grant id
# ARGV[5]: "1" to make the grant active, "0" to end it
# returns: 1 when replaced; 0 when the grant changed meanwhile (approved, revoked, lapsed)
TRANSITION_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[4])
if ARGV[5] == '1' then
  redis.call('SET', KEYS[2], ARGV[4], 'PXAT', ARGV[3])
else
  redis.call('DEL', KEYS[2])
end
return 1
"""


class AccessError(SignpostError):
    """An exceptional-access step was refused; the message names the rule, never a value."""


class GrantStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    revoked = "revoked"


class Grant(BaseModel):
    """One exceptional-access grant, kept in Redis until it lapses (the audit log keeps all)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grant_id: str
    child_id: str = Field(min_length=1, max_length=100)
    requester: str
    requester_role: Role
    purpose: str = Field(min_length=PURPOSE_MIN_CHARS, max_length=300)
    duration_s: int = Field(gt=0)
    requested_at: AwareDatetime
    status: GrantStatus = GrantStatus.pending
    approver: str | None = None
    approved_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class GrantStore:
    """Grants in Redis; every step audited. Keys share one hash tag (Redis Cluster)."""

    def __init__(self, r: redis.Redis, prefix: str, audit: AuditLog, max_duration_s: int,
                 now: Callable[[], datetime] = _utc_now) -> None:
        self._r = r
        self._p = f"{prefix}:{{access}}"
        self._audit = audit
        self._max_s = max_duration_s
        self._now = now
        self._transition = r.register_script(TRANSITION_LUA)

    def _grant_key(self, grant_id: str) -> str:
        return f"{self._p}:grant:{grant_id}"

    def _active_key(self, sub: str, child_id: str) -> str:
        return f"{self._p}:active:{sub}:{child_id}"

    def get(self, grant_id: str) -> Grant | None:
        raw = self._r.get(self._grant_key(grant_id))
        return None if raw is None else Grant.model_validate_json(str(raw))

    def request(self, *, claims: Claims, child_id: str, purpose: str,
                duration_s: int) -> Grant:
        """A pending grant; refused for other roles or longer than the maximum."""
        if claims.role not in REQUESTER_ROLES:
            raise AccessError(f"role {claims.role.value} may not request exceptional access")
        if duration_s > self._max_s:
            raise AccessError(f"duration exceeds SIGNPOST_EXCEPTIONAL_ACCESS_MAX_S "
                              f"({self._max_s} s)")
        grant = Grant(grant_id=uuid.uuid4().hex, child_id=child_id, requester=claims.sub,
                      requester_role=claims.role, purpose=purpose.strip(),
                      duration_s=duration_s, requested_at=self._now())
        lapse = grant.requested_at + timedelta(seconds=PENDING_TTL_S)
        pipe = self._r.pipeline()
        pipe.set(self._grant_key(grant.grant_id), grant.model_dump_json(), pxat=_ms(lapse))
        pipe.zadd(f"{self._p}:pending", {grant.grant_id: _ms(grant.requested_at)})
        pipe.execute()
        self._audited(claims, AuditAction.exceptional_request, grant)
        return grant

    def approve(self, *, claims: Claims, grant_id: str) -> Grant:
        """Approve a pending grant: a second person with an approver role; starts the clock."""
        grant = self._pending(grant_id)
        refusal = self._approval_refusal(claims, grant)
        if refusal is not None:
            self._audit.record(actor=claims.sub, role=claims.role.value,
                               action=AuditAction.exceptional_approve,
                               outcome=AuditOutcome.refused, child_id=grant.child_id,
                               relationship=False, grant_id=grant.grant_id)
            raise AccessError(refusal)
        at = self._now()
        approved = grant.model_copy(update={
            "status": GrantStatus.approved, "approver": claims.sub, "approved_at": at,
            "expires_at": at + timedelta(seconds=grant.duration_s)})
        self._replace(grant, approved, active=True)
        self._audited(claims, AuditAction.exceptional_approve, approved)
        return approved

    @staticmethod
    def _approval_refusal(claims: Claims, grant: Grant) -> str | None:
        """Why `claims` may not approve `grant`, or None (audited when refused)."""
        if claims.role not in APPROVER_ROLES:
            return f"role {claims.role.value} may not approve exceptional access"
        if claims.sub == grant.requester:
            return "the requester may not approve their own request"
        return None

    def revoke(self, *, claims: Claims, grant_id: str) -> Grant:
        """End a grant early: its requester or anyone who may approve."""
        grant = self.get(grant_id)
        if grant is None or grant.status is GrantStatus.revoked:
            raise AccessError("no such live grant")
        if claims.sub != grant.requester and claims.role not in APPROVER_ROLES:
            raise AccessError(f"role {claims.role.value} may not revoke this grant")
        revoked = grant.model_copy(update={"status": GrantStatus.revoked})
        self._replace(grant, revoked, active=False)
        self._audited(claims, AuditAction.exceptional_revoke, revoked)
        return revoked

    def active(self, *, sub: str, child_id: str) -> Grant | None:
        """The approved, unexpired grant letting `sub` read the child, if any."""
        grant_id = self._r.get(self._active_key(sub, child_id))
        grant = None if grant_id is None else self.get(str(grant_id))
        if grant is None or grant.status is not GrantStatus.approved:
            return None
        assert grant.expires_at is not None
        return grant if grant.expires_at > self._now() else None

    def pending(self) -> list[Grant]:
        """Requests awaiting approval, oldest first (lapsed ones skipped)."""
        ids = self._r.zrange(f"{self._p}:pending", 0, -1)
        grants = [self.get(str(i)) for i in ids]
        return [g for g in grants if g is not None and g.status is GrantStatus.pending]

    def _pending(self, grant_id: str) -> Grant:
        grant = self.get(grant_id)
        if grant is None or grant.status is not GrantStatus.pending:
            raise AccessError("no such pending request (unknown, lapsed or already decided)")
        return grant

    def _replace(self, old: Grant, new: Grant, *, active: bool) -> None:
        until = new.expires_at or (old.requested_at + timedelta(seconds=PENDING_TTL_S))
        done = self._transition(
            keys=[self._grant_key(old.grant_id), self._active_key(old.requester, old.child_id),
                  f"{self._p}:pending"],
            args=[old.model_dump_json(), new.model_dump_json(), max(_ms(until), 1),
                  old.grant_id, "1" if active else "0"])
        if done != 1:
            raise AccessError("the grant changed meanwhile; read it again")

    def _audited(self, claims: Claims, action: AuditAction, grant: Grant) -> None:
        """The step's audit record; if it cannot be written, the grant is ended (fail closed)."""
        try:
            self._audit.record(actor=claims.sub, role=claims.role.value, action=action,
                               child_id=grant.child_id, purpose=grant.purpose,
                               relationship=False, grant_id=grant.grant_id)
        except AuditError:
            self._r.delete(self._grant_key(grant.grant_id),
                           self._active_key(grant.requester, grant.child_id))
            raise


@dataclass(frozen=True, slots=True)
class ReadDecision:
    """Whether a read may go ahead, on what basis, and its audit record."""

    allowed: bool
    basis: str  # "relationship", "exceptional" or "none"
    record: AuditRecord
    grant: Grant | None = None


def authorise_read(*, audit: AuditLog, grants: GrantStore | None, claims: Claims,
                   action: AuditAction, child_id: str, has_relationship: bool,
                   target: str | None = None) -> ReadDecision:
    """Decide one read of one child and audit it (raises AuditError: then refuse, 503).

    Allowed with a relationship; else with an active exceptional-access grant (the record
    carries its id and purpose); else refused, and the refusal is audited too.
    """
    grant = None
    if not has_relationship and grants is not None:
        grant = grants.active(sub=claims.sub, child_id=child_id)
    allowed = has_relationship or grant is not None
    record = audit.record(
        actor=claims.sub, role=claims.role.value, action=action, child_id=child_id,
        outcome=AuditOutcome.allowed if allowed else AuditOutcome.refused,
        relationship=has_relationship, target=target,
        grant_id=grant.grant_id if grant else None, purpose=grant.purpose if grant else None)
    basis = "relationship" if has_relationship else "exceptional" if grant else "none"
    return ReadDecision(allowed, basis, record, grant)
