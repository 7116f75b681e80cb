"""The one place operators' actions are carried out, checked and audited: console and CLI alike.

Each action checks the caller's role, does its Redis work (thresholds.py, review.py, split.py,
Index), writes the audit record (fail closed: no audit, no personal data), and publishes what
the rest of Signpost must learn: a correction on `child.links` and alerts to the lead
professionals of the children involved. Roles: operators do everything; reviewers work the
review queue; auditors read the dashboard and the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaProducer
from pydantic import BaseModel, ConfigDict

from schemas import Alert, AlertType, AuditAction, AuditOutcome, LinkDecision, LinkOutcome
from services.matcher.correction_alerts import correction_alert
from services.matcher.engine import new_child_id
from services.matcher.errors import OperatorError, ReviewNotOpen
from services.matcher.evidence import Evidence, build_evidence
from services.matcher.index import Index
from services.matcher.model import LinkageModel
from services.matcher.review import LabelledPair, ReviewItem, ReviewStatus, ReviewStore
from services.matcher.score import ScoredPair, Scorer
from services.matcher.split import SplitResult, split_child
from services.matcher.standardise import Features
from services.matcher.stats import decision_rates
from services.matcher.thresholds import ThresholdSetting, ThresholdStore
from signpost.audit import AuditLog
from signpost.auth import Claims, Role
from signpost.settings import Topics

__all__ = ["NotPermitted", "Operations", "ReviewDetail", "SideBySide"]

SEND_TIMEOUT_S = 10.0
MAX_RECORDS_COMPARED = 20  # a candidate child's records scored when a reviewer opens an item
ANYONE = (Role.operator, Role.reviewer, Role.auditor)
EVENTS_PER_DAY_WINDOW_S = 3600  # the last hour's rate, times 24, estimates a day's events
REVIEWERS = (Role.operator, Role.reviewer)
OPERATORS = (Role.operator,)


class NotPermitted(OperatorError):
    """The caller's role may not do this (audited as refused)."""


class SideBySide(BaseModel):
    """The event's record and the candidate's closest record, field by field, with levels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: list[tuple[str, str, str]]  # (field, event's value, candidate's value)
    levels: list[tuple[str, str, float]]  # (comparison, level, weight) as scored now
    score: float


class ReviewDetail(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    item: ReviewItem
    side_by_side: SideBySide | None


def _display(f: Features) -> dict[str, str]:
    """A record's identifying fields as a reviewer compares them."""
    return {"given name": " ".join(f.given), "middle names": " ".join(f.middle),
            "family name": " ".join(f.family), "other names": " ".join(f.other_names),
            "date of birth": f.dob or "", "sex": f.sex, "NHS number": f.nhs or "",
            "postcode": f.postcode or "", "address": " ".join(f.address), "town": f.town,
            "carers": "; ".join(" ".join(c) for c in f.carers),
            "agency": f"{f.agency_kind} {f.agency_id}"}


def _side_by_side(event: Features, best: Features, scored: ScoredPair) -> SideBySide:
    left, right = _display(event), _display(best)
    return SideBySide(fields=[(name, left[name], right[name]) for name in left],
                      levels=[(e.comparison, e.level, e.weight) for e in scored.explanation],
                      score=scored.total)


