"""The gateway's listeners: acknowledge at once, then do the work and answer the person.

Each listener acks from the request's own thread (Bolt's ``process_before_response``)
before anything touches the ledger or Slack, and its work runs as a lazy listener on
the app's executor:

- **Pass** → a vote, written with its outbox messages and the request's stamp (replays
  count once); the vote that completes the review concludes it and calls the hook.
- **Fail** → the fail-reason modal (``views.open``); its submission → a fail vote.
- **Show full** → a read-only modal with the field's whole text.
- anything else → an answer that says promptloop does not handle it; nothing written.

Refusals (not on the team, not an expert, a closed review) are answered in an ephemeral
message; a bug is logged with its traceback and the person is told nothing was recorded.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltResponse
from slack_sdk import WebClient

from integrations.actions.door import Door
from integrations.actions.reviews import vote
from integrations.db import session_scope
from integrations.slack import ids
from integrations.slack.client import SlackDeliveryError, slack_errors
from integrations.slack.hooks import ConclusionHook
from integrations.slack.lanes import VoteLanes
from integrations.slack.payloads import (
    Click,
    FailReason,
    MalformedPayload,
    RequestStamp,
    parse_click,
    parse_fail_reason,
)
from integrations.slack.replay import Replayed
from integrations.slack.review import full_text, item_channel
from integrations.slack.views import fail_reason_modal, full_text_modal
from roles.errors import NotFoundError, PromptloopError, RoleError
from roles.expert import item_view
from roles.roster import member_for_slack_user, require_member
from roles.states import Role

log = logging.getLogger("promptloop.gateway")
Job = Callable[[], str | None]


def register(app: App, hook: ConclusionHook, lanes: VoteLanes | None = None) -> None:
    """Attach every listener to ``app``; ``hook`` hears of each concluded review. Votes are
    written in ``lanes`` (and their voters answered there), else in the listener's thread."""

    def voting(client: WebClient, *, user_id: str, channel_id: str | None, job: Job) -> None:
        if lanes is None:
            attempt(client, user_id=user_id, channel_id=channel_id, job=job)
            return
        lanes.vote(attempt, client, user_id=user_id, channel_id=channel_id, job=job, answers=lanes)

    def pass_vote(context: BoltContext, client: WebClient) -> None:
        click: Click = context["click"]
        job = lambda: _vote(context["stamp"], click.user_id, click.target_id, "pass", hook)  # noqa: E731
        voting(client, user_id=click.user_id, channel_id=click.channel_id, job=job)

    def fail_vote(context: BoltContext, client: WebClient) -> None:
        fail: FailReason = context["fail"]
        channel = _channel_of(fail.sample_id)
        job = lambda: _vote(context["stamp"], fail.user_id, fail.sample_id, "fail", hook, fail)  # noqa: E731
        voting(client, user_id=fail.user_id, channel_id=channel, job=job)

    app.action(ids.REVIEW_PASS, middleware=[read_click])(ack=ack_now, lazy=[pass_vote])
    app.action(ids.REVIEW_FAIL, middleware=[read_click])(ack=ack_now, lazy=[open_fail_modal])
    app.action(re.compile(f"^{ids.SHOW_FULL}:"), middleware=[read_click])(
        ack=ack_now, lazy=[show_full]
    )
    app.view_submission(ids.FAIL_REASON_VIEW, middleware=[read_fail_reason])(
        ack=ack_now, lazy=[fail_vote]
    )
    from integrations.slack.deploy_handlers import register_deploys

    register_deploys(app, hook)  # before the catch-all below: Bolt takes the first match
    app.action(re.compile(".*"), middleware=[read_click])(ack=ack_now, lazy=[not_ours])
    app.view_submission(re.compile(".*"))(ack_now)


def ack_now(ack: Ack) -> None:
    ack()


def reading(key: str, parse: Callable[[dict[str, Any]], object]) -> Callable[..., Any]:
    """Listener middleware: the payload parsed into ``context[key]``, or a 400 and no
    listener (nothing written, nothing answered: a malformed payload is not Slack's)."""

    def read(body: dict[str, Any], context: BoltContext, next: Callable[[], None]) -> Any:
        try:
            context[key] = parse(body)
        except MalformedPayload as exc:
            return _refuse(exc)
        return next()

    return read


read_click = reading("click", parse_click)
read_fail_reason = reading("fail", parse_fail_reason)


