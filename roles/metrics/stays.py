"""A change's stays in its states, read from its handoffs, and durations summarised.

Handoff ``i`` puts the change in ``to_state`` at ``at``; the next handoff ends that stay.
The last stay is still going on (``end`` is None).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from roles.ledger import Handoff


@dataclass(frozen=True)
class Stay:
    change_id: int
    state: str
    start: datetime
    end: datetime | None  # None: the change is still there
    next_state: str | None

    def seconds(self, now: datetime) -> float:
        return ((self.end or now) - self.start).total_seconds()


def stays_of(handoffs: Sequence[Handoff]) -> list[Stay]:
    """One change's stays, in order (its handoffs in the order they were written)."""
    following: list[Handoff | None] = [*handoffs[1:], None]
    return [
        Stay(
            change_id=h.change_id,
            state=h.to_state,
            start=h.at,
            end=after.at if after else None,
            next_state=after.to_state if after else None,
        )
        for h, after in zip(handoffs, following, strict=True)
    ]


class Durations(BaseModel):
    """How long something took: how many times (``n``), the median and the 90th percentile,
    in seconds (None when ``n`` is 0)."""

    model_config = ConfigDict(frozen=True)

    n: int
    median_s: float | None
    p90_s: float | None


def durations(seconds: Iterable[float]) -> Durations:
    """Safe on nothing; the 90th percentile interpolates between the sorted values (the
    ``inclusive`` method: numpy's default), so one value is its own median and p90."""
    values = sorted(seconds)
    if not values:
        return Durations(n=0, median_s=None, p90_s=None)
    p90 = (
        statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]
    )
    return Durations(
        n=len(values), median_s=round(statistics.median(values), 3), p90_s=round(p90, 3)
    )
