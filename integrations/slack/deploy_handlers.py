"""The gateway's listeners for deploy requests: Approve, Reject (a modal for the reason).

Same shape as the review's (``integrations.slack.handlers``): ack at once, then decide
through ``roles.engineer`` as the verified Slack user, in one transaction with the
request's replay stamp and the messages that follow the decision; the person is told
the outcome ephemerally ("Not allowed: …" for a refusal, which the ledger keeps). A
decision that ends the wait (deployed, rejected, sent back) calls the hook: serve wakes
the pipeline run at once.
"""

from __future__ import annotations

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from integrations.db import session_scope
from integrations.slack import ids
from integrations.slack.client import slack_errors
from integrations.slack.handlers import ack_now, attempt, read_click, reading
from integrations.slack.hooks import ConclusionHook
from integrations.slack.notices import after_decision
from integrations.slack.payloads import Click, RejectReason, RequestStamp, parse_reject_reason
from integrations.slack.replay import remember_request
from integrations.slack.views import reject_reason_modal
from roles.clock import utcnow
from roles.engineer import Who, approve, reject

read_reject_reason = reading("reject", parse_reject_reason)


def register_deploys(app: App, hook: ConclusionHook) -> None:
    def approve_click(context: BoltContext, client: WebClient) -> None:
        click: Click = context["click"]
        job = lambda: _decide(context["stamp"], click.user_id, click.target_id, hook)  # noqa: E731
        attempt(client, user_id=click.user_id, channel_id=click.channel_id, job=job)

    def reject_submitted(context: BoltContext, client: WebClient) -> None:
        why: RejectReason = context["reject"]
        job = lambda: _decide(context["stamp"], why.user_id, why.change_id, hook, why.reason)  # noqa: E731
        attempt(client, user_id=why.user_id, channel_id=None, job=job)

    def open_reject_modal(context: BoltContext, client: WebClient) -> None:
        click: Click = context["click"]

        def job() -> str | None:
            with slack_errors():
                client.views_open(
                    trigger_id=click.trigger_id or "",
                    view=reject_reason_modal(change_id=click.target_id),
                )
            return None

        attempt(client, user_id=click.user_id, channel_id=click.channel_id, job=job)

    app.action(ids.DEPLOY_APPROVE, middleware=[read_click])(ack=ack_now, lazy=[approve_click])
    app.action(ids.DEPLOY_REJECT, middleware=[read_click])(ack=ack_now, lazy=[open_reject_modal])
    app.view_submission(ids.REJECT_REASON_VIEW, middleware=[read_reject_reason])(
        ack=ack_now, lazy=[reject_submitted]
    )


def _decide(
    stamp: RequestStamp, user_id: str, change_id: int, hook: ConclusionHook, reason: str | None = None
) -> str:
    """An approval (or, with ``reason``, a rejection) by the Slack user who clicked."""
    now = utcnow()
    who = Who(slack_user_id=user_id, source="slack")
    with session_scope() as session:
        remember_request(session, stamp=stamp, now=now)
        if reason is None:
            outcome = approve(session, change_id=change_id, who=who, now=now, slack_configured=True)
        else:
            outcome = reject(
                session, change_id=change_id, who=who, reason=reason, now=now, slack_configured=True
            )
        after_decision(session, outcome)
    if outcome.decision == "refused":
        return f"Not allowed: {outcome.message} (the attempt is recorded)"
    if outcome.decision in ("deployed", "reject", "sent_back"):
        hook(change_id)
    return outcome.message
