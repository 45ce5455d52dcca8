"""The experts' act: a vote on a sampled item; the vote that completes a review concludes
it, and the change's run wakes to act on the outcome.

    outcome = vote(Door.cli("omar"), review_item_id=3, verdict="fail", category="wrong")
    decided = decide(Door.cli("dana"), review_id=4, decision="pass", reason="…")  # at the cap
"""

from __future__ import annotations

from integrations.actions.door import Door, acting
from integrations.slack.notices import after_expiry, after_vote
from roles.clock import utcnow
from roles.expert import ReviewConclusion, VoteOutcome, vote_and_conclude
from roles.review.decision import decide_review
from roles.review.tally import get_review


def vote(
    door: Door,
    *,
    review_item_id: int,
    verdict: str,
    category: str | None = None,
    reason: str | None = None,
) -> VoteOutcome:
    """Record the vote (voting again replaces it, history kept); the review's messages follow."""
    with acting(door) as session:
        outcome = vote_and_conclude(
            session,
            review_item_id=review_item_id,
            actor=door.handle(session),
            verdict=verdict,
            category=category,
            reason=reason,
            source=door.who.source,
            now=utcnow(),
        )
        after_vote(session, outcome)
        looked = outcome.look is not None and outcome.conclusion is None
        change_id = (
            get_review(session, outcome.receipt.progress.review_id).change_id if looked else None
        )
    if outcome.conclusion is not None:
        door.wake(outcome.conclusion.change_id, reason=f"review {outcome.conclusion.outcome}")
    elif change_id is not None:  # a look: the run's state message says what it waits for now
        door.wake(change_id, reason=f"review look: {outcome.look.judged.decision}")
    return outcome


def decide(door: Door, *, review_id: int, decision: str, reason: str) -> ReviewConclusion:
    """The decider's call on a review undecided at its cap; the thread and the author told."""
    with acting(door) as session:
        conclusion = decide_review(
            session,
            review_id=review_id,
            actor=door.handle(session),
            decision=decision,
            reason=reason,
            now=utcnow(),
        )
        after_expiry(session, [conclusion])  # the messages follow, as a close by the system
    door.wake(conclusion.change_id, reason=f"review {conclusion.outcome} by {door.who.handle}")
    return conclusion
