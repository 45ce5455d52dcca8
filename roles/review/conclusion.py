"""Closing a review: quorum → the change moves on (or back, with the experts' reasons);
a deadline passed first → back to the author, "review expired"; its change ended or was
evaluated again first → cancelled, saying why (``close_review_for_end``).

Each is made once: the review's row is taken before it is read, and the change's
transition (the automation's, ``promptloop``) is conditional on its state.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import exists, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from roles.clock import readable
from roles.errors import ConflictError, PolicyError
from roles.ledger import ChangeRequest, Handoff, Review
from roles.ledger.review import ReviewOutcome
from roles.review.claim import take_open
from roles.review.ended import review_ended
from roles.review.tally import (
    ReviewProgress,
    failed_item_reasons,
    get_review,
    review_progress,
)
from roles.roster import SYSTEM_HANDLE
from roles.states import State
from roles.transitions import get_change, transition

WAITING = ("open", "undecided")  # a review not concluded yet
if TYPE_CHECKING:  # the estimate's statistics load only when a review is judged
    from roles.review.looks import Judged

_STATUS: dict[ReviewOutcome, str] = {
    "passed": "complete",
    "failed": "complete",
    "expired": "expired",
    "cancelled": "cancelled",
}


class ReviewConclusion(BaseModel):
    model_config = ConfigDict(frozen=True)

    review_id: int
    change_id: int
    outcome: ReviewOutcome
    state: str  # the change's state now
    note: str
    failed_items: list[dict[str, Any]]
    progress: ReviewProgress
    concluded_now: bool  # False: it had been concluded before (by this or another process)
    estimate: str | None = None  # the failure rate the review estimated, as one line


def conclude_review(
    session: Session, *, review_id: int, now: datetime, why: str | None = None
) -> ReviewConclusion | None:
    """Conclude the review if it is complete or past its deadline; None while it waits.

    Complete, with the bound on the candidate's failure rate at or below the tolerable rate
    → the change goes to awaiting_approval; above it → changes_requested, the failed items
    and their reasons in the handoff (``roles.review.looks`` judges; a bound that cannot
    decide yet asks for more labels, or at the cap for the decider's call, and the review
    waits). Not decided by the deadline → changes_requested, "review expired". A change that left
    in_review meanwhile (withdrawn) or was evaluated again cancels its review (``why``:
    what its note says, by default the move that ended it). Concluded before → what was
    decided.
    """
    review = get_review(session, review_id)
    session.refresh(review)
    if review.status not in WAITING:
        return _recorded(session, review)
    try:
        take_open(session, review=review, now=now, statuses=WAITING)
    except PolicyError:  # concluded by someone else since we looked
        return _recorded(session, review)
    progress = review_progress(session, review_id=review_id)
    outcome: ReviewOutcome
    ended = review_ended(session, review=review)
    from roles.review.looks import judge_review

    judged = judge_review(session, review) if progress.complete else None
    if ended is not None:
        outcome = "cancelled"
    elif judged is not None and judged.decision in ("pass", "fail"):
        outcome = "passed" if judged.decision == "pass" else "failed"
    elif now >= review.deadline_at:
        outcome = "expired"
    else:
        return None  # more labels, or the decider's call, before the deadline
    failed = failed_item_reasons(session, review_id=review_id) if outcome == "failed" else []
    note = review_note(outcome, progress, failed, judged=judged, ended=why or ended or "")
    return close_review(
        session, review=review, outcome=outcome, note=note, failed=failed, judged=judged,
        now=now, actor=SYSTEM_HANDLE,
    )  # fmt: skip


def close_review(
    session: Session,
    *,
    review: Review,
    outcome: ReviewOutcome,
    note: str,
    failed: list[dict[str, Any]],
    judged: Judged | None,
    now: datetime,
    actor: str,
    extra: dict[str, Any] | None = None,
) -> ReviewConclusion:
    """The review closed with ``outcome``, and (unless cancelled) the change moved on by
    ``actor`` in the same transaction, the estimate in the handoff."""
    assert review.id is not None
    review_id = review.id
    progress = review_progress(session, review_id=review_id)
    review.status, review.outcome = _STATUS[outcome], outcome
    review.concluded_at = review.updated_at = now
    session.add(review)
    session.flush()
    if outcome != "cancelled":
        transition(
            session,
            change_id=review.change_id,
            target=State.AWAITING_APPROVAL if outcome == "passed" else State.CHANGES_REQUESTED,
            actor=actor,
            note=note,
            payload={
                "review_id": review_id,
                "outcome": outcome,
                "failed_items": failed,
                "progress": progress.model_dump(mode="json"),
                **({"estimate": estimate_payload(judged)} if judged is not None else {}),
                **(extra or {}),
            },
            expected=State.IN_REVIEW,
        )
    return ReviewConclusion(
        review_id=review_id,
        change_id=review.change_id,
        outcome=outcome,
        state=get_change(session, review.change_id).state,
        note=note,
        failed_items=failed,
        progress=review_progress(session, review_id=review_id),
        concluded_now=True,
        estimate=judged.summary() if judged is not None else None,
    )


def review_note(
    outcome: ReviewOutcome,
    progress: ReviewProgress,
    failed: list[dict[str, Any]],
    *,
    judged: Judged | None,
    ended: str,
    decided: str | None = None,
) -> str:
    """What the handoff out of review says; ``decided``: the decider's call and reason."""
    estimate = judged.summary() if judged is not None else f"{progress.failed_items} items failed"
    by = f" ({decided})" if decided else ""
    if outcome == "passed":
        seen = f"; failed items: {failed_reasons(failed)}" if decided and failed else ""
        return f"review passed{by}: {estimate}, {progress.experts} experts{seen}"
    if outcome == "failed":
        return f"review failed{by}: {estimate}: {failed_reasons(failed)}"
    if outcome == "expired":
        return f"review expired: {progress.headline()} by the deadline {readable(progress.deadline_at)}"
    return f"review cancelled: {ended}"