@dataclass
class Operations:
    """Operators' actions over one matcher's Redis, audit log and topics."""

    index: Index
    model: LinkageModel
    thresholds: ThresholdStore
    reviews: ReviewStore
    audit: AuditLog
    producer: KafkaProducer
    topics: Topics
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def _require(self, claims: Claims, roles: tuple[Role, ...], action: AuditAction,
                 child_id: str | None = None) -> None:
        if claims.role not in roles:
            self.audit.record(actor=claims.sub, role=claims.role.value, action=action,
                              outcome=AuditOutcome.refused, child_id=child_id)
            raise NotPermitted(f"role {claims.role.value} may not do this")

    def _publish(self, decisions: list[LinkDecision], alerts: list[Alert]) -> None:
        futures = [self.producer.send(self.topics.links, d.model_dump_json().encode(),
                                      d.child_id.encode()) for d in decisions]
        futures += [self.producer.send(self.topics.alerts, a.model_dump_json().encode(),
                                       a.child_id.encode()) for a in alerts]
        self.producer.flush()
        for future in futures:
            future.get(timeout=SEND_TIMEOUT_S)

    # --- thresholds ----------------------------------------------------------------------

    def set_thresholds(self, claims: Claims, *, upper: float, lower: float, reason: str,
                       expected_version: int | None = None) -> ThresholdSetting:
        """Change the live thresholds (operators), audited with old and new values."""
        self._require(claims, OPERATORS, AuditAction.threshold_change)
        if not reason.strip():
            raise OperatorError("a reason is required")
        old, new = self.thresholds.set(upper=upper, lower=lower, actor=claims.sub,
                                       reason=reason.strip(), expected_version=expected_version,
                                       now=self.now)
        self.audit.record(actor=claims.sub, role=claims.role.value,
                          action=AuditAction.threshold_change, purpose=reason.strip()[:500],
                          target=f"thresholds v{old.version}->v{new.version}: upper "
                                 f"{old.upper:g}->{new.upper:g}, lower {old.lower:g}->"
                                 f"{new.lower:g}")
        return new

    # --- review queue --------------------------------------------------------------------

    def queue(self, claims: Claims, *, limit: int = 50) -> list[ReviewItem]:
        """Open items, masked (ids, scores, levels: no personal data)."""
        self._require(claims, ANYONE, AuditAction.review_view)
        return self.reviews.open_items(limit=limit)

    def _item(self, review_id: str, *, open_only: bool = False) -> ReviewItem:
        item = self.reviews.get(review_id)
        if item is None or (open_only and item.status is not ReviewStatus.open):
            raise ReviewNotOpen(f"review {review_id} is unknown or already decided")
        return item

    def masked(self, claims: Claims, review_id: str) -> ReviewItem:
        """One item without personal data (ids, score, levels)."""
        self._require(claims, ANYONE, AuditAction.review_view)
        return self._item(review_id)

    def open_review(self, claims: Claims, review_id: str) -> ReviewDetail:
        """The item with both records side by side: personal data, so audited first."""
        item = self._item(review_id)
        self._require(claims, REVIEWERS, AuditAction.review_view, item.candidate_child_id)
        self.audit.record(actor=claims.sub, role=claims.role.value,
                          action=AuditAction.review_view, child_id=item.candidate_child_id,
                          target=f"review {review_id}")
        return ReviewDetail(item=item, side_by_side=self._compare(item))

    def _compare(self, item: ReviewItem) -> SideBySide | None:
        own = self.index.record_seqs(self.index.resolve(item.child_id))
        event = self.index.records({item.event_id: own[item.event_id]}
                                   if item.event_id in own else {})
        root = self.index.resolve(item.candidate_child_id)
        refs = self.index.record_seqs(root)
        ids = sorted(set(refs) - {item.event_id})[:MAX_RECORDS_COMPARED]
        others = self.index.records({rid: refs[rid] for rid in ids})
        if not event or not others:
            return None
        score = Scorer(event[0].features, self.model)
        scored = [(score(o.features), o) for o in others]
        best_score, best = max(scored, key=lambda t: t[0].total)
        return _side_by_side(event[0].features, best.features, best_score)

    def accept(self, claims: Claims, review_id: str, reason: str | None = None) -> ReviewItem:
        """The same child: the event's child and the candidate merge, leads are told."""
        item = self._item(review_id, open_only=True)
        self._require(claims, REVIEWERS, AuditAction.review_decision, item.candidate_child_id)
        with self.index.held():
            a, b = self.index.resolve(item.child_id), self.index.resolve(item.candidate_child_id)
            if a != b and b in self.index.cannot_link([a]):
                raise OperatorError("an operator kept these children apart (a rejected review "
                                    "or a split): reject this item instead")
            done = self.reviews.decide(item=item, status=ReviewStatus.accepted,
                                       actor=claims.sub, reason=reason, now=self.now())
            before = [self.index.child_info(c) for c in {a, b}]
            winner, loser = self._merge(a, b)
        self._audit_decision(claims, done, AuditAction.merge_records, winner)
        self._publish([self._merged_decision(item, winner, loser)],
                      [correction_alert(AlertType.records_merged, item.event_id, winner,
                                        before, self.now())] if loser else [])
        return done

    def _merge(self, a: str, b: str) -> tuple[str, str | None]:
        if a == b:
            return a, None
        created = self.index.created_seq([a, b])
        winner, loser = sorted((a, b), key=lambda c: (created[c], c))
        self.index.merge(winner=winner, loser=loser)
        return winner, loser

    def _merged_decision(self, item: ReviewItem, winner: str, loser: str | None) -> LinkDecision:
        return LinkDecision(event_id=uuid.UUID(item.event_id), child_id=winner,
                            outcome=LinkOutcome.merged, score=item.score,
                            explanation=item.explanation,
                            candidate_child_id=item.candidate_child_id,
                            merged_child_ids=[loser] if loser else [], rule="review_accepted",
                            model_version=item.model_version, decided_at=self.now())

    def reject(self, claims: Claims, review_id: str, reason: str | None = None) -> ReviewItem:
        """Different children: never link them again (a cannot-link constraint)."""
        item = self._item(review_id, open_only=True)
        self._require(claims, REVIEWERS, AuditAction.review_decision, item.candidate_child_id)
        with self.index.held():
            done = self.reviews.decide(item=item, status=ReviewStatus.rejected,
                                       actor=claims.sub, reason=reason, now=self.now())
            self.index.bar(self.index.resolve(item.child_id),
                           self.index.resolve(item.candidate_child_id))
        self._audit_decision(claims, done, AuditAction.review_decision, item.child_id)
        return done

    def _audit_decision(self, claims: Claims, item: ReviewItem, action: AuditAction,
                        child_id: str) -> None:
        self.audit.record(actor=claims.sub, role=claims.role.value, action=action,
                          child_id=child_id, purpose=(item.reason or None),
                          target=f"review {item.review_id} {item.status.value}")

    # --- split ---------------------------------------------------------------------------

    def split(self, claims: Claims, *, child_id: str, record_ids: list[str],
              into: str | None, reason: str) -> SplitResult:
        """Move records off a wrongly merged child; child.links and the leads learn of it."""
        self._require(claims, OPERATORS, AuditAction.split_records, child_id)
        if not reason.strip():
            raise OperatorError("a reason is required")
        before = [self.index.child_info(self.index.resolve(child_id))]
        result = split_child(index=self.index, child_id=child_id, record_ids=record_ids,
                             into=into, new_child_id=new_child_id())
        self.audit.record(actor=claims.sub, role=claims.role.value,
                          action=AuditAction.split_records, child_id=result.source,
                          purpose=reason.strip()[:500], count=len(result.moved),
                          target=f"into {result.target}" + (" (new)" * result.new_child))
        before.append(self.index.child_info(result.target))
        decisions = [self._split_decision(rid, result) for rid in result.moved]
        self._publish(decisions, [correction_alert(AlertType.records_split, result.moved[0],
                                                   result.source, before, self.now())])
        return result

    def _split_decision(self, record_id: str, result: SplitResult) -> LinkDecision:
        return LinkDecision(event_id=uuid.UUID(record_id), child_id=result.target,
                            outcome=LinkOutcome.moved, score=None,
                            candidate_child_id=result.source, rule="operator_split",
                            model_version=self.model.model_version, decided_at=self.now())

    def children_records(self, claims: Claims, child_id: str) -> dict[str, Any]:
        """A child's record ids and agency kinds (no personal data) for the split form."""
        self._require(claims, OPERATORS, AuditAction.split_records, child_id)
        root = self.index.resolve(child_id)
        records = self.index.records(self.index.record_seqs(root))
        return {"child_id": root, "records": [
            {"record_id": r.features.event_id, "agency_kind": r.features.agency_kind,
             "agency_id": r.features.agency_id} for r in records]}

    # --- evidence --------------------------------------------------------------------------

    def evidence(self, *, upper: float, lower: float,
                 events_per_day: float | None = None) -> tuple[Evidence, list[LabelledPair]]:
        """P/R/F1 and review load at a setting, from operators' verdicts and recent scores."""
        pairs = self.reviews.labelled_pairs()
        per_day = events_per_day
        if per_day is None:
            hour = decision_rates(self.index.r, self.index.k.prefix, self.now(),
                                  window_s=EVENTS_PER_DAY_WINDOW_S)
            per_day = hour.events_per_s * 86400
        return build_evidence(pairs, upper, lower, self.index.recent_scores(), per_day), pairs
