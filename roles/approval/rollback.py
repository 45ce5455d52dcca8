"""Rolling production back: the label returns to the version before the last deploy (or
one named), a deployment row and the change's ``deployed → rolled_back`` handoff are
written, in one transaction. The label move is conditional on where it pointed, so two
rollbacks at the same moment roll back once; the second is told who was first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from roles.errors import ConflictError, InputError
from roles.ledger import ChangeRequest, Deployment, Member
from roles.registry import find_prompt, label_target, move_label, version_by_number
from roles.roster import require_member
from roles.states import Role, State
from roles.transitions import transition

PRODUCTION = "production"


@dataclass(frozen=True)
class RollbackResult:
    prompt: str
    from_version: int
    to_version: int
    deployment_id: int
    change_id: int | None  # the deployed change now rolled back, if a change deployed it


def rollback(
    session: Session,
    *,
    prompt: str,
    actor: str,
    now: datetime,
    to_version: int | None = None,
    reason: str | None = None,
) -> RollbackResult:
    """Move ``production`` back to ``to_version`` (default: what the last deploy replaced).

    Raises:
        RoleError: ``actor`` is not an active engineer.
        InputError: nothing to roll back to, or ``to_version`` is production already.
        ConflictError: someone moved production at the same moment (rolled back already).
    """
    member, _ = require_member(session, handle=actor, roles=(Role.ENGINEER,))
    found = find_prompt(session, name=prompt)
    current = label_target(session, prompt=found, label=PRODUCTION)
    if current is None:
        raise InputError(f"'{prompt}' has no production version to roll back")
    latest = session.exec(
        select(Deployment).where(Deployment.prompt_id == found.id).order_by(col(Deployment.id).desc())
    ).first()
    if to_version is None and latest is not None and latest.kind == "rollback":
        by = session.get(Member, latest.actor_id)
        raise ConflictError(
            f"production of '{prompt}' was rolled back to v{current.number} by "
            f"{by.handle if by else '?'} at {latest.created_at:%Y-%m-%d %H:%M UTC}; to go "
            "further back, name a version with --to VERSION"
        )
    last = session.exec(
        select(Deployment)
        .where(Deployment.prompt_id == found.id)
        .where(Deployment.to_version_id == current.id)
        .where(Deployment.kind == "deploy")
        .order_by(col(Deployment.id).desc())
    ).first()
    if to_version is not None:
        target = version_by_number(session, prompt=found, number=to_version)
    elif last is not None and last.from_version_id is not None:
        from roles.ledger import PromptVersion

        target = session.get(PromptVersion, last.from_version_id)  # type: ignore[assignment]
    else:
        raise InputError(
            f"production of '{prompt}' is v{current.number} and no deploy put it there from "
            "an earlier version: name one with --to VERSION"
        )
    assert target is not None and member.id is not None and found.id is not None
    if target.id == current.id:
        raise InputError(f"production of '{prompt}' is v{current.number} already")
    try:
        move_label(
            session,
            prompt=found,
            label=PRODUCTION,
            version=target,
            actor=member,
            expected_from=current.id,
            note=f"rolled back by {actor}" + (f": {reason}" if reason else ""),
        )
    except ConflictError:
        raise ConflictError(
            f"production of '{prompt}' was moved by someone else at the same moment "
            "(rolled back already?); nothing was written: see `promptloop prompt log`"
        ) from None
    deployment = Deployment(
        prompt_id=found.id,
        change_id=last.change_id if last else None,
        kind="rollback",
        from_version_id=current.id,
        to_version_id=target.id or 0,
        actor_id=member.id,
        note=reason,
        created_at=now,
    )
    session.add(deployment)
    session.flush()
    change_id = last.change_id if last else None
    change = session.get(ChangeRequest, change_id) if change_id else None
    if change is not None and change.state == State.DEPLOYED.value:
        transition(
            session,
            change_id=change.id or 0,
            target=State.ROLLED_BACK,
            actor=actor,
            note=reason or f"production back to v{target.number}",
            payload={"deployment_id": deployment.id},
        )
    else:
        change_id = None
    return RollbackResult(
        prompt=prompt,
        from_version=current.number,
        to_version=target.number,
        deployment_id=deployment.id or 0,
        change_id=change_id,
    )
