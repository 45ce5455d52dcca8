"""Change failure: a deploy that later failed in production.

Each signal in ``FAILURE_SIGNALS`` looks at the deploys of a report and names the ones it
finds failed, with why; the first signal to name a deploy gives its reason: a rollback of
the deployed change, or a scheduled sweep that found the deployed version regressing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlmodel import Session, col, select

from roles.clock import readable
from roles.ledger import Deployment, Handoff, Sweep
from roles.states import State

FailureSignal = Callable[[Session, Sequence[Deployment]], dict[int, str]]


def rolled_back(session: Session, deploys: Sequence[Deployment]) -> dict[int, str]:
    """Deploys whose change was rolled back afterwards."""
    by_change = {d.change_id: d for d in deploys if d.change_id is not None}
    if not by_change:
        return {}
    rows = session.exec(
        select(Handoff)
        .where(col(Handoff.change_id).in_(list(by_change)))
        .where(Handoff.to_state == State.ROLLED_BACK.value)
    ).all()
    found = {}
    for handoff in rows:
        deploy = by_change[handoff.change_id]
        if deploy.id is not None:
            why = f": {handoff.note}" if handoff.note else ""
            found[deploy.id] = f"rolled back at {readable(handoff.at)}{why}"
    return found


def sweep_regressions(session: Session, deploys: Sequence[Deployment]) -> dict[int, str]:
    """Deploys whose version a later sweep found regressing against its accepted run."""
    by_version = {d.to_version_id: d for d in deploys if d.kind == "deploy"}
    if not by_version:
        return {}
    rows = session.exec(
        select(Sweep)
        .where(col(Sweep.version_id).in_(list(by_version)))
        .where(Sweep.verdict == "regression")
        .order_by(col(Sweep.id))
    ).all()
    found: dict[int, str] = {}
    for row in rows:
        deploy = by_version[row.version_id]
        if deploy.id is not None and row.created_at >= deploy.created_at:
            found.setdefault(
                deploy.id, f"sweep {row.id} found a regression at {readable(row.created_at)}"
            )
    return found


FAILURE_SIGNALS: tuple[FailureSignal, ...] = (rolled_back, sweep_regressions)


def failed_deploys(session: Session, deploys: Sequence[Deployment]) -> dict[int, str]:
    """Deployment id → why it counts as failed, by the first signal that names it."""
    found: dict[int, str] = {}
    for signal in FAILURE_SIGNALS:
        for deploy_id, why in signal(session, deploys).items():
            found.setdefault(deploy_id, why)
    return found