def failed_reasons(failed: list[dict[str, Any]]) -> str:
    """``item-3: wrong — it is a billing ticket; item-9: tone``."""
    return "; ".join(
        f"{item['item_id']}: "
        + ", ".join(
            dict.fromkeys(  # two experts saying the same thing: said once
                f"{f['category'] or 'fail'}" + (f" — {f['reason']}" if f["reason"] else "")
                for f in item["fails"]
            )
        )
        for item in failed
    )


def estimate_payload(judged: Judged) -> dict[str, Any]:
    """What the handoff keeps of the estimate: the rate, its bounds, the labels, per stratum."""
    e = judged.estimate
    return {
        "rate": round(e.rate, 4),
        "lower": round(e.lower, 4),
        "upper": round(e.upper, 4),
        "alpha": round(e.alpha, 6),
        "labels": e.labels,
        "items": e.total,
        "errors": judged.tally.errors,
        "max_failure_rate": judged.max_failure_rate,
        "decision": judged.decision,
        "strata": [
            {
                "stratum": s.stratum,
                "items": s.population,
                "labelled": s.labelled,
                "failed": s.failed,
            }
            for s in judged.tally.strata
        ],
    }


def _recorded(session: Session, review: Review) -> ReviewConclusion:
    """What was decided when the review closed (read back, for idempotent callers)."""
    assert review.id is not None and review.outcome is not None
    handoffs = session.exec(
        select(Handoff)
        .where(Handoff.change_id == review.change_id)
        .where(Handoff.from_state == State.IN_REVIEW.value)
        .order_by(col(Handoff.id).desc())
    )
    handoff = next((h for h in handoffs if h.payload.get("review_id") == review.id), None)
    note = (handoff.note or "") if handoff else f"review {review.outcome}"
    if review.outcome == "cancelled":
        note = f"review cancelled: {review_ended(session, review=review)}"
    return ReviewConclusion(
        review_id=review.id,
        change_id=review.change_id,
        outcome=review.outcome,
        state=get_change(session, review.change_id).state,
        note=note,
        failed_items=list(handoff.payload.get("failed_items", [])) if handoff else [],
        progress=review_progress(session, review_id=review.id),
        concluded_now=False,
    )


def close_review_for_end(
    session: Session, *, change_id: int, now: datetime, why: str | None = None
) -> list[ReviewConclusion]:
    """Close every open review of change ``change_id``, which has ended or left review
    (withdrawn, moved on by an admin): cancelled, nobody's queue offers its items again.

    Call it in the transaction that ended the change, after the move; the caller writes
    the messages (``integrations.slack.review.close_ended_review`` does both). A review
    closed already (by this or another process) is left as it is and not returned.

    Args:
        why: what its note says (default: the move, e.g. ``change 2 was withdrawn by
            maya: wrong dataset``).

    Raises:
        PolicyError: the change still waits for this review: its votes or its deadline
            close it.
    """
    reviews = session.exec(
        select(Review)
        .where(Review.change_id == change_id)
        .where(col(Review.status).in_(WAITING))
        .order_by(col(Review.id))
    ).all()
    closed = []
    for review in reviews:
        assert review.id is not None
        if review_ended(session, review=review) is None:
            raise PolicyError(
                f"change {change_id} is in review: review {review.id} closes with its votes "
                "or its deadline"
            )
        conclusion = conclude_review(session, review_id=review.id, now=now, why=why)
        if conclusion is not None and conclusion.concluded_now:
            closed.append(conclusion)
    return closed


def expire_due_reviews(session: Session, *, now: datetime) -> list[ReviewConclusion]:
    """Conclude every open review whose deadline has come, and cancel every open review
    whose change has ended or was evaluated again (the scheduler's deadline check; every
    ``review`` command runs it first).

    A review that another process concludes or whose change someone moves at the same
    moment is left to them (its savepoint rolls back); the next check sees it closed.
    """
    newer = aliased(Review)
    due = session.exec(
        select(Review.id)
        .join(ChangeRequest, col(ChangeRequest.id) == col(Review.change_id))
        .where(col(Review.status).in_(WAITING))
        .where(
            or_(
                col(Review.deadline_at) <= now,
                col(ChangeRequest.state) != State.IN_REVIEW.value,
                exists().where(
                    col(newer.change_id) == col(Review.change_id), col(newer.id) > col(Review.id)
                ),
            )
        )
        .order_by(col(Review.id))
    ).all()
    concluded = []
    for review_id in due:
        assert review_id is not None
        try:
            with session.begin_nested():
                conclusion = conclude_review(session, review_id=review_id, now=now)
        except ConflictError:
            continue
        if conclusion is not None and conclusion.concluded_now:
            concluded.append(conclusion)
    return concluded
