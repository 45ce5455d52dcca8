"""The domain experts' part of the loop: a review opens, experts vote, the review concludes.

    review = start_review(session, change_id=7, now=now)  # policy, sample, review: once
    outcome = vote_and_conclude(session, review_item_id=3, actor="omar", verdict="fail",
                                category="wrong", reason="it is a billing ticket", now=now)
    outcome.look.added          # the vote completed a look that wants more labels: the batch
    outcome.conclusion          # … or one that decided: → awaiting_approval, or back
    expire_due_reviews(session, now=now)  # the deadline check, on a schedule
    close_review_for_end(session, change_id=7, now=now)  # the change was withdrawn

These are the only functions that write reviews and votes; the CLI, the Slack gateway and
the pipeline all call them, in their own transaction (nothing here commits). Every write
to a review first takes its row (a conditional UPDATE on an open review), so concurrent
votes are counted one after another and a review concludes exactly once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from roles.errors import InputError, NotFoundError, PolicyError, RoleError
from roles.ledger import Review, ReviewItem, Vote, VotePublic
from roles.ledger.review import SOURCES, VERDICTS
from roles.review.claim import take_open
from roles.review.conclusion import (
    ReviewConclusion,
    close_review_for_end,
    conclude_review,
    expire_due_reviews,
)
from roles.review.current import current_review
from roles.review.opening import open_review, start_review
from roles.review.policy import ReviewPolicy
from roles.review.tally import (
    ReviewProgress,
    get_review,
    review_progress,
)
from roles.review.views import item_view, waiting_items
from roles.roster import require_member
from roles.states import Role, State
from roles.transitions import get_change


class VoteReceipt(BaseModel):
    model_config = ConfigDict(frozen=True)

    vote: VotePublic
    progress: ReviewProgress


def cast_vote(
    session: Session,
    *,
    review_item_id: int,
    actor: str,
    verdict: str,
    category: str | None = None,
    reason: str | None = None,
    source: str = "cli",
    now: datetime,
) -> VoteReceipt:
    """Record ``actor``'s verdict on one sampled item; a later vote replaces theirs in the
    count (both stay in the ledger).

    Raises:
        NotFoundError: no such review item.
        InputError: a verdict other than pass/fail, an unknown category or source.
        RoleError: the actor is not an active expert, or wrote the change.
        PolicyError: the review is closed or past its deadline.
    """
    item = session.get(ReviewItem, review_item_id)
    if item is None:
        raise NotFoundError(f"there is no review item {review_item_id}")
    review = get_review(session, item.review_id)
    _check_vote(review, verdict=verdict, category=category, source=source)
    member, _ = require_member(session, handle=actor, roles=(Role.EXPERT,))
    if review.status != "open":
        raise PolicyError(f"review {review.id} is {review.status}; it takes no more votes")
    change = get_change(session, review.change_id)
    if change.state != State.IN_REVIEW.value:
        raise PolicyError(f"change {change.id} is {change.state}; its review takes no votes")
    if member.id == change.author_id:
        raise RoleError(
            f"'{actor}' wrote change {change.id} and cannot review it (separation of duties)"
        )
    if now >= review.deadline_at:
        raise PolicyError(f"review {review.id} passed its deadline; it takes no more votes")
    if verdict == "fail" and category is None:
        raise InputError(
            "a fail needs its category (the author reads it): one of "
            f"{', '.join(review.fail_categories)} (--category)"
        )
    take_open(session, review=review, now=now)
    assert member.id is not None and item.id is not None
    vote = Vote(
        review_item_id=item.id,
        member_id=member.id,
        verdict=verdict,
        category=category,
        reason=reason.strip() if reason and reason.strip() else None,
        source=source,
        created_at=now,
    )
    session.add(vote)
    session.flush()
    progress = review_progress(session, review_id=review.id or 0)
    return VoteReceipt(vote=VotePublic.model_validate(vote), progress=progress)


class VoteOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    receipt: VoteReceipt
    conclusion: ReviewConclusion | None  # set when this vote completed the review
    # A roles.review.looks.Look, set when this vote completed a look that did not conclude
    # it (typed loosely: the estimate's statistics load only when a look is taken).
    look: Any = None


def vote_and_conclude(
    session: Session,
    *,
    review_item_id: int,
    actor: str,
    verdict: str,
    category: str | None = None,
    reason: str | None = None,
    source: str = "cli",
    now: datetime,
) -> VoteOutcome:
    """``cast_vote``, and the vote that completes its review also concludes it: what the
    CLI and the Slack gateway do with a person's vote (same refusals as ``cast_vote``)."""
    receipt = cast_vote(
        session,
        review_item_id=review_item_id,
        actor=actor,
        verdict=verdict,
        category=category,
        reason=reason,
        source=source,
        now=now,
    )
    progress = receipt.progress
    if not progress.complete:
        return VoteOutcome(receipt=receipt, conclusion=None)
    from roles.review.looks import take_look

    review = get_review(session, progress.review_id)
    look = take_look(session, review=review, now=now)
    if look.judged.decision in ("more", "undecided"):
        return VoteOutcome(
            receipt=receipt.model_copy(
                update={"progress": review_progress(session, review_id=progress.review_id)}
            ),
            conclusion=None,
            look=look,
        )
    conclusion = conclude_review(session, review_id=progress.review_id, now=now)
    return VoteOutcome(receipt=receipt, conclusion=conclusion)


def _check_vote(review: Review, *, verdict: str, category: str | None, source: str) -> None:
    if verdict not in VERDICTS:
        raise InputError(f"a verdict is pass or fail, not {verdict!r}")
    if source not in SOURCES:
        raise InputError(f"a vote comes from {' or '.join(SOURCES)}, not {source!r}")
    if category is not None and category not in review.fail_categories:
        raise InputError(
            f"category {category!r} is not one of this review's: {', '.join(review.fail_categories)}"
        )


__all__ = [
    "ReviewConclusion",
    "ReviewPolicy",
    "ReviewProgress",
    "VoteOutcome",
    "VoteReceipt",
    "cast_vote",
    "close_review_for_end",
    "conclude_review",
    "current_review",
    "expire_due_reviews",
    "item_view",
    "open_review",
    "review_progress",
    "start_review",
    "vote_and_conclude",
    "waiting_items",
]
