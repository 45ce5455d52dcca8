"""The messages an opened review sends: its parent in the review channel, one blind reply
per sampled item. Written in the transaction that opened the review.

    with session_scope() as session:
        review = start_review(session, change_id=7, now=utcnow())
        post_opened_review(session, review=review, run_url="http://127.0.0.1:4200/runs/...")
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from integrations.slack.blocks import ReviewItemView, ReviewSummary, review_item, review_parent
from integrations.slack.post import (
    link_in,
    post_replies,
    post_review,
    review_key,
    revise_message,
)
from roles.clock import readable
from roles.errors import NotFoundError
from roles.expert import ReviewConclusion, close_review_for_end
from roles.ledger import Member, OutboxMessage, Prompt, Review, ReviewItem, Vote
from roles.outbox import find_message
from roles.review.ended import review_ended
from roles.review.looks import judge_review, plan_line
from roles.review.tally import counted_votes
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
    return post_review(
        session,
        summary=_summary(session, review, reasons=reasons, run_url=run_url),
        items=_items(session, review),
    )


def post_added_items(
    session: Session, *, review: Review, added: Collection[int]
) -> list[OutboxMessage]:
    """The items a look added (review item ids), as replies in the review's thread; then
    every message of the review redrawn once (the parent's estimate so far, each item's
    "of N"). Nothing when the review has no thread."""
    assert review.id is not None
    parent = find_message(session, key=review_key(review.change_id, review_id=review.id))
    if parent is None:
        return []
    items = _items(session, review, only=added)
    replies = post_replies(
        session, parent=parent, items=items, change_id=review.change_id, review_id=review.id
    )
    refresh_review(session, review_id=review.id)
    return replies


def close_ended_review(
    session: Session, *, change_id: int, now: datetime, why: str | None = None
) -> list[ReviewConclusion]:
    """After a change ended (withdrawn, or any move out of review): its open review closed
    (``roles.expert.close_review_for_end``) and, in the same transaction, its messages
    updated: each item's outcome and why in place of its Pass/Fail buttons, and a reply
    in its thread saying the review was cancelled and why."""
    from integrations.slack.notices import after_expiry  # notices builds on this module

    closed = close_review_for_end(session, change_id=change_id, now=now, why=why)
    after_expiry(session, closed)
    return closed


def refresh_review(
    session: Session,
    *,
    review_id: int,
    run_url: str | None = None,
    items: Collection[int] | None = None,
) -> int:
    """Bring the review's messages up to the ledger after a vote or its conclusion: the
    parent's count of voted items, each item's count of voters, and, once the review is
    closed, each item's outcome in place of its buttons. Returns how many changed (a
    delivered message is then updated in Slack, never posted again).

    Args:
        items: while the review is open, only these items' replies (the ones a vote
            changed: the others show what they showed); every item's once it is closed.
    """
    review = session.get(Review, review_id)
    assert review is not None and review.id is not None
    if review.status == "open" and items is not None:
        views = _items(session, review, only=items)
        # The parent counts items with a vote: it changes only with an item's first one.
        parent_voted = _voted_items(session, review) if any(v.voters <= 1 for v in views) else None
    else:
        views = _items(session, review)
        parent_voted = sum(1 for item in views if item.voters > 0)
    changed = 0
    parent = (
        find_message(session, key=review_key(review.change_id, review_id=review.id))
        if parent_voted is not None
        else None
    )
    if parent is not None and parent.id is not None and parent_voted is not None:
        reasons = _verdict_reasons(session, review.change_id)
        run_url = run_url or link_in(parent)
        summary = _summary(session, review, reasons=reasons, run_url=run_url)
        message = review_parent(summary, voted_items=parent_voted)
        changed += revise_message(session, message_id=parent.id, message=message)
    for item in views:
        reply = find_message(
            session, key=review_key(review.change_id, item.sample_id, review_id=review.id)
        )
        if reply is not None and reply.id is not None:
            changed += revise_message(session, message_id=reply.id, message=review_item(item))
    return changed


def _summary(
    session: Session, review: Review, *, reasons: list[str], run_url: str | None
) -> ReviewSummary:
    assert review.id is not None
    change = get_change(session, review.change_id)
    author = session.get(Member, change.author_id)
    prompt = session.get(Prompt, change.prompt_id)
    total = len(session.exec(select(ReviewItem.id).where(ReviewItem.review_id == review.id)).all())
    looked = session.exec(
        select(func.max(ReviewItem.batch)).where(ReviewItem.review_id == review.id)
    ).one()
    later = bool(looked) and review.strata is not None  # a look added items: show it
    return ReviewSummary(
        change_id=review.change_id,
        prompt=prompt.name if prompt else "",
        author=author.handle if author else "?",
        author_slack_id=author.slack_user_id if author else None,
        note=change.note,
        headline=headline(reasons),
        items=total,
        run_url=run_url,
        deadline=readable(review.deadline_at),
        review_id=review.id,
        plan=plan_line(review),
        estimate=judge_review(session, review).summary() if later else None,
    )


def _voted_items(session: Session, review: Review) -> int:
    """How many of the review's items have at least one vote (the parent's count)."""
    count = session.exec(
        select(func.count(func.distinct(Vote.review_item_id)))
        .join(ReviewItem, col(ReviewItem.id) == col(Vote.review_item_id))
        .where(ReviewItem.review_id == review.id)
    ).one()
    return int(count)


def _items(
    session: Session, review: Review, *, only: Collection[int] | None = None
) -> list[ReviewItemView]:
    query = select(ReviewItem).where(ReviewItem.review_id == review.id)
    if only is not None:
        query = query.where(col(ReviewItem.id).in_(list(only)))
    rows = session.exec(query.order_by(col(ReviewItem.position))).all()
    counted = counted_votes(session, review_id=review.id or 0) if review.status != "open" else {}
    outcome = f"review {review.outcome or review.status}"
    if review.outcome == "cancelled":
        outcome += f": {review_ended(session, review=review)}"
    views = []
    for row in rows:
        v = item_view(session, review_item_id=row.id or 0)
        closed = None
        if review.status != "open":
            verdicts = [vote.verdict for vote in counted.get(row.id or 0, {}).values()]
            passes, fails = verdicts.count("pass"), verdicts.count("fail")
            said = "failed" if fails > passes else "passed" if verdicts else "no votes"
            closed = f"{said} ({passes} pass, {fails} fail); {outcome}"
        views.append(
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
                closed=closed,
                pick=v.pick,
            )
        )
    return views


def full_text(session: Session, *, review_item_id: int, field: str) -> tuple[str, str]:
    """(title, text) of one field of a sampled item, uncut: what "Show full" opens."""
    v = item_view(session, review_item_id=review_item_id)
    fields = {
        "input": ("Input", _text(v.input)),
        "expected": ("Expected", None if v.expected is None else _text(v.expected)),
        "output": ("Candidate's output", v.output or (v.error and f"(error: {v.error})")),
        "baseline": ("Production's output", v.baseline_output),
    }
    title, text = fields.get(field, (field, None))
    if text is None:
        raise NotFoundError(f"review item {review_item_id} has no {field} to show")
    return f"{title} ({v.item_id})", text


def item_channel(session: Session, *, review_item_id: int) -> str | None:
    """The conversation a sampled item's message went to (Slack's id once delivered)."""
    v = item_view(session, review_item_id=review_item_id)
    message = find_message(
        session, key=review_key(v.change_id, v.review_item_id, review_id=v.review_id)
    )
    return (message.posted_channel or message.channel) if message else None


def _verdict_reasons(session: Session, change_id: int) -> list[str]:
    from roles.changes import verdict_of

    verdict = verdict_of(session, change_id=change_id)
    return list((verdict or {}).get("payload", {}).get("reasons", []))


def _text(value: object) -> str:
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value.values())))
    if isinstance(value, dict | list):
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)
