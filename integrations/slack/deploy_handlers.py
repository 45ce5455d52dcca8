"""The gateway's listeners for deploy requests: Approve, Reject (a modal for the reason),
Approve over a flagged gate (a modal for the override's reason), Rollback.

Same shape as the review's (``integrations.slack.handlers``): ack at once, then decide
through the act's one door (``integrations.actions.deploys``) as the verified Slack user,
in one transaction with the request's replay stamp and the messages that follow it; the person is told
the outcome ephemerally ("Not allowed: …" for a refusal, which the ledger keeps). A
decision that ends the wait (deployed, rejected, sent back) calls the hook: serve wakes
the pipeline run at once.

Approve on a change whose gate was inconclusive, under a policy that allows overriding
it, opens the override modal instead of approving: the CLI's rule (``change approve
--override-reason``) asked in Slack's way. Rollback (on a deployed change's request)
rolls production back to what that deploy replaced, as ``prompt rollback NAME`` does;
two clicks at once roll back once, the second told who did.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.models.views import View

from integrations.actions.deploys import approve, reject, roll_back_change
from integrations.actions.door import Door
from integrations.db import session_scope
from integrations.slack import ids
from integrations.slack.client import slack_errors
from integrations.slack.handlers import ack_now, attempt, read_click, reading
from integrations.slack.hooks import ConclusionHook
from integrations.slack.payloads import (
    Click,
    DecisionReason,
    RequestStamp,
    parse_override_reason,
    parse_reject_reason,
)
from integrations.slack.views import override_reason_modal, reject_reason_modal
from roles.engineer import gate_override
from roles.transitions import get_change

Listener = Callable[[BoltContext, WebClient], None]
read_reject_reason = reading("reject", parse_reject_reason)
read_override_reason = reading("override", parse_override_reason)


def register_deploys(app: App, hook: ConclusionHook) -> None:
    def approve_click(context: BoltContext, client: WebClient) -> None:
        click: Click = context["click"]

        def job() -> str | None:
            with session_scope() as session:
                asks = get_change(session, click.target_id).state == "awaiting_approval"
                asks = asks and gate_override(session, change_id=click.target_id) == "needs_reason"
            if not asks:  # approve (or be told why not: decided already, by whom)
                return _decide(context["stamp"], click.user_id, click.target_id, hook)
            _open(client, click, override_reason_modal(change_id=click.target_id))
            return None

        attempt(client, user_id=click.user_id, channel_id=click.channel_id, job=job)

    def reason_submitted(key: str, approving: bool) -> Listener:
        def submitted(context: BoltContext, client: WebClient) -> None:
            why: DecisionReason = context[key]
            job = lambda: _decide(  # noqa: E731
                context["stamp"], why.user_id, why.change_id, hook, why.reason, approving=approving
            )
            attempt(client, user_id=why.user_id, channel_id=None, job=job)

        return submitted

    def open_reject_modal(context: BoltContext, client: WebClient) -> None:
        click: Click = context["click"]
        modal = reject_reason_modal(change_id=click.target_id)
        attempt(
            client,
            user_id=click.user_id,
            channel_id=click.channel_id,
            job=lambda: _open(client, click, modal),
        )

    def rollback_click(context: BoltContext, client: WebClient) -> None:
        click: Click = context["click"]
        job = lambda: _roll_back(context["stamp"], click.user_id, click.target_id)  # noqa: E731
        attempt(client, user_id=click.user_id, channel_id=click.channel_id, job=job)

    app.action(ids.DEPLOY_APPROVE, middleware=[read_click])(ack=ack_now, lazy=[approve_click])
    app.action(ids.DEPLOY_REJECT, middleware=[read_click])(ack=ack_now, lazy=[open_reject_modal])
    app.action(ids.DEPLOY_ROLLBACK, middleware=[read_click])(ack=ack_now, lazy=[rollback_click])
    app.view_submission(ids.REJECT_REASON_VIEW, middleware=[read_reject_reason])(
        ack=ack_now, lazy=[reason_submitted("reject", approving=False)]
    )
    app.view_submission(ids.OVERRIDE_REASON_VIEW, middleware=[read_override_reason])(
        ack=ack_now, lazy=[reason_submitted("override", approving=True)]
    )


def _open(client: WebClient, click: Click, modal: View) -> None:
    with slack_errors():
        client.views_open(trigger_id=click.trigger_id or "", view=modal)


def _decide(
    stamp: RequestStamp,
    user_id: str,
    change_id: int,
    hook: ConclusionHook,
    reason: str | None = None,
    *,
    approving: bool = True,
) -> str:
    """An approval (with ``reason``: over the gate) or a rejection by the Slack user."""
    door = Door.slack(user_id, stamp=stamp, waker=hook)
    if approving:
        outcome = approve(door, change_id=change_id, override_reason=reason)
    else:
        outcome = reject(door, change_id=change_id, reason=reason or "")
    if outcome.decision == "refused":
        return f"Not allowed: {outcome.message} (the attempt is recorded)"
    return outcome.message


def _roll_back(stamp: RequestStamp, user_id: str, change_id: int) -> str:
    """Production back to what the change's deploy replaced, by the Slack user who clicked."""
    outcome = roll_back_change(Door.slack(user_id, stamp=stamp), change_id=change_id)
    if outcome.decision == "refused":
        return f"Not allowed: {outcome.message} (the attempt is recorded)"
    return outcome.message
