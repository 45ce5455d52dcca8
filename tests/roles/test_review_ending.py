"""A review whose change ended closes, says why and leaves every queue; the queue offers an
expert only the items that still want their vote (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from review_support import NOW, change_in_review, exact, open_sampled_review
from sqlmodel import Session, select

from roles.errors import PolicyError
from roles.evaluation.change import conclude_evaluation
from roles.expert import (
    cast_vote,
    close_review_for_end,
    expire_due_reviews,
    vote_and_conclude,
)
from roles.ledger import Review, Vote
from roles.pm import withdraw_change
from roles.review.current import review_handoff
from roles.review.policy import ReviewPolicy
from roles.review.tally import review_items
from roles.review.views import waiting_items
from roles.states import State
from roles.transitions import transition

FOUR = exact(4)  # the candidate is right on every item: one stratum, four of its items


def item_ids(session: Session, review: Review) -> list[int]:
    return [i.id for i in review_items(session, review_id=review.id or 0) if i.id is not None]


def queued(session: Session, actor: str | None) -> list[int]:
    session.expire_all()
    return [v.review_item_id for v in waiting_items(session, actor=actor, now=NOW)]


def test_a_withdrawal_closes_the_review_says_why_and_clears_every_queue(session: Session) -> None:
    change_id = change_in_review(session)
    review = open_sampled_review(session, change_id, FOUR)
    first = item_ids(session, review)[0]
    cast_vote(session, review_item_id=first, actor="omar", verdict="pass", now=NOW)
    session.commit()
    assert len(queued(session, "ines")) == 3 and len(queued(session, None)) == 3

    withdraw_change(session, change_id=change_id, author="maya", note="wrong dataset")
    [closed] = close_review_for_end(session, change_id=change_id, now=NOW)
    session.commit()

    assert (closed.outcome, closed.state, closed.review_id) == ("cancelled", "withdrawn", review.id)
    assert (
        closed.note == f"review cancelled: change {change_id} was withdrawn by maya: wrong dataset"
    )
    session.refresh(review)
    assert (review.status, review.outcome, review.concluded_at) == ("cancelled", "cancelled", NOW)
    assert queued(session, "ines") == [] and queued(session, "omar") == []
    assert queued(session, None) == []
    # once: a second call (the door retried, another process) closes nothing more
    assert close_review_for_end(session, change_id=change_id, now=NOW) == []
    assert expire_due_reviews(session, now=NOW) == []
    with pytest.raises(PolicyError, match="cancelled"):
        cast_vote(session, review_item_id=first, actor="ines", verdict="pass", now=NOW)
    session.rollback()
    assert len(session.exec(select(Vote)).all()) == 1  # the vote before the withdrawal stays


def test_an_admins_withdrawal_and_a_given_why(session: Session) -> None:
    change_id = change_in_review(session)
    open_sampled_review(session, change_id, FOUR)
    withdraw_change(session, change_id=change_id, author="lee", note="maya left the team")
    [closed] = close_review_for_end(
        session, change_id=change_id, now=NOW, why="withdrawn from Slack by lee"
    )
    assert closed.note == "review cancelled: withdrawn from Slack by lee"
    session.commit()
    # read back later, the note is the ledger's: who ended the change and why
    from roles.review.conclusion import conclude_review

    again = conclude_review(session, review_id=closed.review_id, now=NOW)
    assert again is not None and not again.concluded_now
    assert again.note == (
        f"review cancelled: change {change_id} was withdrawn by lee: maya left the team"
    )


def test_a_review_still_waited_for_is_not_closed_by_hand(session: Session) -> None:
    change_id = change_in_review(session)
    review = open_sampled_review(session, change_id, FOUR)
    with pytest.raises(PolicyError, match=f"change {change_id} is in review"):
        close_review_for_end(session, change_id=change_id, now=NOW)
    session.rollback()
    session.refresh(review)
    assert review.status == "open"
    assert (
        close_review_for_end(session, change_id=change_in_review(session, variant="b"), now=NOW)
        == []
    )


def test_the_deadline_check_closes_the_review_of_a_change_that_ended_without_it(
    session: Session,
) -> None:
    """A withdrawal through a door that did not close the review (or a ledger from before):
    its items leave the queues at once, and the next deadline check closes it, long before
    its deadline."""
    change_id = change_in_review(session)
    review = open_sampled_review(session, change_id, FOUR)
    transition(session, change_id=change_id, target=State.WITHDRAWN, actor="maya")
    session.commit()
    assert queued(session, "omar") == [] and queued(session, None) == []
    [closed] = expire_due_reviews(session, now=NOW)
    session.commit()
    assert closed.review_id == review.id and closed.outcome == "cancelled"
    assert closed.note == f"review cancelled: change {change_id} was withdrawn by maya"


def test_a_review_replaced_by_a_newer_evaluation_is_closed(session: Session) -> None:
    change_id = change_in_review(session)
    old = open_sampled_review(session, change_id, FOUR)
    runs = review_handoff(session, change_id=change_id).payload  # type: ignore[union-attr]
    # an admin sends it back by hand; revised, it is evaluated and in review again
    transition(
        session, change_id=change_id, target=State.CHANGES_REQUESTED, actor="lee", note="redo"
    )
    transition(session, change_id=change_id, target=State.SUBMITTED, actor="maya")
    transition(session, change_id=change_id, target=State.EVALUATING, actor="promptloop")
    conclude_evaluation(session, change_id=change_id, passed=True, reasons=[], payload=runs)
    session.commit()
    new = open_sampled_review(session, change_id, FOUR)
    session.commit()
    assert {v.review_id for v in waiting_items(session, actor="omar", now=NOW)} == {new.id}
    [closed] = expire_due_reviews(session, now=NOW)
    assert closed.review_id == old.id and "evaluated again" in closed.note
    assert session.get(Review, new.id).status == "open"  # type: ignore[union-attr]


def test_the_queue_offers_only_items_that_still_want_this_experts_vote(session: Session) -> None:
    """The default policy: one vote per item, two experts. Once omar has voted on every
    item, ines is offered one item: her vote completes the review (offered all ten, her
    second vote was refused, "review 1 is complete")."""
    review = open_sampled_review(session, change_in_review(session), ReviewPolicy())
    items = item_ids(session, review)
    for item in items:
        cast_vote(session, review_item_id=item, actor="omar", verdict="pass", now=NOW)
    session.commit()
    assert queued(session, "omar") == []
    offered = queued(session, "ines")
    assert offered == [items[0]]
    assert queued(session, None) == [items[0]]  # anyone's view: the one vote it wants
    outcome = vote_and_conclude(
        session, review_item_id=offered[0], actor="ines", verdict="pass", now=NOW
    )
    session.commit()
    assert outcome.conclusion is not None and outcome.conclusion.state == "awaiting_approval"
    assert queued(session, "ines") == [] and queued(session, None) == []


def test_items_short_of_votes_come_first_and_a_full_item_is_not_offered(session: Session) -> None:
    review = open_sampled_review(
        session, change_in_review(session), ReviewPolicy(items=3, votes_per_item=2, min_experts=2)
    )
    a, b, c = item_ids(session, review)
    for expert in ("omar", "ines"):
        cast_vote(session, review_item_id=a, actor=expert, verdict="pass", now=NOW)
    cast_vote(session, review_item_id=b, actor="omar", verdict="pass", now=NOW)
    session.commit()
    # a has its two votes: nobody is offered it; b wants one more (not omar's again)
    assert queued(session, "omar") == [c]
    assert queued(session, "ines") == [b, c]
    assert queued(session, None) == [b, c]
