"""A sweep's announcement as a message in the alerts channel (through the outbox).

Written in the transaction of the sweep's row; its key makes a regression one message
however many sweeps see it.
"""

from __future__ import annotations

from sqlmodel import Session

from integrations.slack.blocks import notice
from integrations.slack.post import alerts_channel, post_message
from roles.ledger import OutboxKind
from roles.sweep.record import Announcement

MAX_LINES = 12


def post_sweep_alert(
    session: Session,
    *,
    announcement: Announcement,
    scorecard: list[str],
    moved: list[str],
    run_url: str | None,
) -> int:
    """The outbox id of the announcement's message (written now, or before by a twin)."""
    target = announcement.target
    name = f"{target.prompt} v{target.version_number} (production)"
    failures = [r for r in announcement.reasons if r.startswith("FAIL")]
    if announcement.kind == "regression":
        title = f"Regression: {name} fell below its accepted baseline"
        lines = [*scorecard, *(moved or ["no slice moved significantly"]), *failures]
    elif announcement.kind == "recovered":
        title = f"Recovered: {name} is back within its accepted baseline"
        lines = [*scorecard, *moved]
    else:
        title = f"Outage: {name} could not be swept (no verdict; the next sweep tries again)"
        lines = announcement.reasons[:2]
    message = post_message(
        session,
        kind=OutboxKind.NOTICE,
        message=notice(title, lines[:MAX_LINES], run_url=run_url),
        key=announcement.key,
        channel=alerts_channel(),
    )
    assert message.id is not None
    return message.id
