"""The automation's part in evaluating a change: open the evaluation, then conclude it.

Both steps are idempotent against the ledger, so a flow that restarts from its top (a
retry, a suspended run resumed) picks up where the ledger says it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlmodel import Session

from roles.clock import utcnow
from roles.datasets import find_dataset
from roles.errors import InputError, PolicyError
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
    change.evaluation_error = change.evaluation_error_kind = change.evaluation_log = None
    change.evaluation_error_at = None
    if flow_run_id:
        # Only the evaluation's own run: the change's pipeline run has one writer
        # (integrations.pipeline_runs.record_run).
        change.evaluate_flow_run_id = flow_run_id
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
    flags = [r for r in reasons if r.startswith("INCONCLUSIVE")]
    if not passed:
        note = "gate failed: " + "; ".join(failures or reasons)
    elif flags:
        note = "gate inconclusive, goes on to review flagged: " + "; ".join(flags)
    else:
        note = "gate passed"
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


ErrorKind = Literal["outage", "input", "bug"]


def note_evaluation_error(
    session: Session, *, change_id: int, kind: ErrorKind, message: str, log: str | None = None
) -> None:
    """Leave why the evaluation could not conclude where ``change show`` looks; the change
    stays where it is (an outage or a crash is no verdict on it). The next attempt clears it."""
    change = get_change(session, change_id)
    change.evaluation_error = message
    change.evaluation_error_kind = kind
    change.evaluation_error_at = utcnow()
    change.evaluation_log = log
    session.add(change)


def outage_verdict(session: Session, *, change_id: int) -> str | None:
    """Why the change's eval_failed verdict is void, if it came from an outage: the runs
    that judged it are marked ``outage`` (ledgers from before outages were told apart)."""
    from roles.changes import verdict_of
    from roles.ledger import EvalRun

    verdict = verdict_of(session, change_id=change_id)
    if verdict is None or verdict["to_state"] != State.EVAL_FAILED.value:
        return None
    for key in ("baseline_run", "candidate_run"):
        run_id = verdict["payload"].get(key)
        run = session.get(EvalRun, run_id) if run_id else None
        if run is not None and run.status == "outage":
            return f"eval run {run.id} had an outage ({run.outage_items}/{run.items} items)"
    return None


def prepare_reevaluation(session: Session, *, change_id: int, actor: str | None) -> None:
    """Check that the change may be evaluated (again) now, and make it so.

    Submitted and evaluating changes are evaluated as they are. An eval_failed change is
    evaluated again only when its verdict came from an outage, and only at its author's
    request: it goes back to submitted, saying why. Anything else is refused.
    """
    change = get_change(session, change_id)
    if change.state in (State.SUBMITTED.value, State.EVALUATING.value):
        return
    why = outage_verdict(session, change_id=change_id)
    if change.state != State.EVAL_FAILED.value or why is None:
        raise PolicyError(
            f"change {change_id} is {change.state}; only submitted or evaluating changes are "
            "evaluated (and eval_failed ones whose verdict came from an outage)"
        )
    if actor is None:
        raise InputError(
            f"change {change_id} failed its evaluation in an outage ({why}); its author may "
            f"evaluate it again: `promptloop change evaluate {change_id} --as AUTHOR`"
        )
    transition(
        session,
        change_id=change_id,
        target=State.SUBMITTED,
        actor=actor,
        note=f"evaluated again: the verdict came from an outage ({why})",
        expected=State.EVAL_FAILED,
    )
