"""The one place for an audit record on `audit.log`: who read or changed what, when, and why.

Records form one hash chain: `hash` is SHA-256 over the canonical JSON of every other field
(`prev_hash` included), and `prev_hash` is the hash of the record with `seq - 1`. A record names
a pseudonymous child id and an actor id, never a child's name, birth date or address.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["GENESIS_HASH", "READ_ACTIONS", "AuditAction", "AuditOutcome", "AuditRecord"]

#: prev_hash of the first record (seq 1).
GENESIS_HASH = "0" * 64

_HEX64 = "^[0-9a-f]{64}$"


class AuditAction(StrEnum):
    """What was done. Reads of personal data first, then changes, then exceptional access."""

    inbox_list = "inbox_list"
    inbox_read = "inbox_read"
    who_else = "who_else"
    review_view = "review_view"
    export = "export"
    console_search = "console_search"
    audit_report = "audit_report"
    inbox_ack = "inbox_ack"
    threshold_change = "threshold_change"
    merge_records = "merge_records"
    split_records = "split_records"
    review_decision = "review_decision"  # accept or reject of a review item
    purge = "purge"
    key_delete = "key_delete"
    consent_change = "consent_change"  # consent to be kept past 18 recorded or withdrawn
    exceptional_request = "exceptional_request"
    exceptional_approve = "exceptional_approve"
    exceptional_revoke = "exceptional_revoke"


#: Actions that read personal data: what the inappropriate-access report counts.
READ_ACTIONS = frozenset({
    AuditAction.inbox_list, AuditAction.inbox_read, AuditAction.who_else,
    AuditAction.review_view, AuditAction.export, AuditAction.console_search,
})


class AuditOutcome(StrEnum):
    allowed = "allowed"
    refused = "refused"


class AuditRecord(BaseModel):
    """One link of the audit chain (DESIGN §7: who, what, when, purpose)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = Field(ge=1, description="position in the chain, from 1, no gaps")
    at: AwareDatetime
    service: str = Field(description="the process that wrote it: notifier, matcher, cli, ...")
    actor: str = Field(description="principal id (token sub), or the service for automatic work")
    role: str = Field(description="the actor's role when acting")
    action: AuditAction
    outcome: AuditOutcome = AuditOutcome.allowed
    child_id: str | None = Field(default=None, description="pseudonymous child id, if one")
    purpose: str | None = Field(default=None, max_length=500,
                                description="stated purpose (exceptional access, exports)")
    relationship: bool | None = Field(
        default=None, description="whether the actor works with the child; None if no child")
    grant_id: str | None = Field(default=None, description="exceptional-access grant used")
    target: str | None = Field(
        default=None, max_length=200,
        description="what else was touched (alert id, setting name); never personal data")
    count: int | None = Field(default=None, ge=0, description="records affected (purges)")
    prev_hash: str = Field(pattern=_HEX64)
    hash: str = Field(pattern=_HEX64)
