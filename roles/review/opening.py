"""Opening the review of a change's current evaluation: once, with the sampled items.

    review = start_review(session, change_id=7, now=utcnow())  # the pipeline's one call

``start_review`` reads the prompt's policy, samples the candidate's and the baseline's
stored results and opens the review; ``open_review`` is its last step, for callers that
draw the picks themselves. Both are idempotent per evaluation (the handoff into review).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from roles.data_scientist.review_sample import Pick
from roles.errors import PolicyError
from roles.ledger import Review, ReviewItem
from roles.review.current import review_of
from roles.review.inputs import (
    policy_for_change,
    review_source,
    sample_for_review,
)
from roles.review.policy import ReviewPolicy


def start_review(
    session: Session, *, change_id: int, now: datetime, seed: int | None = None
) -> Review:
    """The review of the change's current evaluation, opened now if it has none.

    Args:
        seed: for the sample; by default the id of the handoff into review, so a restarted
            flow would draw the same sample (it finds the review first anyway).
    """
    source = review_source(session, change_id=change_id)
    found = review_of(session, handoff_id=source.handoff_id)
    if found is not None:
        return found
    policy = policy_for_change(session, change_id=change_id)
    seed = source.handoff_id if seed is None else seed
    drawn = sample_for_review(session, source=source, policy=policy, seed=seed)
    return open_review(
        session,
        change_id=change_id,
        picks=drawn.picks,
        strata=drawn.strata,
        policy=policy,
        now=now,
        seed=seed,
    )


def open_review(
    session: Session,
    *,
    change_id: int,
    picks: list[Pick],
    policy: ReviewPolicy,
    now: datetime,
    seed: int = 0,
    strata: dict[str, list[str]] | None = None,
) -> Review:
    """The review of the change's current evaluation, opened with ``picks`` if it has none.

    ``strata`` (stratum → its item ids) makes the picks with a stratum the estimate's
    sample; without, the review is a census of its picks (their fail share is the rate).

    Idempotent: a second call for the same evaluation (a restarted flow, a second
    process) returns the review that exists, whatever picks it was given.
    """
    source = review_source(session, change_id=change_id)
    existing = review_of(session, handoff_id=source.handoff_id)
    if existing is not None:
        return existing
    if not picks:
        raise PolicyError(f"change {change_id}: the candidate run has no items to review")
    review = Review(
        change_id=change_id,
        handoff_id=source.handoff_id,
        candidate_run_id=source.candidate_run_id,
        baseline_run_id=source.baseline_run_id,
        items_needed=sum(p.stratum is not None for p in picks) if strata else len(picks),
        votes_per_item=policy.votes_per_item,
        min_experts=policy.min_experts,
        max_failure_rate=policy.max_failure_rate,
        batch_size=policy.batch if strata else 0,
        max_items=policy.max_items if strata else 0,
        confidence=policy.confidence,
        strata=strata,
        decider=policy.decider,
        fail_categories=list(policy.fail_categories),
        seed=seed,
        deadline_at=now + timedelta(hours=policy.deadline_hours),
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(review)
            session.flush()
            assert review.id is not None
            for position, pick in enumerate(picks, start=1):
                session.add(
                    ReviewItem(
                        review_id=review.id,
                        item_id=pick.item_id,
                        position=position,
                        strategy=pick.strategy,
                        reason=pick.reason,
                        stratum=pick.stratum,
                    )
                )
            session.flush()
    except IntegrityError:  # another process opened it at the same moment
        found = review_of(session, handoff_id=source.handoff_id)
        assert found is not None
        return found
    return review
