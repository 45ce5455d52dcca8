"""Whether a review still waits for votes: not once its change has moved on without it.

A review belongs to its change's current evaluation. Once the change leaves ``in_review``
by another door than the review's own conclusion (withdrawn, or moved on by an admin), or
is evaluated again (a newer review replaces it), nobody may vote on it: ``review list``
offers it no more, and it closes as cancelled (``conclusion.close_review_for_end``, and
the deadline check for any that the move itself did not close).
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from roles.ledger import Handoff, Member, Review
from roles.review.current import review_handoff
from roles.states import State
from roles.transitions import get_change


def review_ended(session: Session, *, review: Review) -> str | None:
    """Why nobody may vote on ``review`` any more, or None while its change waits for it.

    >>> review_ended(session, review=review)  # doctest: +SKIP
    'change 2 was withdrawn by maya: wrong dataset'
    """
    change = get_change(session, review.change_id)
    latest = review_handoff(session, change_id=review.change_id)
    if change.state == State.IN_REVIEW.value:
        if latest is None or latest.id == review.handoff_id:
            return None
        return f"change {review.change_id} was evaluated again: a newer review replaces this one"
    left = session.exec(
        select(Handoff)
        .where(Handoff.change_id == review.change_id)
        .where(col(Handoff.id) > review.handoff_id)
        .order_by(col(Handoff.id))
    ).first()
    if left is None:  # not through transition(), which records every move
        return f"change {review.change_id} is {change.state}"
    who = session.get(Member, left.actor_id)
    moved = "withdrawn" if left.to_state == State.WITHDRAWN.value else f"moved to {left.to_state}"
    reason = f": {left.note}" if left.note else ""
    return f"change {review.change_id} was {moved} by {who.handle if who else '?'}{reason}"
