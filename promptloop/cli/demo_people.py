"""The demo's people, playing through the real path: signed Slack requests to serve's gateway.

Each click is a ``block_actions`` (or a modal's ``view_submission``) payload as Slack sends
it, signed with the gateway's secret (Slack's, or this home's when no Slack app is set up)
and POSTed to ``/slack/events``. The gateway acks, then records the vote or the decision
through the same roles functions as the CLI; the demo waits until the ledger shows it.
The demo plays the experts' judgement from the dataset's expected answers.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from typing import Any

from sqlmodel import col, select

from integrations.db import session_scope
from integrations.slack import ids
from integrations.slack.local import signing_secret
from integrations.slack.signing import click, fail_submission, signed
from promptloop.cli.output import say
from roles.errors import InternalError
from roles.ledger import Approval, Member, ReviewItem

EXPERTS = ("omar", "ines")
WAIT_S = 60.0


class Gateway:
    """Signed requests to a running gateway, as Slack would send them."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/") + "/slack/events"
        self.secret = signing_secret()

    def send(self, payload: dict[str, Any]) -> int:
        body, headers = signed(payload, secret=self.secret)
        request = urllib.request.Request(self.url, data=body.encode(), headers=headers)
        with urllib.request.urlopen(request, timeout=10) as reply:
            return int(reply.status)


def slack_id(handle: str) -> str:
    with session_scope() as session:
        member = session.exec(select(Member).where(Member.handle == handle)).one()
        if not member.slack_user_id:
            raise InternalError(f"the sample's {handle} has no slack_user_id")
        return member.slack_user_id


def until(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not done():
        if time.monotonic() > deadline:
            raise InternalError(f"the gateway did not record {what} within {WAIT_S:.0f} s")
        time.sleep(0.1)


def play_experts(gateway: Gateway, change_id: int, *, quiet: bool) -> list[dict[str, Any]]:
    """Each expert votes on each item waiting for them (blind), look after look, until the
    review's estimate decides (or leaves it to its decider)."""
    from roles.expert import current_review

    played: list[dict[str, Any]] = []
    with session_scope() as session:
        review = current_review(session, change_id=change_id)
        if review is None or review.status != "open":
            return played
        review_id = review.id
        total = len(session.exec(select(ReviewItem).where(ReviewItem.review_id == review_id)).all())
    if not quiet:
        say(
            f"3. {' and '.join(EXPERTS)} (experts) review {total} sampled outputs, blind, in Slack:"
        )
        say(f"   the review {_plan(review_id)}")
    while True:  # each look: the experts vote what waits for them; the estimate decides
        voted = 0
        for expert in EXPERTS:
            voted += _vote_as(gateway, expert, change_id, review_id, played, quiet=quiet)
        if _review_closed(review_id) or voted == 0:
            break
        if not quiet:
            say(f"   {_look_line(review_id)}")
    if not quiet and _review_closed(review_id):
        say(f"   {_look_line(review_id)}")
    return played


def _vote_as(
    gateway: Gateway,
    expert: str,
    change_id: int,
    review_id: int | None,
    played: list[dict[str, Any]],
    *,
    quiet: bool,
) -> int:
    """``expert`` clicks Pass or Fail on every item waiting for them; how many they voted."""
    from roles.clock import utcnow
    from roles.review.views import waiting_items

    user = slack_id(expert)
    with session_scope() as session:
        items = [
            v for v in waiting_items(session, actor=expert, now=utcnow())
            if v.change_id == change_id
        ]  # fmt: skip
    voted = 0
    for item in items:
        if _review_closed(review_id):
            break
        right = str(item.output or "").strip().lower() == str(item.expected or "").strip().lower()
        before = _votes(item.review_item_id)
        if right:
            gateway.send(click(user=user, action_id=ids.REVIEW_PASS, value=item.review_item_id))
        else:  # Fail opens the reason modal; the expert submits it
            gateway.send(click(user=user, action_id=ids.REVIEW_FAIL, value=item.review_item_id))
            gateway.send(
                fail_submission(
                    user=user, sample_id=item.review_item_id, category="wrong",
                    reason=f"expected {item.expected}",
                )
            )  # fmt: skip
        until(_more_votes(item.review_item_id, before), f"{expert}'s vote")
        voted += 1
        verdict = "pass" if right else "fail"
        played.append({"expert": expert, "item": item.item_id, "verdict": verdict})
        if not quiet:
            pick = "  (a pick: not counted)" if item.pick else ""
            say(f"   {expert} clicked {verdict.title()} on {item.item_id}  "
                f"(answer {item.output!r}, expected {item.expected!r}){pick}")  # fmt: skip
    return voted


def _look_line(review_id: int | None) -> str:
    """What the review's labels estimate now, and what that decided."""
    from roles.ledger import Review
    from roles.review.looks import judge_review

    with session_scope() as session:
        review = session.get(Review, review_id)
        assert review is not None
        judged = judge_review(session, review)
        status = review.outcome or review.status
    said = {"open": "not decided yet: more items to label",
            "undecided": "undecided at the cap: the decider calls it"}.get(status, status)  # fmt: skip
    return f"the review's estimate: {judged.summary()} → {said}"


def play_engineers(
    gateway: Gateway, change_id: int, *, author: str, engineer: str, quiet: bool
) -> None:
    """The author (an engineer too) clicks Approve and is refused; another engineer approves."""
    for handle in (author, engineer):
        before = _decisions(change_id)
        gateway.send(click(user=slack_id(handle), action_id=ids.DEPLOY_APPROVE, value=change_id,
                           channel="C0DEPLOY"))  # fmt: skip
        until(_more_decisions(change_id, before), f"{handle}'s decision")
        if not quiet:
            say(f"   {handle} clicked Approve: {_last_decision(change_id)}")


def _more_votes(review_item_id: int, before: int) -> Callable[[], bool]:
    return lambda: _votes(review_item_id) > before


def _more_decisions(change_id: int, before: int) -> Callable[[], bool]:
    return lambda: _decisions(change_id) > before


def _votes(review_item_id: int) -> int:
    from roles.ledger import Vote

    with session_scope() as session:
        return len(session.exec(select(Vote).where(Vote.review_item_id == review_item_id)).all())


def _plan(review_id: int | None) -> str:
    from roles.ledger import Review
    from roles.review.looks import plan_line

    with session_scope() as session:
        review = session.get(Review, review_id)
        return plan_line(review) if review is not None else "?"


def _review_closed(review_id: int | None) -> bool:
    from roles.ledger import Review

    with session_scope() as session:
        review = session.get(Review, review_id)
        return review is None or review.status != "open"


def _decisions(change_id: int) -> int:
    with session_scope() as session:
        return len(session.exec(select(Approval).where(Approval.change_id == change_id)).all())


def _last_decision(change_id: int) -> str:
    with session_scope() as session:
        row = session.exec(
            select(Approval)
            .where(Approval.change_id == change_id)
            .order_by(col(Approval.id).desc())
        ).first()
        if row is None:
            return "nothing recorded"
        if row.decision == "refused":
            return f"refused, and recorded: {row.reason}"
        from roles.transitions import get_change

        state = get_change(session, change_id).state
        return f"{row.decision}d" + (": deployed" if state == "deployed" else f" ({state})")
