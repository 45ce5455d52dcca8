"""Telling the data scientists when an LLM judge's trust status changes: the alerts
channel, or the review channel when no alerts channel is set (the experts' labels made
it); the outbox row is written in the calibration record's transaction.

    judge_trust_changed(session, outcome)   # outcome.changed: the judge now (un)trusted
"""

from __future__ import annotations

from sqlmodel import Session

from integrations.settings import get_settings
from integrations.slack.blocks import notice
from integrations.slack.post import post_message
from roles.calibration.identity import JudgeRef
from roles.calibration.records import CalibrationOutcome
from roles.calibration.status import status_line
from roles.ledger import OutboxKind, OutboxMessage


def judge_trust_changed(
    session: Session, outcome: CalibrationOutcome, *, run_url: str | None = None
) -> OutboxMessage | None:
    """A notice that the judge may now decide gates, or no longer may; None if unchanged."""
    record = outcome.record
    if not outcome.changed:
        return None
    settings = get_settings()
    judge = JudgeRef(label=record.label, judge_id=record.judge_id, spec=record.spec)
    now = (
        "trusted: its scores count in the gate"
        if record.trusted
        else ("no longer trusted: its scores are shown, not gated")
    )
    lines = [
        status_line(judge, record),
        f"{record.n} labelled pairs ({record.from_votes} from votes, {record.from_dataset} "
        f"from datasets), {record.unscored} unscored, {record.ties} ties",
        f"details: promptloop judge report {record.judge_id}",
    ]
    return post_message(
        session,
        kind=OutboxKind.NOTICE,
        message=notice(
            f"LLM judge {record.judge_id} ({record.label}) is {now}", lines, run_url=run_url
        ),
        key=f"judge:{record.judge_id}:trust:{record.id}",
        channel=settings.slack_alerts_channel or settings.slack_review_channel,
    )
