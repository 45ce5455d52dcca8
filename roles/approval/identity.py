"""Who decides on a deploy, and whether they may at all: the checks an approval, a
rejection and a rollback share, and the row a refused attempt leaves.

    member, why = engineer_or_refusal(session, who=Who(slack_user_id="U04SAM", source="slack"))
    if why is not None:
        session.add(decision_row(change, who, member, "refused", why, now=now))
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from roles.errors import RoleError
from roles.ledger import Approval, ChangeRequest, Member
from roles.roster import find_member, roles_of
from roles.states import Role
from roles.who import Who, local_who

__all__ = ["Who", "decision_row", "engineer_or_refusal", "identity", "local_who"]


def engineer_or_refusal(
    session: Session, *, who: Who, act: str = "approve a deploy"
) -> tuple[Member | None, str | None]:
    """The deciding member, and why they may not ``act`` (None: an active engineer).

    Raises:
        RoleError: an unknown handle (an unknown Slack user is a refusal, to be recorded).
    """
    if who.slack_user_id is not None:
        member = session.exec(
            select(Member)
            .where(Member.slack_user_id == who.slack_user_id)
            .order_by(col(Member.active).desc())  # a ledger from before ids were unique
        ).first()
        if member is None:
            return None, f"Slack user {who.slack_user_id} is not on the team"
    elif who.handle is not None:
        member = find_member(session, handle=who.handle)
    else:
        raise RoleError("who decides? give --as HANDLE")
    if not member.active:
        return member, f"'{member.handle}' is deactivated and cannot {act}"
    if Role.ENGINEER not in roles_of(session, member_id=member.id or 0):
        return member, f"'{member.handle}' needs the engineer role to {act}"
    return member, None


def decision_row(
    change: ChangeRequest,
    who: Who,
    member: Member | None,
    decision: str,
    reason: str | None,
    *,
    now: datetime,
) -> Approval:
    """An ``Approval`` row: a decision, or a refused attempt with its reason."""
    assert change.id is not None
    return Approval(
        change_id=change.id,
        candidate_version_id=change.candidate_version_id,
        member_id=member.id if member else None,
        slack_user_id=who.slack_user_id,
        decision=decision,
        reason=reason.strip() if reason else None,
        override=decision == "approve" and bool(reason),
        source=who.source,
        os_user=who.os_user,
        host=who.host,
        created_at=now,
    )


def identity(who: Who) -> dict[str, Any]:
    """What a handoff's payload records of who made it, beyond the handle."""
    return {
        k: v
        for k, v in {
            "source": who.source,
            "slack_user_id": who.slack_user_id,
            "os_user": who.os_user,
            "host": who.host,
        }.items()
        if v
    }
