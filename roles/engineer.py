"""The engineers' part of the loop: approve or reject a deploy; the last approval promotes.

    outcome = approve(session, change_id=7, who=Who(handle="sam"), now=now)
    outcome.decision   # "approve" (counted), "deployed" (it was the last one), "refused",
                       # or "sent_back" (production moved since the evaluation)
    reject(session, change_id=7, who=Who(handle="lee"), reason="…", now=now)
    rollback(session, prompt="support-triage", who=Who(handle="sam"), now=now)

The gate that must never fail open. A refused attempt (the change's author or the
candidate's, a non-engineer, a deactivated member, an unknown Slack user, the CLI when
approvals must come from Slack) is written as an ``Approval`` row with its reason and
returned, not raised, so the caller commits it. The decision takes the change's row
first (a conditional UPDATE), so concurrent approvals are counted one after another and
the last required one moves ``production``, writes the deployment and the handoffs in one
transaction: exactly once, whoever clicks at the same moment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from roles.approval.hold import hold_change
from roles.approval.identity import Who, decision_row, engineer_or_refusal, identity
from roles.approval.override import gate_override, override_of
from roles.approval.policy import ApprovalPolicy, policy_for_change
from roles.approval.rollback import (
    ChangeRollback,
    RollbackResult,
    previous_deployment,
    rollable,
    rollback,
    rollback_change,
    rolled_back_by,
)
from roles.errors import ConflictError, InputError, PolicyError
from roles.ledger import Approval, ChangeRequest, Deployment, Member, Prompt, PromptVersion
from roles.registry import label_target, move_label
from roles.roster import SYSTEM_HANDLE, find_member
from roles.states import State
from roles.team_policy import cli_refusal
from roles.transitions import get_change, transition

PRODUCTION = "production"
Outcome = Literal["approve", "deployed", "reject", "refused", "sent_back"]


class ApprovalOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    change_id: int
    decision: Outcome
    message: str
    approvals: int = 0
    needed: int = 1
    deployment_id: int | None = None


def approve(
    session: Session,
    *,
    change_id: int,
    who: Who,
    now: datetime,
    override_reason: str | None = None,
) -> ApprovalOutcome:
    """Approve the change's deploy as ``who``; the approval that completes the policy's
    count promotes the candidate to production.

    Raises:
        PolicyError: the change is not awaiting approval (deployed meanwhile: says by whom).
        RoleError: an unknown handle (an unknown Slack user is a recorded refusal).
        ConflictError: another decision landed at the same moment; nothing was written.
    """
    _known(session, who)
    change = _awaiting(session, change_id)
    policy = policy_for_change(session, change_id=change_id)
    member, refusal = _check(session, change, who, policy)
    if refusal is None:
        refusal = _gate_refusal(session, change, policy, override_reason)
    if refusal is not None:
        return _refuse(session, change, who, member, refusal, now=now, needed=policy.approvals)
    assert member is not None and member.id is not None
    _take(session, change, now=now)  # from here on, decisions on this change queue up
    stale = _stale_baseline(session, change)
    if stale is not None:
        return _send_back(session, change, stale, needed=policy.approvals)
    try:
        with session.begin_nested():
            session.add(decision_row(change, who, member, "approve", override_reason, now=now))
        again = False
    except IntegrityError:  # this engineer had approved already: counted once
        again = True
    count = _approvals(session, change)
    tally = f"({count}/{policy.approvals})"
    deployment = None
    if again:
        said = f"{member.handle} had approved change {change_id} already {tally}"
    elif count < policy.approvals:
        said = f"{member.handle} approved change {change_id} {tally}"
    else:
        try:
            deployment = _promote(session, change, member, override_reason, now=now)
        except ConflictError:
            raise _decided_first(session, change_id) from None
        said = (
            f"{member.handle} approved change {change_id} {tally}: deployed, production is "
            f"now v{_number(session, change.candidate_version_id)}"
        )
    return ApprovalOutcome(
        change_id=change_id,
        decision="deployed" if deployment else "approve",
        message=said,
        approvals=count,
        needed=policy.approvals,
        deployment_id=deployment.id if deployment else None,
    )


def reject(
    session: Session,
    *,
    change_id: int,
    who: Who,
    reason: str,
    now: datetime,
) -> ApprovalOutcome:
    """Reject the deploy, with the reason the author will read; refusals as ``approve``."""
    if not reason or not reason.strip():
        raise InputError("a rejection needs a reason (--reason): the author reads it")
    _known(session, who)
    change = _awaiting(session, change_id)
    policy = policy_for_change(session, change_id=change_id)
    member, refusal = _check(session, change, who, policy)
    if refusal is not None:
        return _refuse(session, change, who, member, refusal, now=now, needed=policy.approvals)
    assert member is not None
    _take(session, change, now=now)
    session.add(decision_row(change, who, member, "reject", reason.strip(), now=now))
    transition(
        session,
        change_id=change_id,
        target=State.REJECTED,
        actor=member.handle,
        note=reason.strip(),
        payload=identity(who),
    )
    return ApprovalOutcome(
        change_id=change_id,
        decision="reject",
        message=f"{member.handle} rejected change {change_id}: {reason.strip()}",
        needed=policy.approvals,
    )


def approval_progress(session: Session, *, change_id: int) -> tuple[int, int]:
    """(approvals counted for the current candidate, approvals the policy needs)."""
    change = get_change(session, change_id)
    return _approvals(session, change), policy_for_change(session, change_id=change_id).approvals


def decided_by(session: Session, *, change_id: int) -> str | None:
    """Who deployed or rejected the change, and when: what a late clicker is told."""
    row = session.exec(
        select(Approval, Member)
        .join(Member, col(Member.id) == col(Approval.member_id))
        .where(Approval.change_id == change_id)
        .where(col(Approval.decision).in_(("approve", "reject")))
        .order_by(col(Approval.id).desc())
    ).first()
    if row is None:
        return None
    approval, member = row
    verb = "approved" if approval.decision == "approve" else "rejected"
    return f"{verb} by {member.handle} at {approval.created_at:%Y-%m-%d %H:%M UTC}"


def _known(session: Session, who: Who) -> None:
    """A handle typed on the CLI names someone on the team, before anything else is said."""
    if who.slack_user_id is None and who.handle is not None:
        find_member(session, handle=who.handle)


def _awaiting(session: Session, change_id: int) -> ChangeRequest:
    change = get_change(session, change_id)
    session.refresh(change)
    if change.state == State.AWAITING_APPROVAL.value:
        return change
    who = decided_by(session, change_id=change_id)
    already = f" ({who})" if who and change.state in ("deployed", "rejected") else ""
    raise PolicyError(
        f"change {change_id} is {change.state}{already}; only a change awaiting approval can "
        "be approved or rejected"
    )


def _check(
    session: Session,
    change: ChangeRequest,
    who: Who,
    policy: ApprovalPolicy,
) -> tuple[Member | None, str | None]:
    """The deciding member, and why they may not decide (None: they may). Where the
    decision may come from is the ledger's identity policy (``roles.team_policy``), never
    the caller's environment."""
    member, refusal = engineer_or_refusal(session, who=who)
    if member is None or refusal is not None:
        return member, refusal
    candidate = session.get(PromptVersion, change.candidate_version_id)
    if member.id == change.author_id:
        return member, (
            f"'{member.handle}' wrote change {change.id} and cannot approve or reject it "
            "(separation of duties)"
        )
    if candidate is not None and member.id == candidate.author_id:
        return member, (
            f"'{member.handle}' authored the candidate version of change {change.id} and "
            "cannot approve or reject it (separation of duties)"
        )
    return member, cli_refusal(
        session, who=who, act="approve or reject a deploy", slack_only=policy.slack_only
    )


