"""Coverage gaps: failures the experts report that no scorer catches (the guard against
optimizing a suite that measures the wrong things).

::

    coverage_gaps([("tone", False), ("tone", False), ("tone", False), ("wrong", True)], GapPolicy())
    # [CoverageGap("tone", expert_fails=3, caught=0, share_caught=0.0, flagged=True),
    #  CoverageGap("wrong", expert_fails=1, caught=1, share_caught=1.0, flagged=False)]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class GapPolicy(BaseModel):
    """A category is a gap with at least ``min_fails`` expert fails of which fewer than
    ``max_share_caught`` some scorer also failed."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    min_fails: int = Field(3, ge=1)
    max_share_caught: float = Field(0.2, ge=0, le=1)


@dataclass(frozen=True)
class CoverageGap:
    category: str
    expert_fails: int
    caught: int  # of those, items some scorer failed too
    share_caught: float
    flagged: bool


def coverage_gaps(fails: Iterable[tuple[str, bool]], policy: GapPolicy) -> list[CoverageGap]:
    """One row per category from ``fails`` = (category an expert chose when voting Fail on
    an item, whether any scorer failed that item) — one entry per item and category.

    Flagged categories first, then by expert fails (most first), then by name.
    """
    totals: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    for category, scorer_failed in fails:
        totals[category] += 1
        caught[category] += bool(scorer_failed)
    rows = [
        CoverageGap(
            category=category,
            expert_fails=total,
            caught=caught[category],
            share_caught=caught[category] / total,
            flagged=total >= policy.min_fails
            and caught[category] / total < policy.max_share_caught,
        )
        for category, total in totals.items()
    ]
    return sorted(rows, key=lambda row: (not row.flagged, -row.expert_fails, row.category))
