"""The weekly handoff-metrics digest as one outbox message, to the digest channel
(``PROMPTLOOP_SLACK_DIGEST_CHANNEL``, else the alerts channel).

    with session_scope() as session:
        post_digest(session, report=handoff_metrics(session, since=week_ago), key="digest:2026-W10")
"""

from __future__ import annotations

from sqlmodel import Session

from integrations.settings import get_settings
from integrations.slack.blocks import notice
from integrations.slack.post import channel_for, post_message
from roles.ledger import OutboxKind, OutboxMessage
from roles.metrics import HandoffMetrics
from roles.metrics.text import digest_lines, period


def post_digest(
    session: Session, *, report: HandoffMetrics, key: str, run_url: str | None = None
) -> OutboxMessage:
    """The digest's outbox row; the one already under ``key`` if this week's was written."""
    channel = get_settings().slack_digest_channel or channel_for(OutboxKind.NOTICE)
    return post_message(
        session,
        kind=OutboxKind.NOTICE,
        message=notice(f"Handoff metrics, {period(report)}", digest_lines(report), run_url=run_url),
        key=key,
        channel=channel,
    )
