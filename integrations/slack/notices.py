"""Telling whoever holds the change next: the author when it comes back to them, the review
thread when a review closes. Written in the transaction of the handoff they announce.

    with session_scope() as session:
        outcome = vote_and_conclude(session, review_item_id=3, actor="omar", ...)
        after_vote(session, outcome)  # the review's messages updated; closed: announced
"""

from __future__ import annotations

from sqlmodel import Session

from integrations.slack.blocks import notice
from integrations.slack.post import channel_for, post_message, review_key
from integrations.slack.review import post_added_items, refresh_review
from integrations.webhooks.events import queue_deploy_event
from roles.approval.manual import HandMove
from roles.engineer import ApprovalOutcome, RollbackResult, previous_deployment
from roles.expert import ReviewConclusion, VoteOutcome
from roles.ledger import Member, OutboxKind, OutboxMessage
from roles.outbox import find_message
from roles.review.looks import Look
from roles.transitions import get_change

MAX_LINES = 12


def after_vote(session: Session, outcome: VoteOutcome) -> None:
    """The review's messages follow the vote; the vote that concluded it announces that."""
    # Only the voted item's reply changed (and the parent's count), until the review closes:
    # re-rendering every item made each vote cost O(items) inside the ledger's write lock.
    voted = [outcome.receipt.vote.review_item_id]
    refresh_review(session, review_id=outcome.receipt.progress.review_id, items=voted)
    if outcome.conclusion is not None:
        review_closed(session, outcome.conclusion)
    elif outcome.look is not None:
        review_looked(session, outcome.look, review_id=outcome.receipt.progress.review_id)


def review_looked(session: Session, look: Look, *, review_id: int) -> None:
    """A look that could not decide, told in the review's thread: more items below it, or
    (at the cap) who decides, with the numbers."""
    from roles.ledger import Review
    from roles.review.decision import deciders

    review = session.get(Review, review_id)
    assert review is not None
    change_id, judged = review.change_id, look.judged
    if look.added:
        title = f"More labels: change #{change_id}'s review adds {len(look.added)} items"
        lines = [
            f"{judged.summary()}: the bound cannot decide yet",
            *judged.strata_lines(),
            f"vote on the {len(look.added)} new items in this thread "
            f"(the review looks at most {judged.looks} times)",
        ]
        key = f"notice:{change_id}:review:{review_id}:look:{judged.tally.labels}"
    elif review.status == "undecided":
        who = deciders(session, review)
        title = f"Review undecided at its cap: change #{change_id} needs a decider's call"
        lines = [
            judged.summary(),
            *judged.strata_lines(),
            f"decides: {', '.join(who) or 'nobody (add a data scientist with `team sync`)'}",
            f"promptloop review decide {review_id} pass|fail --reason TEXT --as HANDLE",
        ]
        key = f"notice:{change_id}:review:{review_id}:undecided"
    else:
        return
    in_thread(session, change_id=change_id, review_id=review_id, title=title, lines=lines, key=key)
    if look.added:  # after the notice: the thread reads why, then the items
        post_added_items(session, review=review, added=look.added)


def in_thread(
    session: Session, *, change_id: int, review_id: int, title: str, lines: list[str], key: str
) -> None:
    """A notice in the review's thread (none when the review has no parent message)."""
    parent = find_message(session, key=review_key(change_id, review_id=review_id))
    if parent is not None:
        post_message(
            session,
            kind=OutboxKind.NOTICE,
            message=notice(title, lines),
            change_id=change_id,
            parent_id=parent.id,
            key=key,
        )


def after_expiry(session: Session, conclusions: list[ReviewConclusion]) -> None:
    for conclusion in conclusions:
        refresh_review(session, review_id=conclusion.review_id)
        review_closed(session, conclusion)


def review_closed(session: Session, conclusion: ReviewConclusion) -> None:
    """A reply in the review's thread; the author told when the change comes back."""
    change_id, review_id = conclusion.change_id, conclusion.review_id
    title = f"Review {conclusion.outcome}: change #{change_id} is {conclusion.state}"
    lines = _failed_lines(conclusion)
    key = f"notice:{change_id}:review:{review_id}:closed"
    in_thread(session, change_id=change_id, review_id=review_id, title=title, lines=lines, key=key)
    if conclusion.state == "changes_requested":
        tell_author(
            session,
            change_id=change_id,
            title=f"Your change #{change_id} needs changes: review {conclusion.outcome}",
            lines=[*lines, f"revise it: promptloop change revise {change_id}"],
            key=f"notice:{change_id}:author:review:{review_id}",
        )


def after_decision(session: Session, outcome: ApprovalOutcome) -> None:
    """The deploy request follows an engineer's decision; a deploy, a rejection or stale
    evidence is announced in its thread, and the author told. A deploy also queues the
    deploy webhook's event (when one is configured)."""
    from integrations.slack.deploys import deploy_key, override_line, refresh_deploy_request

    if outcome.decision == "refused":
        return  # the clicker is told (ephemeral / the CLI); the ledger has the attempt
    change_id = outcome.change_id
    refresh_deploy_request(session, change_id=change_id)
    if outcome.decision == "approve":
        return
    lines = [outcome.message]
    if outcome.deployment_id is not None:
        production_moved(session, deployment_id=outcome.deployment_id)
        overridden = override_line(session, change_id=change_id)
        lines += [f"OVERRIDE: {overridden}"] if overridden else []
    change = get_change(session, change_id)
    titles = {
        "deployed": f"Deployed: change #{change_id}",
        "reject": f"Rejected: change #{change_id}",
        "sent_back": f"Change #{change_id} is evaluated again",
    }
    parent = find_message(session, key=deploy_key(change_id, change.candidate_version_id))
    if parent is None:  # evaluated again: the candidate is the same, the request too
        parent = _any_deploy_request(session, change_id)
    key = f"notice:{change_id}:deploy:{outcome.decision}:{change.revision}"
    if parent is not None:
        post_message(
            session,
            kind=OutboxKind.NOTICE,
            message=notice(titles[outcome.decision], lines),
            change_id=change_id,
            parent_id=parent.id,
            key=key,
        )
    tell_author(
        session,
        change_id=change_id,
        title=titles[outcome.decision].replace("change #", "your change #"),
        lines=lines,
        key=f"{key}:author",
    )


