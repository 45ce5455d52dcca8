"""Rolling production back: the label returns to the version before the last deploy (or
one named), a deployment row and the change's ``deployed → rolled_back`` handoff are
written, in one transaction. The label move is conditional on where it pointed, so two
rollbacks at the same moment roll back once; the second is told who was first.

    rollback(session, prompt="support-triage", actor="sam", now=now)          # the CLI
    rollback_change(session, change_id=7, who=Who(slack_user_id="U04SAM",     # a button
                    source="slack"), now=now)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlmodel import Session, col, select

from roles.approval.hold import hold_change
from roles.approval.identity import Who, decision_row, engineer_or_refusal
from roles.errors import ConflictError, InputError, PolicyError
from roles.ledger import ChangeRequest, Deployment, Member, Prompt, PromptVersion
from roles.registry import find_prompt, label_target, move_label, version_by_number
from roles.roster import require_member
from roles.states import Role, State
from roles.transitions import get_change, transition

PRODUCTION = "production"


@dataclass(frozen=True)
class RollbackResult:
    prompt: str
    from_version: int
    to_version: int
    deployment_id: int
    change_id: int | None  # the deployed change now rolled back, if a change deployed it
    refused: str | None = None  # the identity policy refused it (recorded); nothing moved


@dataclass(frozen=True)
class ChangeRollback:
    """A Rollback button's outcome: rolled back (``result``), or refused and recorded."""

    decision: Literal["rolled_back", "refused"]
    message: str
    actor: str | None = None
    result: RollbackResult | None = None


def rollback(
    session: Session,
    *,
    prompt: str,
    actor: str,
    now: datetime,
    to_version: int | None = None,
    reason: str | None = None,
    who: Who | None = None,
) -> RollbackResult:
    """Move ``production`` back to ``to_version`` (default: what the last deploy replaced).

    ``who`` is the door's identity (the CLI's): when the team's identity policy wants
    production moved from Slack only, the attempt is refused, recorded (on the last
    deploy's change) and returned with ``refused`` set; nothing moves.

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
    if who is not None:
        refused = _identity_refusal(session, who, member, found, current, now=now)
        if refused is not None:
            return refused
    latest = _latest(session, found.id or 0)
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
        .where(col(Deployment.kind).in_(("deploy", "manual")))  # an admin's hand move too
        .order_by(col(Deployment.id).desc())
    ).first()
    if to_version is not None:
        target = version_by_number(session, prompt=found, number=to_version)
    elif last is not None and last.from_version_id is not None:
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


def _identity_refusal(
    session: Session,
    who: Who,
    member: Member,
    prompt: Prompt,
    current: PromptVersion,
    *,
    now: datetime,
) -> RollbackResult | None:
    """The team's identity policy (or production's suite) wants rollbacks from Slack only:
    the attempt is recorded on the change that deployed production, if one did."""
    from roles.approval.policy import approval_policy_from_suite
    from roles.team_policy import cli_refusal

    slack_only = approval_policy_from_suite(current.suite).slack_only
    why = cli_refusal(session, who=who, act="roll production back", slack_only=slack_only)
    if why is None:
        return None
    deployed = session.exec(
        select(Deployment)
        .where(Deployment.prompt_id == prompt.id)
        .where(Deployment.to_version_id == current.id)
        .where(col(Deployment.kind).in_(("deploy", "manual")))  # an admin's hand move too
        .order_by(col(Deployment.id).desc())
    ).first()
    change = session.get(ChangeRequest, deployed.change_id) if deployed and deployed.change_id else None
    if change is not None:
        session.add(decision_row(change, who, member, "refused", f"rollback: {why}", now=now))
        session.flush()
    return RollbackResult(
        prompt=prompt.name,
        from_version=current.number,
        to_version=current.number,
        deployment_id=0,
        change_id=change.id if change else None,
        refused=why,
    )


def rollback_change(session: Session, *, change_id: int, who: Who, now: datetime) -> ChangeRollback:
    """Roll back what change ``change_id`` deployed, as ``who`` (an active engineer): the
    rules of ``prompt rollback NAME``, for that change's deploy only. A refused attempt is
    an ``Approval`` row (decision ``refused``), returned for the caller to commit.

    Raises:
        PolicyError: the change is not deployed, or production moved on since it was.
        ConflictError: it was rolled back already (says by whom), at the same moment too.
    """
    change = get_change(session, change_id)
    member, refusal = engineer_or_refusal(session, who=who, act="roll production back")
    if member is None or refusal is not None:
        session.add(decision_row(change, who, member, "refused", f"rollback: {refusal}", now=now))
        session.flush()
        return ChangeRollback(decision="refused", message=refusal or "refused")
    _take_deployed(session, change, now=now)  # clicks on one change's button queue up here
    prompt = session.get(Prompt, change.prompt_id)
    latest = _latest(session, change.prompt_id)
    assert prompt is not None and latest is not None
    current = label_target(session, prompt=prompt, label=PRODUCTION)
    moved = latest.change_id != change_id or latest.kind != "deploy"
    if moved or current is None or current.id != latest.to_version_id:
        raise PolicyError(
            f"production of '{prompt.name}' has moved since change {change_id} deployed it; "
            f"roll back from the latest deploy's request, or `promptloop prompt rollback "
            f"{prompt.name} --to VERSION`"
        )
    result = rollback(session, prompt=prompt.name, actor=member.handle, now=now)
    message = (
        f"{member.handle} rolled back change {change_id}: production of {prompt.name} is "
        f"v{result.to_version} again (was v{result.from_version})"
    )
    return ChangeRollback(
        decision="rolled_back", message=message, actor=member.handle, result=result
    )


def rollable(session: Session, *, change_id: int) -> bool:
    """Whether the change's Rollback may be offered: it is deployed, and its deploy is the
    last move of its prompt's production (no later deploy or rollback)."""
    change = get_change(session, change_id)
    if change.state != State.DEPLOYED.value:
        return False
    latest = _latest(session, change.prompt_id)
    return latest is not None and latest.kind == "deploy" and latest.change_id == change_id


