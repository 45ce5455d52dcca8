"""Concluding a review: quorum → awaiting_approval, too many fails → changes_requested with
the reasons, a passed deadline → "review expired", and concurrent votes concluding once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from review_support import (
    NOW,
    add_experts,
    change_in_review,
    exact,
    open_census_review,
    open_sampled_review,
)
from sqlmodel import Session, select

from integrations.db import get_engine
from roles.errors import PolicyError
from roles.expert import (
    ReviewConclusion,
    cast_vote,
    conclude_review,
    expire_due_reviews,
    review_progress,
)
from roles.ledger import ChangeRequest, Handoff, Review, Vote
from roles.review.policy import ReviewPolicy
from roles.review.tally import review_items
from roles.states import State
from roles.transitions import transition

# Four items and no more. The tests of a decided review open it as a census of four (its
# fail share is the rate, decided exactly against max_failure_rate 0.2): a stratified
# sample of four labels out of 30 items cannot decide, it asks for more.
FOUR = exact(4)


def vote_all(session: Session, review: Review, verdicts: dict[str, str], *, expert_of) -> None:  # type: ignore[no-untyped-def]
    """Each sampled item voted by ``expert_of(position)``: fail for items in ``verdicts``."""
    for item in review_items(session, review_id=review.id):
        verdict = verdicts.get(item.item_id, "pass")
        cast_vote(
            session,
            review_item_id=item.id,
            actor=expert_of(item.position),
            verdict=verdict,
            category="wrong" if verdict == "fail" else None,
            reason=f"{item.item_id} is not an account ticket" if verdict == "fail" else None,
            now=NOW,
        )
    session.commit()


def alternate(position: int) -> str:
    return "omar" if position % 2 else "ines"


def moves(session: Session, change_id: int) -> list[Handoff]:
    session.expire_all()
    return list(
        session.exec(
            select(Handoff)
            .where(Handoff.change_id == change_id)
            .where(Handoff.from_state == State.IN_REVIEW.value)
        )
    )


def test_quorum_with_few_fails_moves_the_change_to_awaiting_approval(session: Session) -> None:
    change_id = change_in_review(session)
    review = open_census_review(session, change_id, FOUR)
    assert conclude_review(session, review_id=review.id, now=NOW) is None  # nobody voted yet
    vote_all(session, review, {}, expert_of=lambda p: "omar")
    progress = review_progress(session, review_id=review.id)
    assert progress.items_voted == 4 and not progress.complete  # one expert is not enough
    assert conclude_review(session, review_id=review.id, now=NOW) is None
    vote_all(session, review, {}, expert_of=lambda p: "ines")
    conclusion = conclude_review(session, review_id=review.id, now=NOW)
    session.commit()
    assert conclusion is not None and conclusion.outcome == "passed"
    assert conclusion.state == State.AWAITING_APPROVAL.value
    [handoff] = moves(session, change_id)
    assert handoff.to_state == "awaiting_approval" and handoff.note.startswith("review passed")
    assert handoff.payload["review_id"] == review.id
    again = conclude_review(session, review_id=review.id, now=NOW)
    assert again is not None and not again.concluded_now and again.outcome == "passed"
    assert len(moves(session, change_id)) == 1
    session.refresh(review)
    assert (review.status, review.outcome) == ("complete", "passed")


def test_too_many_fails_request_changes_with_the_failed_items_and_reasons(
    session: Session,
) -> None:
    change_id = change_in_review(session)
    review = open_census_review(session, change_id, FOUR)
    items = review_items(session, review_id=review.id)
    failing = {items[0].item_id: "fail", items[1].item_id: "fail"}
    vote_all(session, review, failing, expert_of=alternate)
    conclusion = conclude_review(session, review_id=review.id, now=NOW)
    session.commit()
    assert conclusion is not None and conclusion.outcome == "failed"
    assert conclusion.state == State.CHANGES_REQUESTED.value
    [handoff] = moves(session, change_id)
    assert handoff.note.startswith("review failed: failure rate 0.50 (0.50–0.50) from 4 labels")
    assert "at most 0.20 tolerated" in handoff.note
    for item_id in failing:
        assert f"{item_id}: wrong — {item_id} is not an account ticket" in handoff.note
    assert {f["item_id"] for f in handoff.payload["failed_items"]} == set(failing)
    assert handoff.payload["failed_items"][0]["fails"][0]["expert"] in {"omar", "ines"}


def test_a_failure_rate_within_policy_passes(session: Session) -> None:
    change_id = change_in_review(session)
    # a census of five: one fail is a rate of exactly 0.2, at the tolerable rate
    review = open_census_review(session, change_id, exact(5, max_failure_rate=0.2))
    first = review_items(session, review_id=review.id)[0]
    vote_all(session, review, {first.item_id: "fail"}, expert_of=alternate)
    conclusion = conclude_review(session, review_id=review.id, now=NOW)
    assert conclusion is not None and conclusion.outcome == "passed"


def test_an_expired_deadline_requests_changes_and_closes_the_review(session: Session) -> None:
    change_id = change_in_review(session)
    review = open_sampled_review(session, change_id, FOUR)
    first = review_items(session, review_id=review.id)[0]
    cast_vote(session, review_item_id=first.id, actor="omar", verdict="pass", now=NOW)
    session.commit()
    assert expire_due_reviews(session, now=NOW + timedelta(hours=47)) == []
    [conclusion] = expire_due_reviews(session, now=NOW + timedelta(hours=48))
    session.commit()
    assert conclusion.outcome == "expired" and conclusion.state == "changes_requested"
    [handoff] = moves(session, change_id)
    assert handoff.note.startswith("review expired: 1/4 items have their votes, 1/2 experts")
    assert expire_due_reviews(session, now=NOW + timedelta(hours=49)) == []
    with pytest.raises(PolicyError, match="expired"):
        cast_vote(session, review_item_id=first.id, actor="ines", verdict="pass", now=NOW)


def test_a_withdrawn_change_cancels_its_review(session: Session) -> None:
    change_id = change_in_review(session)
    open_sampled_review(session, change_id, FOUR)
    transition(session, change_id=change_id, target=State.WITHDRAWN, actor="maya")
    session.commit()
    [conclusion] = expire_due_reviews(session, now=NOW + timedelta(days=3))
    assert conclusion.outcome == "cancelled" and conclusion.state == "withdrawn"


def together(*calls: Callable[[threading.Barrier], None]) -> None:
    """Run the calls in threads that meet at a shared barrier; re-raise what any raised."""
    barrier = threading.Barrier(len(calls))
    errors: list[BaseException] = []

    def run(call: Callable[[threading.Barrier], None]) -> None:
        try:
            call(barrier)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []


def test_concurrent_votes_count_once_each_and_conclude_exactly_once(session: Session) -> None:
    """Six experts vote on six items at the same moment, then all try to conclude."""
    experts = ["omar", "ines", "e3", "e4", "e5", "e6"]
    change_id = change_in_review(session)
    add_experts(session, *experts[2:])
    review = open_census_review(session, change_id, exact(6))  # six passes: decided
    items = review_items(session, review_id=review.id)
    outcomes: list[ReviewConclusion | None] = []
    completed: list[str] = []  # whose vote saw the review complete: exactly one

    def expert(handle: str, item_id: int) -> Callable[[threading.Barrier], None]:
        def act(barrier: threading.Barrier) -> None:
            with Session(get_engine()) as mine:
                barrier.wait(timeout=30)
                receipt = cast_vote(
                    mine, review_item_id=item_id, actor=handle, verdict="pass", now=NOW
                )
                if receipt.progress.complete:  # the last vote in concludes at once
                    completed.append(handle)
                    outcomes.append(conclude_review(mine, review_id=review.id, now=NOW))
                mine.commit()
            barrier.wait(timeout=30)
            with Session(get_engine()) as mine:  # and everyone tries again, together
                outcomes.append(conclude_review(mine, review_id=review.id, now=NOW))
                mine.commit()

        return act

    together(*(expert(h, i.id) for h, i in zip(experts, items, strict=True)))
    session.expire_all()
    assert len(session.exec(select(Vote)).all()) == 6
    progress = review_progress(session, review_id=review.id)
    assert (progress.votes, progress.experts, progress.complete) == (6, 6, True)
    assert len(completed) == 1
    assert sum(1 for o in outcomes if o is not None and o.concluded_now) == 1
    assert all(o is not None and o.outcome == "passed" for o in outcomes)
    assert len(moves(session, change_id)) == 1
    assert session.get(ChangeRequest, change_id).state == "awaiting_approval"


def test_a_double_click_is_kept_and_counted_once(session: Session) -> None:
    review = open_sampled_review(session, change_in_review(session), ReviewPolicy(items=2))
    item = review_items(session, review_id=review.id)[0]

    def click(verdict: str) -> Callable[[threading.Barrier], None]:
        def act(barrier: threading.Barrier) -> None:
            with Session(get_engine()) as mine:
                barrier.wait(timeout=30)
                category = "wrong" if verdict == "fail" else None
                cast_vote(
                    mine, review_item_id=item.id, actor="omar", verdict=verdict,
                    category=category, now=NOW,
                )  # fmt: skip
                mine.commit()

        return act

    together(click("pass"), click("fail"))
    session.expire_all()
    assert len(session.exec(select(Vote)).all()) == 2
    progress = review_progress(session, review_id=review.id)
    assert (progress.votes, progress.experts, progress.items_voted) == (1, 1, 1)


def test_a_review_that_cannot_reach_its_quorum_says_so(session: Session) -> None:
    """The author is one of only two experts: one expert may vote, the policy needs two."""
    from roles.expert import review_progress

    change_id = change_in_review(session, author="omar", wrong={"t01"})  # omar is an expert
    review = open_sampled_review(session, change_id)
    progress = review_progress(session, review_id=review.id or 0)
    assert (progress.eligible_experts, progress.min_experts) == (1, 2)
    assert not progress.quorum_reachable
    assert "cannot complete before its deadline" in progress.waiting_message()
    other = change_in_review(session, wrong={"t01"}, variant="b")  # maya's: both may vote
    assert review_progress(
        session, review_id=open_sampled_review(session, other).id or 0
    ).quorum_reachable
