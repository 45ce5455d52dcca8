"""Holding a change's row for a decision: a conditional UPDATE on its state, so that
concurrent decisions on one change (twenty Approve clicks, two Rollback clicks) queue up
on the row and each sees what the one before it wrote.

    if not hold_change(session, change_id=7, state=State.DEPLOYED, now=now):
        ...  # it left that state meanwhile: tell the caller who moved it
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, update
from sqlmodel import Session, col

from roles.ledger import ChangeRequest
from roles.states import State


def hold_change(session: Session, *, change_id: int, state: State, now: datetime) -> bool:
    """Lock the change's row while it is in ``state``; ``False`` if it is not any more."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(ChangeRequest)
        .where(col(ChangeRequest.id) == change_id)
        .where(col(ChangeRequest.state) == state.value)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1