def _gate_refusal(
    session: Session, change: ChangeRequest, policy: ApprovalPolicy, override: str | None
) -> str | None:
    needed = gate_override(session, change_id=change.id or 0)
    if needed == "forbidden":
        return (
            "the gate was inconclusive and this prompt's policy does not allow approving "
            "over it (suite.approval.allow_override); reject it, or evaluate on more items"
        )
    if needed == "needs_reason" and (not override or not override.strip()):
        return (
            "the gate was inconclusive: an override needs a reason (--override-reason, or "
            "Approve in Slack, which asks for it)"
        )
    return None


def _refuse(
    session: Session,
    change: ChangeRequest,
    who: Who,
    member: Member | None,
    why: str,
    *,
    now: datetime,
    needed: int,
) -> ApprovalOutcome:
    session.add(decision_row(change, who, member, "refused", why, now=now))
    session.flush()
    return ApprovalOutcome(
        change_id=change.id or 0,
        decision="refused",
        message=why,
        approvals=_approvals(session, change),
        needed=needed,
    )


def _take(session: Session, change: ChangeRequest, *, now: datetime) -> None:
    """Lock the change's row while it awaits approval: decisions are counted one by one."""
    if not hold_change(session, change_id=change.id or 0, state=State.AWAITING_APPROVAL, now=now):
        raise _decided_first(session, change.id or 0)


