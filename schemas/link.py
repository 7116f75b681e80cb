"""The one place for the matcher's decision about one event, on `child.links`."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = ["FieldExplanation", "LinkDecision", "LinkOutcome"]


class LinkOutcome(StrEnum):
    linked = "linked"  # score >= upper: joined an existing child
    merged = "merged"  # scored >= upper against two or more children: they became one
    review = "review"  # lower <= score < upper, or an unexplained alias: a new child for now
    new_child = "new_child"  # no candidate reached lower
    moved = "moved"  # an operator split a wrong merge: this event's record is now child_id


class FieldExplanation(BaseModel):
    """One comparison's contribution to a score (Splink's ComparisonLevelDetailedRecord)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    comparison: str
    level: str
    weight: float = Field(description="log2 Bayes factor of this level, m/u")
    term_frequency: float | None = Field(
        default=None, description="frequency of the value when it replaced u (exact level)")


class LinkDecision(BaseModel):
    """What the matcher decided for one event, with its explanation. No personal data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: UUID
    child_id: str
    outcome: LinkOutcome
    score: float | None = Field(description="total match weight against the best candidate")
    prior: float | None = None
    explanation: list[FieldExplanation] = Field(default_factory=list)
    candidate_child_id: str | None = Field(
        default=None, description="the best existing child (the review partner for 'review')"
    )
    merged_child_ids: list[str] = Field(
        default_factory=list, description="children replaced by child_id in a merge"
    )
    discrepancies: list[str] = Field(
        default_factory=list, description="fields that differ across the link: name, dob, address"
    )
    rule: str | None = Field(
        default=None, description="the rule that capped the decision: alias, twins, siblings"
    )
    model_version: str
    decided_at: AwareDatetime
