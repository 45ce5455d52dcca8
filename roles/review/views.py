"""What an expert sees of a sampled item: blind until they have voted on it.

Before an expert's own vote the view holds the item's text (input, expected, the
candidate's output, the baseline's when it differs) and how many have voted, never the
split, a judge verdict, a scorer result or why the item was sampled: independent labels
are what the judge is calibrated on. After their vote, or once the review has closed,
``revealed`` holds those too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from roles.errors import NotFoundError
from roles.ledger import (
    ChangeRequest,
    DatasetItem,
    EvalResult,
    EvalRun,
    EvalScore,
    Member,
    Prompt,
    Review,
    ReviewItem,
    VotePublic,
)
from roles.ledger.review import SAMPLE
from roles.review.ended import review_ended
from roles.review.tally import counted_verdicts, counted_votes, get_review, review_items
from roles.roster import require_member
from roles.states import Role, State


class Revealed(BaseModel):
    model_config = ConfigDict(frozen=True)

    strategy: str
    reason: str
    scores: dict[str, dict[str, Any]]  # the candidate's scorer and judge results
    votes: list[dict[str, Any]]  # the counted votes: expert, verdict, category, reason


class ItemView(BaseModel):
    model_config = ConfigDict(frozen=True)

    review_item_id: int
    review_id: int
    change_id: int
    prompt: str
    position: int
    items_total: int
    item_id: str
    input: dict[str, Any]
    expected: Any
    output: str | None
    error: str | None
    baseline_output: str | None  # only when it differs from the candidate's
    votes: int  # how many experts' votes count on this item (never how they voted)
    status: str
    deadline_at: datetime
    fail_categories: list[str]
    # Chosen on purpose (a judge's doubt, a scorer's failure …), for learning: its votes are
    # never counted in the estimate. Said, never why, so the vote stays blind.
    pick: bool = False
    batch: int = 0  # the look that added it (0: the first)
    your_vote: VotePublic | None = None
    revealed: Revealed | None = None


def item_view(session: Session, *, review_item_id: int, viewer: str | None = None) -> ItemView:
    """One sampled item as ``viewer`` (a handle, or nobody) may see it now."""
    item = session.get(ReviewItem, review_item_id)
    if item is None:
        raise NotFoundError(f"there is no review item {review_item_id}")
    review = get_review(session, item.review_id)
    viewer_id = _member_id(session, viewer)
    return _views(session, review=review, items=[item], viewer_id=viewer_id)[0]


def waiting_items(session: Session, *, actor: str | None, now: datetime) -> list[ItemView]:
    """Items that still want a vote, on open reviews before their deadline whose change
    waits for them (not withdrawn, not evaluated again); for an expert, those that want
    *their* vote, in reviews of changes they did not write.

    An item wants a vote while it has fewer counted votes than the policy asks. A review
    whose items all have theirs but which lacks distinct experts wants one vote from an
    expert who has not voted on it yet: it offers its first item with the fewest votes,
    the vote that completes it (offering them all, a second vote would be refused: the
    first concluded the review).
    """
    viewer_id = None
    if actor is not None:
        member, _ = require_member(session, handle=actor, roles=(Role.EXPERT,))
        viewer_id = member.id
    reviews = session.exec(
        select(Review)
        .join(ChangeRequest, col(ChangeRequest.id) == col(Review.change_id))
        .where(Review.status == "open")
        .where(col(Review.deadline_at) > now)
        .where(ChangeRequest.state == State.IN_REVIEW.value)
        .where(col(ChangeRequest.author_id) != (viewer_id or -1))
        .order_by(col(Review.id))
    ).all()
    views: list[ItemView] = []
    for review in reviews:
        if review_ended(session, review=review) is not None:  # a newer review replaced it
            continue
        wanted = _wanted(session, review=review, viewer_id=viewer_id)
        views += _views(session, review=review, items=wanted, viewer_id=viewer_id)
    return views


def _wanted(session: Session, *, review: Review, viewer_id: int | None) -> list[ReviewItem]:
    counted = counted_verdicts(session, review_id=review.id or 0)
    experts = {member for votes in counted.values() for member in votes}
    open_to_viewer = [
        item
        for item in review_items(session, review_id=review.id or 0)
        if viewer_id is None or viewer_id not in counted.get(item.id or 0, {})
    ]
    lacking = [
        item
        for item in open_to_viewer
        if len(counted.get(item.id or 0, {})) < review.votes_per_item
    ]
    if lacking:
        return lacking
    new_expert = viewer_id is None or viewer_id not in experts
    if len(experts) < review.min_experts and new_expert and open_to_viewer:
        return [min(open_to_viewer, key=lambda i: (len(counted.get(i.id or 0, {})), i.position))]
    return []


def _member_id(session: Session, handle: str | None) -> int | None:
    if handle is None:
        return None
    return session.exec(select(Member.id).where(Member.handle == handle)).first()


def _views(
    session: Session, *, review: Review, items: list[ReviewItem], viewer_id: int | None
) -> list[ItemView]:
    assert review.id is not None
    ids = [i.item_id for i in items]
    change = session.get(ChangeRequest, review.change_id)
    prompt = session.get(Prompt, change.prompt_id) if change else None
    candidate = _results(session, run_id=review.candidate_run_id, item_ids=ids)
    baseline = (
        _results(session, run_id=review.baseline_run_id, item_ids=ids)
        if review.baseline_run_id
        else {}
    )
    texts = _dataset_items(session, review=review, item_ids=ids)
    counted = counted_votes(session, review_id=review.id, item_ids=[i.id or 0 for i in items])
    revealing = review.status != "open" or any(
        viewer_id in counted.get(i.id or 0, {}) for i in items
    )
    handles = dict(session.exec(select(Member.id, Member.handle)).all()) if revealing else {}
    total = len(session.exec(select(ReviewItem.id).where(ReviewItem.review_id == review.id)).all())
    views = []
    for item in items:
        votes = counted.get(item.id or 0, {})
        mine = votes.get(viewer_id) if viewer_id is not None else None
        result, before = candidate.get(item.item_id), baseline.get(item.item_id)
        output = result.output if result else None
        shown = mine is not None or review.status != "open"
        data = texts.get(item.item_id)
        views.append(
            ItemView(
                review_item_id=item.id or 0,
                review_id=review.id,
                change_id=review.change_id,
                prompt=prompt.name if prompt else "?",
                position=item.position,
                items_total=total,
                item_id=item.item_id,
                input=dict(data.input) if data else {},
                expected=data.expected if data else None,
                output=output,
                error=result.error if result else None,
                baseline_output=before.output if before and before.output != output else None,
                votes=len(votes),
                status=review.status,
                deadline_at=review.deadline_at,
                fail_categories=list(review.fail_categories),
                pick=review.strata is not None and item.strategy != SAMPLE,
                batch=item.batch,
                your_vote=VotePublic.model_validate(mine) if mine else None,
                revealed=_reveal(session, item, result, votes, handles) if shown else None,
            )
        )
    return views


def _results(session: Session, *, run_id: int, item_ids: list[str]) -> dict[str, EvalResult]:
    rows = session.exec(
        select(EvalResult)
        .where(EvalResult.run_id == run_id)
        .where(col(EvalResult.item_id).in_(item_ids))
    )
    return {r.item_id: r for r in rows}


def _dataset_items(
    session: Session, *, review: Review, item_ids: list[str]
) -> dict[str, DatasetItem]:
    run = session.get(EvalRun, review.candidate_run_id)
    if run is None:
        return {}
    rows = session.exec(
        select(DatasetItem)
        .where(DatasetItem.dataset_id == run.dataset_id)
        .where(col(DatasetItem.item_id).in_(item_ids))
    )
    return {r.item_id: r for r in rows}


def _reveal(
    session: Session,
    item: ReviewItem,
    result: EvalResult | None,
    votes: dict[int, Any],
    handles: dict[int | None, str],
) -> Revealed:
    scores = (
        session.exec(select(EvalScore).where(EvalScore.result_id == result.id)).all()
        if result
        else []
    )
    return Revealed(
        strategy=item.strategy,
        reason=item.reason,
        scores={
            s.metric: {
                "value": s.value,
                "passed": s.passed,
                "unscored": s.unscored,
                "reason": s.reason,
                "explanation": s.explanation,
            }
            for s in scores
        },
        votes=[
            {
                "expert": handles.get(v.member_id),
                "verdict": v.verdict,
                "category": v.category,
                "reason": v.reason,
            }
            for v in votes.values()
        ],
    )
