"""A sweep's row, and what it announces: one alert per regression, its recovery, an outage.

The verdict follows from this sweep's reading and the rows before it, of the same
production version since production last moved (a deploy or a rollback starts afresh):

    reading     earlier (outages skipped)        verdict      announces
    regression  none, or not a regression        regression   the regression
    regression  a regression                     regression   nothing (announced already)
    clear       a regression                     recovered    the recovery
    clear       anything else                    ok           nothing
    clear       (no baseline to compare with)    no_baseline  nothing
    outage      the row before is no outage      outage       the outage
    outage      the row before is an outage      outage       nothing (said already)

Each announcement has an outbox key made of the row it follows (or of production's last
move, for the first), so two sweeps of the same prompt at once (a scheduled one and
`promptloop sweep`) write one message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlmodel import Session, col, select

from roles.ledger import Deployment
from roles.ledger.sweeps import Sweep, SweepVerdict
from roles.sweep.baseline import Baseline
from roles.sweep.targets import SweepTarget

Reading = Literal["regression", "clear", "outage"]
AnnouncementKind = Literal["regression", "recovered", "outage"]


@dataclass(frozen=True)
class Announcement:
    kind: AnnouncementKind
    key: str  # the outbox key: one message per regression, recovery or outage
    target: SweepTarget
    reasons: list[str]


def record_sweep(
    session: Session,
    *,
    target: SweepTarget,
    eval_run_id: int,
    baseline: Baseline | None,
    reading: Reading,
    reasons: list[str],
    flow_run_id: str | None,
    announce: Callable[[Announcement], int],
) -> Sweep:
    """Insert the sweep's row; ``announce`` writes its message (same transaction) and
    returns the outbox id."""
    query = select(Sweep).where(Sweep.version_id == target.version_id)
    moved = session.exec(
        select(Deployment)
        .where(Deployment.prompt_id == target.prompt_id)
        .order_by(col(Deployment.id).desc())
    ).first()
    start = "start"
    if moved is not None:  # production moved since (a deploy, a rollback): a fresh start
        query = query.where(col(Sweep.created_at) > moved.created_at)
        start = f"deployment-{moved.id}"
    earlier = list(session.exec(query.order_by(col(Sweep.id).desc()).limit(200)))
    verdict, kind, after = _verdict(reading, baseline, earlier)
    alert_id = None
    if kind is not None:
        anchor = f"sweep-{after.id}" if after is not None else start
        key = f"sweep:{target.prompt_id}:{target.version_id}:{kind}:after:{anchor}"
        alert_id = announce(Announcement(kind=kind, key=key, target=target, reasons=reasons))
    row = Sweep(
        prompt_id=target.prompt_id,
        version_id=target.version_id,
        eval_run_id=eval_run_id,
        baseline_run_id=baseline.run_id if baseline else None,
        baseline_source=baseline.source if baseline else None,
        verdict=verdict,
        reasons=reasons,
        alert_id=alert_id,
        flow_run_id=flow_run_id,
    )
    session.add(row)
    session.flush()
    return row


def _verdict(
    reading: Reading, baseline: Baseline | None, earlier: list[Sweep]
) -> tuple[SweepVerdict, AnnouncementKind | None, Sweep | None]:
    """The verdict, what to announce, and the row the announcement follows (None: the
    first since production last moved)."""
    last = earlier[0] if earlier else None
    settled = next((row for row in earlier if row.verdict != "outage"), None)
    if reading == "outage":
        said = last is not None and last.verdict == "outage"
        return "outage", None if said else "outage", last
    if reading == "regression":
        open_already = settled is not None and settled.verdict == "regression"
        return "regression", None if open_already else "regression", settled
    if baseline is None:
        return "no_baseline", None, None
    if settled is not None and settled.verdict == "regression":
        return "recovered", "recovered", settled
    return "ok", None, None