def _decided_first(session: Session, change_id: int) -> ConflictError:
    """What a decision that lost the race is told: who decided first."""
    state = session.exec(select(ChangeRequest.state).where(ChangeRequest.id == change_id)).one()
    who = decided_by(session, change_id=change_id)
    return ConflictError(
        f"change {change_id} is {state} now"
        + (f" ({who})" if who else "")
        + "; nothing was written"
    )


def _approvals(session: Session, change: ChangeRequest) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(Approval)
            .where(Approval.change_id == change.id)
            .where(Approval.candidate_version_id == change.candidate_version_id)
            .where(Approval.decision == "approve")
        ).one()
    )


def _stale_baseline(session: Session, change: ChangeRequest) -> str | None:
    prompt = session.get(Prompt, change.prompt_id)
    assert prompt is not None
    production = label_target(session, prompt=prompt, label=PRODUCTION)
    now_id = production.id if production else None
    if now_id == change.base_version_id:
        return None
    was = f"v{_number(session, change.base_version_id)}" if change.base_version_id else "none"
    now = f"v{production.number}" if production else "none"
    return f"production moved from {was} to {now} since this change was evaluated"


def _send_back(
    session: Session, change: ChangeRequest, why: str, *, needed: int
) -> ApprovalOutcome:
    """Evidence against an old production proves nothing about the new one: the change goes
    back to be evaluated against production as it is now."""
    prompt = session.get(Prompt, change.prompt_id)
    assert prompt is not None and change.id is not None
    production = label_target(session, prompt=prompt, label=PRODUCTION)
    transition(
        session,
        change_id=change.id,
        target=State.SUBMITTED,
        actor=SYSTEM_HANDLE,
        note=f"sent back to be evaluated again: {why}",
        expected=State.AWAITING_APPROVAL,
    )
    change = get_change(session, change.id)
    change.base_version_id = production.id if production else None
    session.add(change)
    session.flush()
    return ApprovalOutcome(
        change_id=change.id or 0,
        decision="sent_back",
        message=f"change {change.id} cannot deploy on that evidence: {why}; it is evaluated "
        "again against the new production",
        needed=needed,
    )


def _promote(
    session: Session,
    change: ChangeRequest,
    member: Member,
    override_reason: str | None,
    *,
    now: datetime,
) -> Deployment:
    """approved → production moved → deployment row → deployed, in the caller's transaction."""
    assert change.id is not None and member.id is not None
    note = f"override: {override_reason.strip()}" if override_reason else None
    transition(
        session,
        change_id=change.id,
        target=State.APPROVED,
        actor=member.handle,
        note=note,
        expected=State.AWAITING_APPROVAL,
    )
    prompt = session.get(Prompt, change.prompt_id)
    candidate = session.get(PromptVersion, change.candidate_version_id)
    assert prompt is not None and candidate is not None
    move_label(
        session,
        prompt=prompt,
        label=PRODUCTION,
        version=candidate,
        actor=member,
        expected_from=change.base_version_id,
        change_id=change.id,
        note=f"deployed by change {change.id}",
    )
    deployment = Deployment(
        prompt_id=prompt.id or 0,
        change_id=change.id,
        kind="deploy",
        from_version_id=change.base_version_id,
        to_version_id=candidate.id or 0,
        actor_id=member.id,
        note=note,
        created_at=now,
    )
    session.add(deployment)
    session.flush()
    transition(
        session,
        change_id=change.id,
        target=State.DEPLOYED,
        actor=SYSTEM_HANDLE,
        note=f"production is v{candidate.number} (was "
        f"{'v' + str(_number(session, change.base_version_id)) if change.base_version_id else 'none'})",
        payload={"deployment_id": deployment.id},
        expected=State.APPROVED,
    )
    return deployment


def _number(session: Session, version_id: int | None) -> int | None:
    version = session.get(PromptVersion, version_id) if version_id else None
    return version.number if version else None


__all__ = [
    "ApprovalOutcome",
    "ApprovalPolicy",
    "ChangeRollback",
    "RollbackResult",
    "Who",
    "approval_progress",
    "approve",
    "decided_by",
    "gate_override",
    "override_of",
    "previous_deployment",
    "reject",
    "rollable",
    "rollback",
    "rollback_change",
    "rolled_back_by",
]
