"""The call at the cap: a review whose sample reached its cap with the bound still
straddling the tolerable rate is decided by a named person, with the numbers in front of
them, and that decision is the change's handoff out of review (by them, with their reason).

    deciders(session, review)                       # who may: the policy's, else data scientists
    decide_review(session, review_id=4, actor="dana", decision="pass",
                  reason="the two fails are the same known ticket", now=now)
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlmodel import Session, col, select

from roles.errors import InputError, PolicyError, RoleError
from roles.ledger import Member, MemberRole, Review
from roles.ledger.review import ReviewOutcome
from roles.review.claim import take_open
from roles.review.conclusion import ReviewConclusion, close_review, review_note
from roles.review.looks import judge_review
from roles.review.tally import failed_item_reasons, get_review, review_progress
from roles.roster import require_member
from roles.states import Role
from roles.transitions import get_change

DECIDER_ROLES = (Role.DATA_SCIENTIST, Role.ADMIN)


def deciders(session: Session, review: Review) -> list[str]:
    """Who may decide the review at its cap: the policy's named decider, else every active
    data scientist (no data scientist: the admins); never the change's author."""
    change = get_change(session, review.change_id)
    if review.decider:
        return [review.decider]
    for role in DECIDER_ROLES:
        handles = session.exec(
            select(Member.handle)
            .join(MemberRole, col(MemberRole.member_id) == col(Member.id))
            .where(MemberRole.role == role.value)
            .where(col(Member.active))
            .where(Member.id != change.author_id)
            .order_by(col(Member.handle))
        ).all()
        if handles:
            return list(dict.fromkeys(handles))
    return []


def decide_review(
    session: Session,
    *,
    review_id: int,
    actor: str,
    decision: Literal["pass", "fail"] | str,
    reason: str,
    now: datetime,
) -> ReviewConclusion:
    """Record the decider's call on an undecided review; the change moves on by them.

    Raises:
        InputError: a decision other than pass/fail, or no reason.
        PolicyError: the review is not waiting for a decision (open: its votes decide it).
        RoleError: the actor is not the review's decider, or wrote the change.
    """
    if decision not in ("pass", "fail"):
        raise InputError(f"a review is decided pass or fail, not {decision!r}")
    if not reason or not reason.strip():
        raise InputError("a decision at the cap needs its reason (--reason): the author reads it")
    review = get_review(session, review_id)
    session.refresh(review)
    if review.status != "undecided":
        what = {"open": "open: its experts' votes decide it"}.get(review.status, review.status)
        raise PolicyError(f"review {review_id} is {what}; only an undecided review is decided")
    member, _ = require_member(session, handle=actor, roles=DECIDER_ROLES)
    change = get_change(session, review.change_id)
    if member.id == change.author_id:
        raise RoleError(f"'{actor}' wrote change {change.id} and cannot decide its review")
    allowed = deciders(session, review)
    if actor not in allowed:
        raise RoleError(
            f"review {review_id} is decided by {', '.join(allowed) or 'nobody on the team'}, "
            f"not '{actor}'"
        )
    take_open(session, review=review, now=now, statuses=("undecided",))
    judged = judge_review(session, review)
    outcome: ReviewOutcome = "passed" if decision == "pass" else "failed"
    review.decided_by = member.id
    progress = review_progress(session, review_id=review_id)
    failed = failed_item_reasons(session, review_id=review_id)
    said = f"decided by {actor} at the cap: {reason.strip()}"
    note = review_note(outcome, progress, failed, judged=judged, ended="", decided=said)
    return close_review(
        session,
        review=review,
        outcome=outcome,
        note=note,
        failed=failed,
        judged=judged,
        now=now,
        actor=actor,
        extra={"decided_by": actor, "decision_reason": reason.strip()},
    )
