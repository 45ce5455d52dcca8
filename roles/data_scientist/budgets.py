"""Per-item budgets: latency and cost. An unknown cost is unscored, never a pass.

::

    build_scorer({"name": "latency_budget", "args": {"max_s": 2.5}})
    build_scorer({"name": "cost_budget", "args": {"max_usd": 0.002}})
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from roles.data_scientist.registry import ScoreContext, SyncScoreFn, scorer
from roles.data_scientist.scores import Sample, Score


@scorer("latency_budget", kind="binary")
def latency_budget(max_s: Annotated[float, Field(gt=0)]) -> SyncScoreFn:
    """The model answered within ``max_s`` seconds."""

    def score(sample: Sample, ctx: ScoreContext) -> Score:
        return Score.from_check(
            sample.latency_s <= max_s, f"{sample.latency_s:.3f} s, budget {max_s} s"
        )

    return score


@scorer("cost_budget", kind="binary")
def cost_budget(max_usd: Annotated[float, Field(ge=0)]) -> SyncScoreFn:
    """The answer cost at most ``max_usd``."""

    def score(sample: Sample, ctx: ScoreContext) -> Score:
        if sample.cost_usd is None:
            return Score.could_not_score("cost unknown (no price for this model)")
        return Score.from_check(
            sample.cost_usd <= max_usd, f"${sample.cost_usd:.6f}, budget ${max_usd}"
        )

    return score
