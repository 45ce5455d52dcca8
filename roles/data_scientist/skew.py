"""The level of the continuous test under skewed paired differences, by seeded simulation.

Each draw is ``n`` paired differences of a named right-skewed law, centred to mean 0 (a
null: the candidate is no worse) and optionally shifted by ``shift`` standard deviations
(negative: truly worse, for power). A draw counts as "worse" when the two-sided test at
``alpha`` rejects with a negative mean (a higher-is-better metric that fell), the call the
gate makes of a target or a slice. The old paired t and the bootstrap-t of ``PairedStats``
(what the scorecard uses) are run on the same draws.

::

    false_worse(SKEWED["lognormal 1.5"], n=30, reps=400, seed=1)   # (paired t, bootstrap-t)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from roles.data_scientist.statistics import PairedStats, scipy_stats

Draw = Callable[[Any, int], Any]  # (numpy Generator, n) -> differences, mean 0, sd 1


def _lognormal(shape: float) -> Draw:
    mean = math.exp(shape**2 / 2)
    sd = math.sqrt((math.exp(shape**2) - 1) * math.exp(shape**2))
    return lambda rng, n: (rng.lognormal(0.0, shape, n) - mean) / sd


SKEWED: dict[str, Draw] = {
    "exponential": lambda rng, n: rng.exponential(1.0, n) - 1.0,  # skewness 2
    "lognormal 1.0": _lognormal(1.0),  # skewness 6.2
    "lognormal 1.5": _lognormal(1.5),  # skewness 33: issue 18's case
}


def false_worse(
    draw: Draw, *, n: int, reps: int, seed: int, shift: float = 0.0, alpha: float = 0.05
) -> tuple[float, float]:
    """(paired t, bootstrap-t) shares of draws called significantly worse."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t_worse = boot_worse = 0
    for _ in range(reps):
        diffs = 1.5 * (draw(rng, n) + shift)  # sd 1.5; the scale changes neither test
        mean = float(diffs.mean())
        if mean >= 0:
            continue
        t_worse += scipy_stats().ttest_1samp(diffs, 0.0).pvalue < alpha
        p = PairedStats.from_pairs([(0.0, float(d)) for d in diffs], "continuous").p_value()
        boot_worse += p is not None and p < alpha
    return float(t_worse) / reps, float(boot_worse) / reps


def mc_error(rate: float, reps: int) -> float:
    """One Monte Carlo standard error of a simulated share."""
    return math.sqrt(max(rate * (1 - rate), 1e-12) / reps)


def holm_false_worse(
    draw: Draw, *, n: int, slices: int, reps: int, seed: int
) -> tuple[float, float]:
    """(paired t, bootstrap-t) family-wise shares of null evals where a guardrail slice is
    called a significant regression: ``slices`` tags of ``n`` items each, through the real
    scorecard and gate (Holm over the slices); the t's share recomputes the same rows'
    Holm family with the paired t (the statistics without their differences)."""
    import numpy as np

    from roles.data_scientist.comparison import ALL
    from roles.data_scientist.gate import GatePolicy, evaluate_gate
    from roles.data_scientist.scorecard import build_scorecard
    from roles.data_scientist.scores import ItemResult, MetricInfo, Sample, Score
    from roles.data_scientist.statistics import holm

    metric = MetricInfo(name="quality", kind="continuous")
    policy = GatePolicy(guardrails=[{"metric": "quality", "margin": 0.5}])
    rng = np.random.default_rng(seed)
    t_hits = boot_hits = 0
    for _ in range(reps):
        diffs = 1.5 * draw(rng, n * slices)
        sides = [
            [
                ItemResult(
                    sample=Sample(item_id=str(i), output="x", tags=[f"t{i % slices}"]),
                    scores={"quality": Score(value=float(value))},
                )
                for i, value in enumerate(values)
            ]
            for values in (np.zeros(n * slices), diffs)
        ]
        card = build_scorecard(sides[1], sides[0], [metric], family={"quality"})
        verdict = evaluate_gate(policy, card)
        boot_hits += any(
            c.kind == "slice_regression" and c.outcome == "broken" for c in verdict.checks
        )
        rows = [r for r in card.comparisons if r.slice != ALL and r.p_value is not None]
        p_t = [_or_one(r.stats.model_copy(update={"diffs": None}).p_value()) for r in rows]
        t_hits += any(
            p < 0.05 and (r.diff or 0.0) < 0 for r, p in zip(rows, holm(p_t), strict=True)
        )
    return t_hits / reps, boot_hits / reps


def _or_one(p: float | None) -> float:
    """No p-value (nothing to test) as 1; a p of exactly 0 stays 0."""
    return 1.0 if p is None else p
