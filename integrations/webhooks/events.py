"""Queueing the deploy webhook's event in the transaction of the deployment it reports.

    with session_scope() as session:
        outcome = approve(session, change_id=7, who=who, now=now)
        if outcome.deployment_id:
            queue_deploy_event(session, deployment_id=outcome.deployment_id)

With ``PROMPTLOOP_DEPLOY_WEBHOOK_URL`` unset nothing is queued (and nothing is sent later
for deployments made meanwhile). The row is an outbox message of kind ``webhook`` in the
pseudo-channel ``webhook:deploy``: delivered in order, one after another, by the same
loop as Slack's messages; its text is the exact JSON body every attempt sends.
"""

from __future__ import annotations

import json

from sqlmodel import Session

from integrations.db import ledger_tag
from integrations.settings import Settings, get_settings
from roles.approval.events import deployment_event
from roles.ledger import OutboxKind, OutboxMessage
from roles.outbox import enqueue

WEBHOOK_CHANNEL = "webhook:deploy"


def delivery_id(deployment_id: int) -> str:
    """Unique per deployment and ledger; the same on every attempt to deliver it."""
    return f"{ledger_tag()}-deployment-{deployment_id}"


def queue_deploy_event(
    session: Session, *, deployment_id: int, settings: Settings | None = None
) -> OutboxMessage | None:
    """The event of a deploy or rollback, queued once (``None``: no webhook configured)."""
    settings = settings or get_settings()
    if not settings.deploy_webhook_url:
        return None
    event = {
        "delivery_id": delivery_id(deployment_id),
        "ledger": ledger_tag(),
        **deployment_event(session, deployment_id=deployment_id),
    }
    return enqueue(
        session,
        channel=WEBHOOK_CHANNEL,
        kind=OutboxKind.WEBHOOK.value,
        text=json.dumps(event, separators=(",", ":"), sort_keys=True),
        blocks=[],
        change_id=event["change_id"],
        key=f"webhook:{event['delivery_id']}",
    )
