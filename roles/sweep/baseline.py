"""The run a sweep compares production with: the one it was accepted on.

1. the deploy's: the candidate run the deploying change's gate judged (the latest
   ``deploy`` of this version; a rolled-back-to version has its own, older deploy);
2. else (a prompt promoted by hand, or the deploy's run scored another dataset version
   or suite): the run of this version's first sweep that had no baseline, which became
   the reference. Later sweeps compare with that run, not with yesterday's: a drift
   that creeps a little each day still adds up to one regression, and a regression
   does not become the next day's reference.
3. else none: the sweep says ``no_baseline`` and its run becomes the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlmodel import Session, col, select

from roles.changes import verdict_of
from roles.ledger import Deployment, EvalRun
from roles.ledger.sweeps import Sweep


@dataclass(frozen=True)
class Baseline:
    run_id: int
    source: Literal["deploy", "sweep"]
    note: str


def find_baseline(
    session: Session, *, version_id: int, dataset_id: int, suite_hash: str
) -> tuple[Baseline | None, str]:
    """The baseline run (or None) and a sentence saying where it came from or why none."""
    why_not = "no deploy accepted this version (promoted by hand?) and no earlier sweep of it"
    deploy = session.exec(
        select(Deployment)
        .where(Deployment.to_version_id == version_id)
        .where(Deployment.kind == "deploy")
        .where(col(Deployment.change_id).is_not(None))
        .order_by(col(Deployment.id).desc())
    ).first()
    if deploy is not None and deploy.change_id is not None:
        verdict = verdict_of(session, change_id=deploy.change_id)
        run_id = (verdict or {}).get("payload", {}).get("candidate_run")
        run = session.get(EvalRun, run_id) if run_id else None
        if run is not None and _comparable(run, dataset_id, suite_hash) and run.id is not None:
            note = f"eval run {run.id}, the one change #{deploy.change_id}'s gate accepted"
            return Baseline(run.id, "deploy", note), note
        why_not = (
            f"change #{deploy.change_id}'s accepted run scored another dataset version or suite"
            if run is not None
            else f"change #{deploy.change_id} has no accepted eval run on record"
        )
    first = session.exec(
        select(Sweep, EvalRun)
        .join(EvalRun, col(EvalRun.id) == col(Sweep.eval_run_id))
        .where(Sweep.version_id == version_id)
        .where(Sweep.verdict == "no_baseline")
        .where(EvalRun.dataset_id == dataset_id)
        .where(EvalRun.suite_hash == suite_hash)
        .where(EvalRun.status == "finished")
        .order_by(col(Sweep.id))
    ).first()
    if first is not None:
        sweep, run = first
        note = f"eval run {run.id}, sweep {sweep.id}'s ({why_not})"
        assert run.id is not None
        return Baseline(run.id, "sweep", note), note
    return None, f"no baseline: {why_not}"


def _comparable(run: EvalRun, dataset_id: int, suite_hash: str) -> bool:
    return (
        run.status == "finished" and run.dataset_id == dataset_id and run.suite_hash == suite_hash
    )
