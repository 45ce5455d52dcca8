"""Counting a review: the votes that count (each expert's latest per item), progress, fails.

An item fails when at least half of its counted votes are ``fail`` (a tie is not a pass).
A review is complete when every item shown has the policy's votes and enough distinct
experts took part: then it looks (``roles.review.looks``), and decides or adds items.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from roles.clock import readable
from roles.errors import NotFoundError
from roles.ledger import Member, Review, ReviewItem, Vote


class ReviewProgress(BaseModel):
    model_config = ConfigDict(frozen=True)

    review_id: int
    status: str
    items_total: int
    items_voted: int  # items with the votes the policy asks for
    votes: int  # counted votes (one per expert per item)
    experts: int  # distinct experts who voted
    min_experts: int
    failed_items: int  # of every item shown (the estimate counts its sample's only)
    fail_share: float
    max_failure_rate: float
    complete: bool  # every item shown has its votes, from enough experts: a look is due
    deadline_at: datetime
    eligible_experts: int | None = None  # active experts who may vote (the author may not)

    @property
    def quorum_reachable(self) -> bool:
        return self.eligible_experts is None or self.eligible_experts >= self.min_experts

    def headline(self) -> str:
        """``4/10 items have their votes, 1/2 experts``."""
        line = (
            f"{self.items_voted}/{self.items_total} items have their votes, "
            f"{self.experts}/{self.min_experts} experts"
        )
        if not self.quorum_reachable:
            line += (
                f" (only {self.eligible_experts} expert(s) may vote on it, the author not: it "
                "cannot complete before its deadline — add experts with `team sync`, or lower "
                "suite.review.min_experts)"
            )
        return line

    def waiting_message(self) -> str:
        """What a run waiting for the experts says it waits for (its state message)."""
        if self.status == "undecided":
            return (
                "awaiting the decider's call: the review's sample reached its cap undecided "
                f"(`promptloop review decide {self.review_id}`), deadline {readable(self.deadline_at)}"
            )
        return f"awaiting expert review: {self.headline()}, deadline {readable(self.deadline_at)}"


def get_review(session: Session, review_id: int) -> Review:
    review = session.get(Review, review_id)
    if review is None:
        raise NotFoundError(f"there is no review {review_id}")
    return review


def review_items(session: Session, *, review_id: int) -> list[ReviewItem]:
    return list(
        session.exec(
            select(ReviewItem)
            .where(ReviewItem.review_id == review_id)
            .order_by(col(ReviewItem.position))
        )
    )


def counted_votes(
    session: Session, *, review_id: int, item_ids: Collection[int] | None = None
) -> dict[int, dict[int, Vote]]:
    """Per review item (of ``item_ids``, default all), per expert: their latest vote
    (earlier ones stay as history)."""
    query = (
        select(Vote)
        .join(ReviewItem, col(ReviewItem.id) == col(Vote.review_item_id))
        .where(ReviewItem.review_id == review_id)
    )
    if item_ids is not None:
        query = query.where(col(Vote.review_item_id).in_(list(item_ids)))
    counted: dict[int, dict[int, Vote]] = {}
    for vote in session.exec(query.order_by(col(Vote.id))):
        counted.setdefault(vote.review_item_id, {})[vote.member_id] = vote
    return counted


def counted_verdicts(session: Session, *, review_id: int) -> dict[int, dict[int, str]]:
    """``counted_votes``' verdicts only: what a count needs, read as plain rows (every vote
    counts a review's progress: as ORM objects, reading them was most of a vote's cost)."""
    rows = session.exec(
        select(Vote.review_item_id, Vote.member_id, Vote.verdict)
        .join(ReviewItem, col(ReviewItem.id) == col(Vote.review_item_id))
        .where(ReviewItem.review_id == review_id)
        .order_by(col(Vote.id))
    )
    counted: dict[int, dict[int, str]] = {}
    for item_id, member_id, verdict in rows:
        counted.setdefault(item_id, {})[member_id] = verdict
    return counted


def verdicts_failed(verdicts: Collection[str]) -> bool:
    """At least half of the counted verdicts are ``fail`` (a tie is not a pass)."""
    fails = sum(v == "fail" for v in verdicts)
    return bool(verdicts) and 2 * fails >= len(verdicts)


def item_failed(votes: dict[int, Vote]) -> bool:
    return verdicts_failed([v.verdict for v in votes.values()])


def review_progress(session: Session, *, review_id: int) -> ReviewProgress:
    """How far the review is: items with enough votes / total, distinct experts, complete?"""
    review = get_review(session, review_id)
    session.refresh(review)
    items = session.exec(select(ReviewItem.id).where(ReviewItem.review_id == review_id)).all()
    counted = counted_verdicts(session, review_id=review_id)
    per_item = [counted.get(i or 0, {}) for i in items]
    experts = {member for votes in per_item for member in votes}
    voted = sum(len(votes) >= review.votes_per_item for votes in per_item)
    failed = sum(verdicts_failed(list(votes.values())) for votes in per_item)
    total = len(items)
    return ReviewProgress(
        review_id=review_id,
        status=review.status,
        items_total=total,
        items_voted=voted,
        votes=sum(len(votes) for votes in per_item),
        experts=len(experts),
        min_experts=review.min_experts,
        failed_items=failed,
        fail_share=failed / total if total else 0.0,
        max_failure_rate=review.max_failure_rate,
        complete=total > 0 and voted == total and len(experts) >= review.min_experts,
        deadline_at=review.deadline_at,
        eligible_experts=eligible_experts(session, change_id=review.change_id),
    )


def eligible_experts(session: Session, *, change_id: int) -> int:
    """Active members holding ``expert``, the change's author excepted."""
    from sqlalchemy import func

    from roles.ledger import ChangeRequest, MemberRole

    change = session.get(ChangeRequest, change_id)
    author = change.author_id if change is not None else None
    count = session.exec(
        select(func.count(func.distinct(Member.id)))
        .join(MemberRole, col(MemberRole.member_id) == col(Member.id))
        .where(MemberRole.role == "expert")
        .where(col(Member.active))
        .where(Member.id != author)
    ).one()
    return int(count)


def failed_item_reasons(session: Session, *, review_id: int) -> list[dict[str, Any]]:
    """The failed items with each fail vote's expert, category and reason (for the author)."""
    counted = counted_votes(session, review_id=review_id)
    handles = dict(session.exec(select(Member.id, Member.handle)).all())
    failed = []
    for item in review_items(session, review_id=review_id):
        votes = counted.get(item.id or 0, {})
        if not item_failed(votes):
            continue
        reasons = [
            {"expert": handles.get(v.member_id), "category": v.category, "reason": v.reason}
            for v in votes.values()
            if v.verdict == "fail"
        ]
        failed.append({"item_id": item.item_id, "review_item_id": item.id, "fails": reasons})
    return failed
