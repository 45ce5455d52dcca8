"""Since when a drifted model's answers are suspect: the last good sweep before the drift.

A sweep that finds a regression cannot say when the model behind the name changed, only
that the last sweep that read it as good (``ok``, ``recovered``, or ``no_baseline``: the
run that became the reference) came before. Everything that model answered since that
sweep's run started is suspect; with no good sweep, everything it ever answered is.

    since = trusted_until(session, version_id=7, before_sweep_id=42)  # None: no good sweep
    answered_in_drift(session, run)  # True: the run is no evidence (roles.evaluation.records)

The same window applies to the request cache (``integrations.sweeps`` removes what the
drifted models answered since then) and to eval runs (a run of the drifted model at that
endpoint started in the window is never reused as a change's baseline).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from roles.ledger import EvalRun
from roles.ledger.sweeps import Sweep

GOOD = ("ok", "recovered", "no_baseline")


def trusted_until(session: Session, *, version_id: int, before_sweep_id: int) -> datetime | None:
    """When the latest good sweep of this version before ``before_sweep_id`` started its
    run, or None when none did."""
    return session.exec(
        select(EvalRun.started_at)
        .join(Sweep, col(Sweep.eval_run_id) == col(EvalRun.id))
        .where(Sweep.version_id == version_id)
        .where(col(Sweep.verdict).in_(GOOD))
        .where(col(Sweep.id) < before_sweep_id)
        .order_by(col(Sweep.id).desc())
    ).first()


def answered_in_drift(session: Session, run: EvalRun) -> bool:
    """Whether a regression sweep of the model that answered ``run`` (the same name at the
    same endpoint) found it drifted after ``run`` started, with no good sweep between."""
    found = session.exec(
        select(Sweep, EvalRun)
        .join(EvalRun, col(EvalRun.id) == col(Sweep.eval_run_id))
        .where(Sweep.verdict == "regression")
        .where(col(Sweep.created_at) >= run.started_at)
        .where(EvalRun.model == run.model)
    ).all()
    for sweep, swept in found:
        if swept.settings.get("endpoint") != run.settings.get("endpoint") or sweep.id is None:
            continue
        since = trusted_until(session, version_id=sweep.version_id, before_sweep_id=sweep.id)
        if since is None or since <= run.started_at:
            return True
    return False