def _refuse(exc: MalformedPayload) -> BoltResponse:
    log.warning("refused: %s", exc)
    return BoltResponse(status=400, body=str(exc))


def _vote(
    stamp: RequestStamp,
    user_id: str,
    sample_id: int,
    verdict: str,
    hook: ConclusionHook,
    fail: FailReason | None = None,
) -> str:
    """One vote from Slack, with its messages and the request's stamp, in one transaction
    (the vote's door: ``integrations.actions.reviews.vote``, which wakes the run through
    ``hook`` when the vote concludes the review)."""
    outcome = vote(
        Door.slack(user_id, stamp=stamp, waker=hook),
        review_item_id=sample_id,
        verdict=verdict,
        category=fail.category if fail else None,
        reason=fail.reason if fail else None,
    )
    progress, conclusion = outcome.receipt.progress, outcome.conclusion
    said = f"Recorded: {verdict} on item {sample_id}. Review {progress.review_id}: {progress.headline()}"
    if conclusion is None:
        return said
    return f"{said}\nThe review is {conclusion.outcome}: change #{conclusion.change_id} is {conclusion.state}."


def open_fail_modal(context: BoltContext, client: WebClient) -> None:
    click: Click = context["click"]

    def job() -> str | None:
        with session_scope() as session:
            member = member_for_slack_user(session, slack_user_id=click.user_id)
            require_member(session, handle=member.handle, roles=(Role.EXPERT,))
            view = item_view(session, review_item_id=click.target_id)
        if view.status != "open":
            return f"Not recorded: review {view.review_id} is {view.status}; it takes no more votes"
        modal = fail_reason_modal(
            sample_id=click.target_id, categories=view.fail_categories, item_id=view.item_id
        )
        with slack_errors():
            client.views_open(trigger_id=click.trigger_id or "", view=modal)
        return None

    attempt(client, user_id=click.user_id, channel_id=click.channel_id, job=job)


def show_full(context: BoltContext, client: WebClient) -> None:
    click: Click = context["click"]

    def job() -> str | None:
        field = ids.show_full_field(click.action_id)
        if field is None or field == "diff":
            return f"promptloop cannot show {click.action_id!r} here yet: see the CLI"
        with session_scope() as session:
            title, text = full_text(session, review_item_id=click.target_id, field=field)
        with slack_errors():
            client.views_open(
                trigger_id=click.trigger_id or "", view=full_text_modal(title=title, text=text)
            )
        return None

    attempt(client, user_id=click.user_id, channel_id=click.channel_id, job=job)


def not_ours(context: BoltContext, client: WebClient) -> None:
    click: Click = context["click"]
    text = f"promptloop does not handle the button {click.action_id!r}; nothing was recorded"
    attempt(client, user_id=click.user_id, channel_id=click.channel_id, job=lambda: text)


def attempt(
    client: WebClient,
    *,
    user_id: str,
    channel_id: str | None,
    job: Job,
    answers: VoteLanes | None = None,
) -> None:
    """Run ``job`` and tell the person what came of it: its words, a refusal, or a failure
    (from ``answers``' lane when given: the next job does not wait for Slack's answer)."""
    try:
        text = job()
    except Replayed as exc:
        log.info("replay refused: %s", exc)
        return
    except RoleError as exc:
        text = f"Not allowed: {exc.message}"
    except PromptloopError as exc:
        text = f"Not recorded: {exc.message}"
    except SlackDeliveryError as exc:
        text = f"Slack refused promptloop's call ({exc.error}); try again"
    except Exception:
        log.exception("a Slack interaction from %s failed", user_id)
        text = "Something went wrong in promptloop; nothing was recorded (its log has why)"
    if text and answers is not None:
        answers.answer(answer, client, user_id=user_id, channel_id=channel_id, text=text)
    elif text:
        answer(client, user_id=user_id, channel_id=channel_id, text=text)


def answer(client: WebClient, *, user_id: str, channel_id: str | None, text: str) -> None:
    """An ephemeral message to ``user_id`` where they clicked; a direct message otherwise."""
    try:
        with slack_errors():
            if channel_id:
                client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
            else:
                client.chat_postMessage(channel=user_id, text=text)
    except SlackDeliveryError as exc:
        log.warning("could not answer %s in Slack (%s): %s", user_id, exc.error, text)


def _channel_of(sample_id: int) -> str | None:
    with session_scope() as session:
        try:
            return item_channel(session, review_item_id=sample_id)
        except NotFoundError:
            return None
