"""Which attempt against its production a change's evaluation is, counted from the ledger.

::

    attempt = count_attempt(session, change_id=7, baseline_run=12, candidate_run=31)
    attempt.number    # 1 + the other candidates already judged against this production

Every concluded gate leaves a handoff out of ``evaluating`` whose payload names its
``baseline_run`` and ``candidate_run``. The attempts against one production are the
distinct candidate versions (a revision is a new one) judged against a baseline run of
the same production version on the same dataset version, whichever run it was: a
refreshed baseline does not reset the count (``roles.data_scientist.attempts`` says why).
This candidate itself is never counted twice, so a restarted evaluation is the same
attempt; a verdict from an outage run is void and is not counted.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from roles.data_scientist.attempts import Attempt
from roles.evaluation.records import get_run
from roles.ledger import ChangeRequest, Dataset, EvalRun, Handoff, Prompt, PromptVersion
from roles.states import State
from roles.transitions import get_change


def count_attempt(
    session: Session, *, change_id: int, baseline_run: int, candidate_run: int
) -> Attempt:
    """The attempt this evaluation is (see the module docstring)."""
    change = get_change(session, change_id)
    baseline, candidate = get_run(session, baseline_run), get_run(session, candidate_run)
    verdicts = session.exec(
        select(Handoff.payload)
        .join(ChangeRequest, col(ChangeRequest.id) == col(Handoff.change_id))
        .where(ChangeRequest.prompt_id == change.prompt_id)
        .where(Handoff.from_state == State.EVALUATING.value)
    ).all()
    pairs = [
        (int(p["baseline_run"]), int(p["candidate_run"]))
        for p in verdicts
        if p.get("baseline_run") and p.get("candidate_run")
    ]
    ids = {run_id for pair in pairs for run_id in pair}
    runs = {
        run.id: run
        for run in session.exec(select(EvalRun).where(col(EvalRun.id).in_(ids)))
    } if ids else {}  # fmt: skip
    judged = {
        runs[cand].prompt_version_id
        for base, cand in pairs
        if base in runs
        and cand in runs
        and (runs[base].prompt_version_id, runs[base].dataset_id)
        == (baseline.prompt_version_id, baseline.dataset_id)
        and "outage" not in (runs[base].status, runs[cand].status)
    }
    judged.discard(candidate.prompt_version_id)
    return Attempt(
        number=len(judged) + 1, baseline_run=baseline_run, against=_against(session, baseline)
    )


def _against(session: Session, baseline: EvalRun) -> str:
    """``production v3 of 'triage' on dataset 'tickets' v2``: what the attempts are counted on."""
    version = session.get(PromptVersion, baseline.prompt_version_id)
    prompt = session.get(Prompt, version.prompt_id) if version else None
    dataset = session.get(Dataset, baseline.dataset_id)
    assert version is not None and prompt is not None and dataset is not None
    return (
        f"production v{version.number} of {prompt.name!r} on dataset {dataset.name!r} "
        f"v{dataset.version}"
    )
