"""Taking an open review's row before writing to it: one writer per review at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, update
from sqlmodel import Session, col

from roles.errors import PolicyError
from roles.ledger import Review


def take_open(
    session: Session, *, review: Review, now: datetime, statuses: tuple[str, ...] = ("open",)
) -> None:
    """Lock the review's row if it is still open (or in one of ``statuses``), else refuse.

    A conditional UPDATE: on PostgreSQL it holds the row until commit (a second writer
    waits, then reads what the first wrote); on SQLite it takes the write lock.
    """
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Review)
        .where(col(Review.id) == review.id)
        .where(col(Review.status).in_(statuses))
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.refresh(review)
        raise PolicyError(f"review {review.id} is {review.status}; it takes no more votes")
