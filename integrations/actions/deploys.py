"""The engineers' acts: approve or reject a deploy, roll production back.

    outcome = approve(Door.cli("sam"), change_id=7)
    outcome.decision    # "approve" (counted), "deployed", "refused" (recorded), "sent_back"

A refusal is recorded, not raised: the door commits it and tells the clicker. A deploy or a
rollback queues the webhook's event with the deployment, in the same transaction.
"""

from __future__ import annotations

from integrations.actions.door import Door, acting
from integrations.actions.outcomes import retell
from integrations.slack.notices import after_decision, rolled_back
from roles.clock import utcnow
from roles.engineer import (
    ApprovalOutcome,
    ChangeRollback,
    RollbackResult,
    rollback,
    rollback_change,
)
from roles.engineer import approve as approve_deploy
from roles.engineer import reject as reject_deploy

WAKES = ("deployed", "reject", "sent_back")  # the decisions the pipeline run acts on


def approve(door: Door, *, change_id: int, override_reason: str | None = None) -> ApprovalOutcome:
    """Approve the deploy; the approval that completes the policy's count deploys."""
    with acting(door) as session:
        outcome = approve_deploy(
            session, change_id=change_id, who=door.who, now=utcnow(),
            override_reason=override_reason,
        )  # fmt: skip
        after_decision(session, outcome)
    if outcome.decision in WAKES:
        door.wake(change_id, reason=f"deploy request: {outcome.decision}")
    return outcome


def reject(door: Door, *, change_id: int, reason: str) -> ApprovalOutcome:
    """Reject the deploy with the reason its author reads."""
    with acting(door) as session:
        outcome = reject_deploy(
            session, change_id=change_id, who=door.who, reason=reason, now=utcnow()
        )
        after_decision(session, outcome)
    if outcome.decision in WAKES:
        door.wake(change_id, reason=f"deploy request: {outcome.decision}")
    return outcome


def roll_back(
    door: Door, *, prompt: str, to_version: int | None = None, reason: str | None = None
) -> RollbackResult:
    """Production back to what the last deploy replaced (or ``to_version``)."""
    with acting(door) as session:
        actor = door.handle(session)
        result = rollback(
            session, prompt=prompt, actor=actor, now=utcnow(), to_version=to_version,
            reason=reason, who=door.who,
        )  # fmt: skip
        if result.refused is None:
            rolled_back(session, result, actor=actor, reason=reason)
    if result.refused is None and result.change_id is not None:
        retell(result.change_id)
    return result


def roll_back_change(door: Door, *, change_id: int) -> ChangeRollback:
    """The Rollback button of a deployed change: production back to what it replaced."""
    with acting(door) as session:
        outcome = rollback_change(session, change_id=change_id, who=door.who, now=utcnow())
        if outcome.result is not None:
            rolled_back(session, outcome.result, actor=outcome.actor or "?", reason=None)
    if outcome.result is not None:
        retell(change_id)
    return outcome