def rolled_back(
    session: Session, result: RollbackResult, *, actor: str, reason: str | None
) -> None:
    """Production moved back: said in the deploy channel (and to the change's author), the
    change's deploy request shows it (its Rollback button gone), the webhook's event queued."""
    from integrations.slack.deploys import refresh_deploy_request

    production_moved(session, deployment_id=result.deployment_id)
    title = f"Rolled back: {result.prompt} v{result.from_version} → v{result.to_version} by {actor}"
    lines = [reason] if reason else []
    post_message(
        session,
        kind=OutboxKind.NOTICE,
        message=notice(title, lines),
        change_id=result.change_id,
        key=f"notice:rollback:{result.deployment_id}",
        channel=channel_for(OutboxKind.DEPLOY_REQUEST),
    )
    if result.change_id is not None:
        refresh_deploy_request(session, change_id=result.change_id)
        tell_author(
            session,
            change_id=result.change_id,
            title=f"Your change #{result.change_id} was rolled back by {actor}",
            lines=lines,
            key=f"notice:{result.change_id}:rollback:{result.deployment_id}",
        )


def moved_by_hand(session: Session, moved: HandMove, *, actor: str) -> None:
    """An admin moved production by hand: the webhook's event queued, the deploy channel told."""
    assert moved.deployment_id is not None
    production_moved(session, deployment_id=moved.deployment_id)
    before = f"v{moved.from_version}" if moved.from_version is not None else "no version"
    post_message(
        session,
        kind=OutboxKind.NOTICE,
        message=notice(
            f"Production moved by hand: {moved.prompt} {before} → v{moved.version} by {actor}",
            ["not through a change: no evaluation, review or approval (`promptloop prompt log`)"],
        ),
        change_id=None,
        key=f"notice:manual:{moved.deployment_id}",
        channel=channel_for(OutboxKind.DEPLOY_REQUEST),
    )


def production_moved(session: Session, *, deployment_id: int) -> None:
    """After a deploy or a rollback: the webhook's event queued (if one is configured), and
    the request of the deploy it superseded offers its Rollback no more."""
    from integrations.slack.deploys import refresh_deploy_request

    queue_deploy_event(session, deployment_id=deployment_id)
    before = previous_deployment(session, deployment_id=deployment_id)
    if before is not None and before.kind == "deploy" and before.change_id is not None:
        refresh_deploy_request(session, change_id=before.change_id)


def _any_deploy_request(session: Session, change_id: int) -> OutboxMessage | None:
    from sqlmodel import col, select

    return session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.change_id == change_id)
        .where(OutboxMessage.kind == OutboxKind.DEPLOY_REQUEST.value)
        .where(col(OutboxMessage.parent_id).is_(None))
        .order_by(col(OutboxMessage.id).desc())
    ).first()


def eval_failed(session: Session, *, change_id: int, reasons: list[str], key: str) -> None:
    """The author of a change whose evaluation failed the gate, told why."""
    failures = [r for r in reasons if not r.startswith("ok:")]
    tell_author(
        session,
        change_id=change_id,
        title=f"Your change #{change_id} failed its evaluation",
        lines=[*failures[:MAX_LINES], f"revise it: promptloop change revise {change_id}"],
        key=key,
    )


def tell_author(
    session: Session,
    *,
    change_id: int,
    title: str,
    lines: list[str],
    key: str,
    run_url: str | None = None,
) -> OutboxMessage:
    """A direct message to the author's Slack user, or (no Slack id on record) a line
    naming them in the review channel; ``run_url``: a link to the Prefect run."""
    change = get_change(session, change_id)
    author = session.get(Member, change.author_id)
    slack_id = author.slack_user_id if author else None
    handle = author.handle if author else "the author"
    if not slack_id:
        title = f"@{handle}: {title}"
    return post_message(
        session,
        kind=OutboxKind.NOTICE,
        message=notice(title, lines[: MAX_LINES + 2], run_url=run_url),
        change_id=change_id,
        key=key,
        channel=slack_id or channel_for(OutboxKind.REVIEW_PARENT),
    )


def _failed_lines(conclusion: ReviewConclusion) -> list[str]:
    """The note (what was decided), then one line per failed item with its reasons."""
    if not conclusion.failed_items:
        return [conclusion.note]
    lines = [conclusion.estimate or conclusion.note]
    for item in conclusion.failed_items[:MAX_LINES]:
        fails = ", ".join(
            (f.get("category") or "fail") + (f" — {f['reason']}" if f.get("reason") else "")
            for f in item.get("fails", [])
        )
        lines.append(f"{item.get('item_id', '?')}: {fails or 'failed'}")
    return lines
