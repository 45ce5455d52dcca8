"""Who may approve a deploy, and how many must: the defaults live here; production's suite
(a new prompt: its own) may set them, so an author cannot lower the bar for their change.

::

    suite:
      approval: {approvals: 2, allow_override: true, slack_only: true}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from roles.ledger import PromptVersion
from roles.transitions import get_change


class ApprovalPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    approvals: int = Field(default=1, ge=1, le=6)  # distinct engineers
    # An inconclusive (flagged) gate may be approved over, with a reason, flagged itself.
    allow_override: bool = False
    # true: approvals, rejections and rollbacks of this prompt from Slack only (the verified
    # user). false or unset: as the team's identity policy says (`promptloop team policy`);
    # false never lets the CLI decide when that policy is slack.
    slack_only: bool | None = None


def approval_policy_from_suite(suite: Mapping[str, Any] | None) -> ApprovalPolicy:
    return ApprovalPolicy.model_validate((suite or {}).get("approval") or {})


def policy_for_change(session: Session, *, change_id: int) -> ApprovalPolicy:
    """Production's ``suite.approval`` (the version the change would replace), else the
    candidate's for a new prompt, else the defaults."""
    change = get_change(session, change_id)
    version_id = change.base_version_id or change.candidate_version_id
    version = session.get(PromptVersion, version_id)
    return approval_policy_from_suite(version.suite if version else None)


def decisions_of(session: Session, *, change_id: int) -> list[dict[str, Any]]:
    """Every approval decision on the change, refused attempts too, oldest first."""
    from sqlmodel import col, select

    from roles.clock import iso
    from roles.ledger import Approval, Member

    rows = session.exec(
        select(Approval).where(Approval.change_id == change_id).order_by(col(Approval.id))
    ).all()
    handles = {
        m.id: m.handle
        for m in session.exec(select(Member).where(col(Member.id).in_([r.member_id for r in rows])))
    }
    return [
        {
            "at": iso(r.created_at),
            "who": handles.get(r.member_id) or r.slack_user_id or "?",
            "decision": r.decision,
            "reason": r.reason,
            "override": r.override,
            "source": r.source,
            "os_user": r.os_user,
            "host": r.host,
            "candidate_version_id": r.candidate_version_id,
        }
        for r in rows
    ]
