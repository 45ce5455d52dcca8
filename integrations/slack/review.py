"""The messages an opened review sends: its parent in the review channel, one blind reply
per sampled item. Written in the transaction that opened the review.

    with session_scope() as session:
        review = start_review(session, change_id=7, now=utcnow())
        post_opened_review(session, review=review, run_url="http://127.0.0.1:4200/runs/...")
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from integrations.slack.blocks import ReviewItemView, ReviewSummary
from integrations.slack.post import post_review
from roles.clock import readable
from roles.ledger import Member, OutboxMessage, Review, ReviewItem
from roles.review.views import item_view
from roles.transitions import get_change


def headline(reasons: list[str]) -> str:
    """The gate's target line, as a PM reads it, or the first reason."""
    for reason in reasons:
        if "target" in reason:
            return reason
    return reasons[0] if reasons else "no verdict recorded"


def post_opened_review(
    session: Session, *, review: Review, reasons: list[str], run_url: str | None = None
) -> tuple[OutboxMessage, list[OutboxMessage]]:
    assert review.id is not None
    change = get_change(session, review.change_id)
    author = session.get(Member, change.author_id)
    items = session.exec(
        select(ReviewItem)
        .where(ReviewItem.review_id == review.id)
        .order_by(col(ReviewItem.position))
    ).all()
    views = [item_view(session, review_item_id=i.id or 0) for i in items]
    summary = ReviewSummary(
        change_id=review.change_id,
        prompt=views[0].prompt if views else "",
        author=author.handle if author else "?",
        author_slack_id=author.slack_user_id if author else None,
        note=change.note,
        headline=headline(reasons),
        items=len(views),
        run_url=run_url,
        deadline=readable(review.deadline_at),
        review_id=review.id,
    )
    return post_review(
        session,
        summary=summary,
        items=[
            ReviewItemView(
                sample_id=v.review_item_id,
                item_id=v.item_id,
                position=v.position,
                total=v.items_total,
                input=_text(v.input),
                expected=None if v.expected is None else _text(v.expected),
                output=v.output if v.output is not None else f"(error: {v.error})",
                baseline=v.baseline_output,
                voters=v.votes,
            )
            for v in views
        ],
    )


def _text(value: object) -> str:
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value.values())))
    if isinstance(value, dict | list):
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)
