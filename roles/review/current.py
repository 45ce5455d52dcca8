"""The review a change is at: the handoff that put it in review, and that handoff's review.

Small on purpose: ``review list``, ``change show`` and the next-step hints read these
without loading how a review is sampled or opened.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from roles.ledger import Handoff, Review
from roles.states import State


def review_handoff(session: Session, *, change_id: int) -> Handoff | None:
    """The change's latest move into in_review (whatever its state is now)."""
    return session.exec(
        select(Handoff)
        .where(Handoff.change_id == change_id)
        .where(Handoff.to_state == State.IN_REVIEW.value)
        .order_by(col(Handoff.id).desc())
    ).first()


def review_of(session: Session, *, handoff_id: int) -> Review | None:
    return session.exec(select(Review).where(Review.handoff_id == handoff_id)).first()


def current_review(session: Session, *, change_id: int) -> Review | None:
    """The review of the change's latest evaluation, if one was opened (also after it
    concluded and the change moved on)."""
    handoff = review_handoff(session, change_id=change_id)
    return None if handoff is None else review_of(session, handoff_id=handoff.id or 0)
