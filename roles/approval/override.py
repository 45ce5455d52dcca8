"""Approving over the gate: whether a change's approval must override an inconclusive
(flagged) gate, and who did, with what reason. The CLI, the Slack buttons, the deploy
request and the webhook ask these same two functions.

    gate_override(session, change_id=7)   # "none" | "needs_reason" | "forbidden"
    override_of(session, change_id=7)     # ("sam", "flag is noise on 3 items") or None
"""

from __future__ import annotations

from typing import Literal

from sqlmodel import Session, col, select

from roles.approval.policy import policy_for_change
from roles.changes import verdict_of
from roles.ledger import Approval, Member
from roles.transitions import get_change

GateOverride = Literal["none", "needs_reason", "forbidden"]


def gate_override(session: Session, *, change_id: int) -> GateOverride:
    """What approving the change means for its gate: ``"none"`` (the gate passed),
    ``"needs_reason"`` (inconclusive; the policy lets an approval override it, with a
    reason) or ``"forbidden"`` (inconclusive, and the policy allows no override)."""
    verdict = verdict_of(session, change_id=change_id) or {}
    if (verdict.get("payload") or {}).get("outcome") != "inconclusive":
        return "none"
    policy = policy_for_change(session, change_id=change_id)
    return "needs_reason" if policy.allow_override else "forbidden"


def override_of(session: Session, *, change_id: int) -> tuple[str, str] | None:
    """(who, why) of the approval that overrode the gate for the current candidate."""
    change = get_change(session, change_id)
    row = session.exec(
        select(Approval, Member)
        .join(Member, col(Member.id) == col(Approval.member_id))
        .where(Approval.change_id == change_id)
        .where(Approval.candidate_version_id == change.candidate_version_id)
        .where(Approval.decision == "approve")
        .where(col(Approval.override).is_(True))
        .order_by(col(Approval.id).desc())
    ).first()
    return (row[1].handle, row[0].reason or "") if row else None
