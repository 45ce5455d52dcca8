"""The automation's part in evaluating a change: open the evaluation, then conclude it.

Both steps are idempotent against the ledger, so a flow that restarts from its top (a
retry, a suspended run resumed) picks up where the ledger says it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from roles.datasets import find_dataset
from roles.errors import InputError
from roles.ledger import Prompt, PromptVersion
from roles.roster import SYSTEM_HANDLE
from roles.states import State
from roles.transitions import get_change, transition


@dataclass(frozen=True)
class EvalTarget:
    change_id: int
    prompt: str
    base_version_id: int | None
    candidate_version_id: int
    dataset_id: int


def open_evaluation(
    session: Session, *, change_id: int, flow_run_id: str | None = None
) -> EvalTarget | None:
    """Move a submitted change to evaluating (or find it there); None if it is elsewhere."""
    change = get_change(session, change_id)
    if change.state == State.SUBMITTED.value:
        transition(
            session,
            change_id=change_id,
            target=State.EVALUATING,
            actor=SYSTEM_HANDLE,
            note="evaluation started",
            payload={"flow_run_id": flow_run_id} if flow_run_id else None,
            expected=State.SUBMITTED,
        )
    elif change.state != State.EVALUATING.value:
        return None
    change = get_change(session, change_id)
    # A new attempt starts clean: an error recorded by an earlier one no longer applies.
    links = {k: v for k, v in change.links.items() if not k.startswith("evaluation_")}
    if flow_run_id:
        change.flow_run_id = flow_run_id
        links["evaluate_flow_run_id"] = flow_run_id
    change.links = links
    session.add(change)
    candidate = session.get(PromptVersion, change.candidate_version_id)
    base = session.get(PromptVersion, change.base_version_id) if change.base_version_id else None
    prompt = session.get(Prompt, change.prompt_id)
    assert candidate is not None and prompt is not None and change.id is not None
    dataset_name = candidate.dataset or (base.dataset if base else None)
    if not dataset_name:
        raise InputError(f"change {change_id}: the prompt names no dataset to evaluate on")
    dataset = find_dataset(session, name=dataset_name)
    assert dataset.id is not None and candidate.id is not None
    return EvalTarget(
        change_id=change.id,
        prompt=prompt.name,
        base_version_id=base.id if base else None,
        candidate_version_id=candidate.id,
        dataset_id=dataset.id,
    )


def conclude_evaluation(
    session: Session,
    *,
    change_id: int,
    passed: bool,
    reasons: list[str],
    payload: dict[str, Any],
) -> State:
    """Move an evaluating change to in_review (pass) or eval_failed (with every reason)."""
    target = State.IN_REVIEW if passed else State.EVAL_FAILED
    change = get_change(session, change_id)
    if change.state != State.EVALUATING.value:
        return State(change.state)  # concluded before (a restarted flow) or withdrawn
    failures = [r for r in reasons if r.startswith("FAIL")]
    note = "gate passed" if passed else "gate failed: " + "; ".join(failures or reasons)
    transition(
        session,
        change_id=change_id,
        target=target,
        actor=SYSTEM_HANDLE,
        note=note,
        payload={**payload, "reasons": reasons},
        expected=State.EVALUATING,
    )
    return target