def previous_deployment(session: Session, *, deployment_id: int) -> Deployment | None:
    """The move of the same prompt's production just before this one."""
    deployment = session.get(Deployment, deployment_id)
    if deployment is None:
        return None
    return session.exec(
        select(Deployment)
        .where(Deployment.prompt_id == deployment.prompt_id)
        .where(col(Deployment.id) < deployment_id)
        .order_by(col(Deployment.id).desc())
    ).first()


def _latest(session: Session, prompt_id: int) -> Deployment | None:
    return session.exec(
        select(Deployment)
        .where(Deployment.prompt_id == prompt_id)
        .order_by(col(Deployment.id).desc())
    ).first()


def rolled_back_by(session: Session, *, change_id: int) -> str | None:
    """Who rolled the change back, and when ("rolled back by sam at …"), or None."""
    row = session.exec(
        select(Deployment, Member)
        .join(Member, col(Member.id) == col(Deployment.actor_id))
        .where(Deployment.change_id == change_id)
        .where(Deployment.kind == "rollback")
        .order_by(col(Deployment.id).desc())
    ).first()
    if row is None:
        return None
    deployment, member = row
    version = session.get(PromptVersion, deployment.to_version_id)
    to = f" to v{version.number}" if version else ""
    return f"rolled back{to} by {member.handle} at {deployment.created_at:%Y-%m-%d %H:%M UTC}"


def _take_deployed(session: Session, change: ChangeRequest, *, now: datetime) -> None:
    """Lock the change's row while it is deployed, or say why it cannot be rolled back."""
    if hold_change(session, change_id=change.id or 0, state=State.DEPLOYED, now=now):
        return
    state = session.exec(select(ChangeRequest.state).where(ChangeRequest.id == change.id)).one()
    by = rolled_back_by(session, change_id=change.id or 0)
    if state == State.ROLLED_BACK.value and by:
        raise ConflictError(f"change {change.id} was {by} already; nothing was written")
    raise PolicyError(f"change {change.id} is {state}; only a deployed change can be rolled back")
