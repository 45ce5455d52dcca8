"""The experts' act: a vote on a sampled item; the vote that completes a review concludes
it, and the change's run wakes to act on the outcome.

    outcome = vote(Door.cli("omar"), review_item_id=3, verdict="fail", category="wrong")
"""

from __future__ import annotations

from integrations.actions.door import Door, acting
from integrations.slack.notices import after_vote
from roles.clock import utcnow
from roles.expert import VoteOutcome, vote_and_conclude


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
    if outcome.conclusion is not None:
        door.wake(outcome.conclusion.change_id, reason=f"review {outcome.conclusion.outcome}")
    return outcome
