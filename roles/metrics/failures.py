"""Change failure: a deploy that later failed in production.

Each signal in ``FAILURE_SIGNALS`` looks at the deploys of a report and names the ones it
finds failed, with why; the first signal to name a deploy gives its reason. Today the
one signal is a rollback of the deployed change. A scheduled sweep that finds a deployed
version regressing is another: it joins by adding its function to ``FAILURE_SIGNALS``::

    def sweep_regressions(session, deploys):
        # deploys whose to_version_id a sweep row flagged as a significant regression
        return {d.id: f"sweep {row.id} found a regression" for d, row in ...}

    FAILURE_SIGNALS = (rolled_back, sweep_regressions)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlmodel import Session, col, select

from roles.clock import readable
from roles.ledger import Deployment, Handoff
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
            found[deploy.id] = f"rolled back at {readable(handoff.at)}"
    return found


FAILURE_SIGNALS: tuple[FailureSignal, ...] = (rolled_back,)


def failed_deploys(session: Session, deploys: Sequence[Deployment]) -> dict[int, str]:
    """Deployment id → why it counts as failed, by the first signal that names it."""
    found: dict[int, str] = {}
    for signal in FAILURE_SIGNALS:
        for deploy_id, why in signal(session, deploys).items():
            found.setdefault(deploy_id, why)
    return found
