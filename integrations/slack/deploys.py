"""The deploy request an engineer decides on, built from the ledger, and kept up to date.

    post_deploy_request(session, change_id=7, run_url=url)  # when the change awaits approval
    refresh_deploy_request(session, change_id=7)            # after each decision

One message per candidate (its outbox key), updated in place: the approvals counted, then
who deployed or rejected it in place of the buttons.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from integrations.slack.blocks import DeployRequestView, deploy_request
from integrations.slack.post import link_in, post_message, revise_message
from roles.calibration.status import change_note
from roles.changes import verdict_of
from roles.engineer import (
    approval_progress,
    decided_by,
    gate_override,
    override_of,
    rollable,
    rolled_back_by,
)
from roles.ledger import Handoff, Member, OutboxKind, OutboxMessage, Prompt, PromptVersion
from roles.outbox import find_message
from roles.registry import version_diff
from roles.transitions import get_change

SCORECARD_LINES = 8
GATE_NOTES = {
    "needs_reason": "inconclusive (flagged) — approval needs an override reason",
    "forbidden": "inconclusive (flagged) — this prompt's policy allows no override "
    "(suite.approval.allow_override): reject it, or evaluate on more items",
}


def deploy_key(change_id: int, candidate_version_id: int) -> str:
    return f"deploy:{change_id}:{candidate_version_id}"


def deploy_view(session: Session, *, change_id: int, run_url: str | None) -> DeployRequestView:
    change = get_change(session, change_id)
    prompt = session.get(Prompt, change.prompt_id)
    author = session.get(Member, change.author_id)
    candidate = session.get(PromptVersion, change.candidate_version_id)
    base = session.get(PromptVersion, change.base_version_id) if change.base_version_id else None
    assert prompt is not None and candidate is not None
    reasons = list(
        ((verdict_of(session, change_id=change_id) or {}).get("payload") or {}).get("reasons", [])
    )
    gated = [r for r in reasons if "unscored" not in r][:SCORECARD_LINES]
    approvals, needed = approval_progress(session, change_id=change_id)
    decided = None
    if change.state in ("deployed", "rejected", "rolled_back", "submitted", "withdrawn"):
        decided = f"{change.state}" + (
            f": {who}" if (who := decided_by(session, change_id=change_id)) else ""
        )
    if change.state == "rolled_back":
        decided = f"{decided}; {rolled_back_by(session, change_id=change_id) or 'rolled back'}"
    gate = gate_override(session, change_id=change_id)
    return DeployRequestView(
        change_id=change_id,
        prompt=prompt.name,
        author=author.handle if author else "?",
        author_slack_id=author.slack_user_id if author else None,
        from_version=base.number if base else None,
        to_version=candidate.number,
        scorecard=gated or ["no gate reasons recorded"],
        review_outcome=_review_note(session, change_id),
        judge_status=change_note(session, change_id=change_id),  # judges' trust, coverage gaps
        diff=version_diff(base, candidate, name=prompt.name) or "(no difference)",
        run_url=run_url,
        approvals=approvals,
        approvals_needed=needed,
        decided=decided,
        gate=GATE_NOTES.get(gate),
        needs_override_reason=gate == "needs_reason",
        override=override_line(session, change_id=change_id),
        can_roll_back=rollable(session, change_id=change_id),
    )


def override_line(session: Session, *, change_id: int) -> str | None:
    """ "sam overrode the gate: <reason>", for the deploy request and the deployed notice."""
    found = override_of(session, change_id=change_id)
    return f"{found[0]} approved over the gate's flag: {found[1]}" if found else None


def post_deploy_request(
    session: Session, *, change_id: int, run_url: str | None = None
) -> OutboxMessage:
    """The change's deploy request in the deploy channel (once per candidate)."""
    change = get_change(session, change_id)
    return post_message(
        session,
        kind=OutboxKind.DEPLOY_REQUEST,
        message=deploy_request(deploy_view(session, change_id=change_id, run_url=run_url)),
        change_id=change_id,
        key=deploy_key(change_id, change.candidate_version_id),
    )


def refresh_deploy_request(session: Session, *, change_id: int) -> bool:
    change = get_change(session, change_id)
    found = find_message(session, key=deploy_key(change_id, change.candidate_version_id))
    if found is None or found.id is None:
        return False
    view = deploy_view(session, change_id=change_id, run_url=link_in(found))
    return revise_message(session, message_id=found.id, message=deploy_request(view))


def _review_note(session: Session, change_id: int) -> str:
    handoff = session.exec(
        select(Handoff)
        .where(Handoff.change_id == change_id)
        .where(Handoff.to_state == "awaiting_approval")
        .order_by(col(Handoff.id).desc())
    ).first()
    return (handoff.note or "review passed") if handoff else "no review recorded"
