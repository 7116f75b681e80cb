"""The one place for the review queue: possible matches awaiting an operator, and their verdicts.

The engine queues an item for each `review` outcome in the same transaction as the event
(Index.commit). An item holds ids, the score and its explanation: no personal data; the
side-by-side fields are read from the index only when a reviewer opens it (operations.py,
audited). Order: oldest first, with riskier items brought forward by up to RISK_HEADSTART_S.
Each verdict is kept as a labelled pair (score, match) for `signpost thresholds evaluate`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

import redis
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas import FieldExplanation, LinkDecision
from services.matcher.errors import ReviewNotOpen
from services.matcher.index import pack_json, unpack_json
from services.matcher.keys import Keys

__all__ = [
    "LabelledPair",
    "ReviewItem",
    "ReviewStatus",
    "ReviewStore",
    "priority",
    "review_item",
    "risk",
]

RISK_HEADSTART_S = 3600.0  # the riskiest item is shown as if it had waited an hour longer
ALIAS_RISK = 1.0  # an unexplained alias (a possible false identity) is the riskiest kind
MAX_PAIRS = 100_000  # labelled pairs kept for evaluation (newest)

# Record one verdict, once.
# KEYS[1]: ZSET open review ids;  KEYS[2]: ZSET decided review ids
# KEYS[3]: STRING the item's JSON;  KEYS[4]: LIST labelled pairs
# ARGV[1]: review id;  ARGV[2]: the decided item's JSON;  ARGV[3]: decision time (unix s)
# ARGV[4]: the labelled pair's JSON;  ARGV[5]: pairs kept
# returns: 1 when the item was open and is now decided; 0 when it was not open
DECIDE_LUA = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('SET', KEYS[3], ARGV[2])
redis.call('RPUSH', KEYS[4], ARGV[4])
redis.call('LTRIM', KEYS[4], -tonumber(ARGV[5]), -1)
return 1
"""


class ReviewStatus(StrEnum):
    open = "open"
    accepted = "accepted"  # the same child: linked (the two children merged)
    rejected = "rejected"  # different children: a cannot-link constraint from now on


class ReviewItem(BaseModel):
    """A possible match: the event's record, the candidate child, and why. Ids only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    review_id: str
    event_id: str
    child_id: str = Field(description="the child the event was given while it waits")
    candidate_child_id: str
    score: float
    explanation: list[FieldExplanation]
    rule: str | None = None
    risk: float = Field(ge=0, description="0..2: nearness to upper, plus 1 for an alias rule")
    model_version: str
    created_at: AwareDatetime
    status: ReviewStatus = ReviewStatus.open
    decided_by: str | None = None
    decided_at: AwareDatetime | None = None
    reason: str | None = Field(default=None, max_length=500)


class LabelledPair(BaseModel):
    """One pair with a known answer: evidence for choosing thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score: float
    match: bool
    source: str = Field(description="review (an operator's verdict) or truth (a truth file)")
    at: AwareDatetime | None = None


def risk(score: float, upper: float, lower: float, rule: str | None) -> float:
    """How much a wrong answer would cost: near upper (likely the same child), or an alias."""
    span = max(upper - lower, 1e-9)
    nearness = min(max((score - lower) / span, 0.0), 1.0)
    return nearness + (ALIAS_RISK if rule == "alias" else 0.0)


def priority(item: ReviewItem) -> float:
    """The queue's sort key, smallest first: arrival time less a head start for risk."""
    return item.created_at.timestamp() - RISK_HEADSTART_S * item.risk / 2


def review_item(decision: LinkDecision, thresholds: tuple[float, float]) -> ReviewItem:
    """The item a `review` decision queues; its id is the event id (idempotent)."""
    score = decision.score if decision.score is not None else thresholds[1]
    return ReviewItem(
        review_id=str(decision.event_id), event_id=str(decision.event_id),
        child_id=decision.child_id, candidate_child_id=decision.candidate_child_id or "",
        score=score, explanation=decision.explanation, rule=decision.rule,
        risk=risk(score, *thresholds, decision.rule), model_version=decision.model_version,
        created_at=decision.decided_at)


class ReviewStore:
    """The queue of one key prefix."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.r = client
        self.k = Keys(prefix)
        self._decide = client.register_script(DECIDE_LUA)

    def get(self, review_id: str) -> ReviewItem | None:
        items = self._items([review_id])
        return items[0] if items else None

    def open_items(self, *, limit: int = 50, offset: int = 0) -> list[ReviewItem]:
        """Open items in queue order: oldest and riskiest first."""
        return self._items(self.r.zrange(self.k.review_queue, offset, offset + limit - 1))

    def decided_items(self, *, limit: int = 50) -> list[ReviewItem]:
        return self._items(self.r.zrevrange(self.k.review_done, 0, limit - 1))

    def _items(self, ids: Sequence[object]) -> list[ReviewItem]:
        """The items of these review ids that exist, in order (one MGET; packed or not)."""
        raw = self.r.mget([self.k.review_item(str(i)) for i in ids]) if ids else []
        return [ReviewItem.model_validate_json(unpack_json(str(v))) for v in raw if v]

    def counts(self) -> dict[str, int]:
        return {"open": int(self.r.zcard(self.k.review_queue)),
                "decided": int(self.r.zcard(self.k.review_done))}

    def decide(self, *, item: ReviewItem, status: ReviewStatus, actor: str, reason: str | None,
               now: datetime | None = None) -> ReviewItem:
        """Record the verdict and its labelled pair once; ReviewNotOpen if already decided."""
        at = now or datetime.now(UTC)
        done = item.model_copy(update={"status": status, "decided_by": actor,
                                       "decided_at": at, "reason": reason})
        pair = LabelledPair(score=item.score, match=status is ReviewStatus.accepted,
                            source="review", at=at)
        won = self._decide(keys=[self.k.review_queue, self.k.review_done,
                                 self.k.review_item(item.review_id), self.k.labelled_pairs],
                           args=[item.review_id, pack_json(done.model_dump_json()),
                                 at.timestamp(),
                                 pair.model_dump_json(), MAX_PAIRS])
        if int(won) != 1:
            raise ReviewNotOpen(f"review {item.review_id} is not open")
        return done

    def labelled_pairs(self) -> list[LabelledPair]:
        return [LabelledPair.model_validate(json.loads(v))
                for v in self.r.lrange(self.k.labelled_pairs, 0, -1)]
