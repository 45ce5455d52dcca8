"""Where a change stands in its pipeline: what runs next, what it waits for, how it ended.

The ``change-pipeline`` flow and ``promptloop serve`` both ask this (the flow to choose
its next stage after every start, the runtime to tell a waiting run that what it waits
for has happened), so the answer lives once, read from the ledger alone.

    >>> step = next_step(session, change_id=7)  # doctest: +SKIP
    >>> step.stage, step.waits_for  # doctest: +SKIP
    ('review', 'review-3')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlmodel import Session

from roles.review.current import current_review
from roles.review.tally import review_progress
from roles.states import State
from roles.transitions import get_change

Stage = Literal["evaluate", "review", "approval", "done"]

# The name a finished pipeline run's final state carries in the Prefect UI, per state.
OUTCOMES = {
    State.EVAL_FAILED.value: "Eval failed",
    State.CHANGES_REQUESTED.value: "Changes requested",
    State.DEPLOYED.value: "Deployed",
    State.REJECTED.value: "Rejected",
    State.WITHDRAWN.value: "Withdrawn",
}


@dataclass(frozen=True)
class NextStep:
    change_id: int
    state: str
    stage: Stage
    waits_for: str | None = None  # e.g. "review-3": what a suspended run waits on
    message: str = ""  # what the run says it waits for, or how the change ended

    @property
    def outcome(self) -> str:
        """The final state's name for a run that stops here."""
        return OUTCOMES.get(self.state, self.state.replace("_", " ").capitalize())


def next_step(session: Session, *, change_id: int) -> NextStep:
    """What the pipeline of ``change_id`` does now, from the ledger."""
    change = get_change(session, change_id)
    state = change.state
    if state in (State.SUBMITTED.value, State.EVALUATING.value):
        return NextStep(change_id, state, "evaluate", message="evaluating")
    if state == State.IN_REVIEW.value:
        review = current_review(session, change_id=change_id)
        if review is not None and review.id is not None and review.status in ("open", "undecided"):
            progress = review_progress(session, review_id=review.id)
            return NextStep(
                change_id,
                state,
                "review",
                waits_for=f"review-{review.id}",
                message=progress.waiting_message(),
            )
        return NextStep(change_id, state, "done", message="in review, with no open review")
    if state == State.AWAITING_APPROVAL.value:
        from roles.engineer import approval_progress

        approvals, needed = approval_progress(session, change_id=change_id)
        return NextStep(
            change_id,
            state,
            "approval",
            waits_for=f"approval-{change.candidate_version_id}",
            message=f"awaiting approval ({approvals}/{needed})",
        )
    return NextStep(change_id, state, "done", message=_ended(session, change_id, state))


def still_waiting(session: Session, *, change_id: int, waits_for: str) -> bool:
    """True while what a suspended run waits on (``review-3``) has not happened yet."""
    return next_step(session, change_id=change_id).waits_for == waits_for


def _ended(session: Session, change_id: int, state: str) -> str:
    from sqlmodel import col, select

    from roles.ledger import Handoff

    last = session.exec(
        select(Handoff).where(Handoff.change_id == change_id).order_by(col(Handoff.id).desc())
    ).first()
    note = f": {last.note}" if last is not None and last.note else ""
    return f"{state}{note}"[:500]


__all__ = ["OUTCOMES", "NextStep", "Stage", "next_step", "still_waiting"]
