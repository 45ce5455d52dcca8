"""Who may approve a deploy, and how many must: the defaults live in ``roles.policies``;
production's suite (a new prompt: its own) may set them, so an author cannot lower the bar
for their change.

::

    suite:
      approval: {approvals: 2, allow_override: true, slack_only: true}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from roles.ledger import PromptVersion
from roles.policies import ApprovalPolicy as ApprovalPolicy  # its home before roles.policies
from roles.transitions import get_change


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
