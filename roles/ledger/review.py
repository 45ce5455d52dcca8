"""The experts' review of one change evaluation: the review, its sampled items, the votes.

A ``Review`` belongs to the handoff that put the change in review (one per evaluation);
its policy is a snapshot, so changing a prompt's policy never re-judges an open review.
``Vote`` rows are annotations and only ever inserted: a changed mind is a new row, the
latest per (item, expert) counts, and the history stays.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import JSON, CheckConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

# The tables our foreign keys name: a flush sorts tables by them, so they must be known.
import roles.ledger.changes
import roles.ledger.evals
import roles.ledger.members  # noqa: F401
from roles.clock import utcnow
from roles.ledger.types import UTCDateTime

# undecided: the sample reached its cap with the bound straddling the tolerable rate; the
# review's decider (``review decide``) ends it.
ReviewStatus = Literal["open", "undecided", "complete", "expired", "cancelled"]
ReviewOutcome = Literal["passed", "failed", "expired", "cancelled"]
VoteVerdict = Literal["pass", "fail"]
VoteSource = Literal["cli", "slack"]
VERDICTS: tuple[VoteVerdict, ...] = ("pass", "fail")
SOURCES: tuple[VoteSource, ...] = ("cli", "slack")
# The strategy of a review item drawn into the estimate's probability sample; any other
# strategy is a purposeful pick (shown for learning, never counted).
SAMPLE = "sample"


class ReviewBase(SQLModel):
    change_id: int = Field(foreign_key="change_request.id", index=True, ondelete="RESTRICT")
    handoff_id: int = Field(foreign_key="handoff.id", unique=True, ondelete="RESTRICT")
    candidate_run_id: int = Field(foreign_key="eval_run.id", ondelete="RESTRICT")
    baseline_run_id: int | None = Field(
        default=None, foreign_key="eval_run.id", ondelete="RESTRICT"
    )
    # The policy as it was when the review opened.
    items_needed: int  # the first look's sample (without strata: every item shown)
    votes_per_item: int
    min_experts: int
    max_failure_rate: float  # π₀: the bound decides against it
    batch_size: int = 0  # labels added per look while the bound cannot decide (0: opened before)
    max_items: int = 0  # the sample's cap (0: a review opened before strata: a census of its items)
    confidence: float = 0.95
    # Stratum → its item ids, fixed when the review opened (roles.data_scientist.review_strata).
    strata: dict[str, list[str]] | None = Field(default=None, sa_type=JSON)
    decider: str | None = Field(default=None, max_length=64)  # a handle; None: data scientists
    decided_by: int | None = Field(default=None, foreign_key="member.id", ondelete="RESTRICT")
    fail_categories: list[str] = Field(default_factory=list, sa_type=JSON)
    seed: int
    deadline_at: datetime = Field(sa_type=UTCDateTime)


class Review(ReviewBase, table=True):
    __tablename__ = "review"
    __table_args__ = (
        CheckConstraint(
            "status IN ('open', 'complete', 'expired', 'cancelled', 'undecided')",
            name="review_status",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default="open", index=True, max_length=16)
    outcome: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Written by every vote too: a vote takes the review's row lock, so concurrent votes on
    # one review are counted one after another and exactly one of them sees it complete.
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    concluded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ReviewPublic(ReviewBase):
    id: int
    status: ReviewStatus
    outcome: ReviewOutcome | None
    created_at: datetime
    concluded_at: datetime | None


class ReviewItemBase(SQLModel):
    review_id: int = Field(foreign_key="review.id", index=True, ondelete="CASCADE")
    item_id: str = Field(max_length=200)
    position: int
    strategy: str = Field(max_length=32)  # why it was sampled (never shown before a vote)
    reason: str = Field(sa_type=Text)
    # E/S/U/R for the estimate's probability sample (strategy "sample"); None: a purposeful
    # pick, shown for learning and never counted in the estimate.
    stratum: str | None = Field(default=None, max_length=1)
    batch: int = 0  # the look that added it (0: the first)


class ReviewItem(ReviewItemBase, table=True):
    __tablename__ = "review_item"
    __table_args__ = (
        UniqueConstraint("review_id", "item_id"),
        UniqueConstraint("review_id", "position"),
    )

    id: int | None = Field(default=None, primary_key=True)


class VoteBase(SQLModel):
    review_item_id: int = Field(foreign_key="review_item.id", index=True, ondelete="RESTRICT")
    member_id: int = Field(foreign_key="member.id", index=True, ondelete="RESTRICT")
    verdict: str = Field(max_length=8)
    category: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, sa_type=Text)
    source: str = Field(default="cli", max_length=16)


class Vote(VoteBase, table=True):
    """One expert's label on one sampled item (append-only: the database refuses updates)."""

    __tablename__ = "vote"
    __table_args__ = (
        CheckConstraint("verdict IN ('pass', 'fail')", name="vote_verdict"),
        CheckConstraint("source IN ('cli', 'slack')", name="vote_source"),
    )

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class VotePublic(VoteBase):
    id: int
    verdict: VoteVerdict
    source: VoteSource
    created_at: datetime
