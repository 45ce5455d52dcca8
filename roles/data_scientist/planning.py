"""How many items a suite's gate needs: the sample-size question, per gated claim.

::

    plan_items(suite, effect=0.05, baseline=prod_results, candidate=other_results,
               dataset_items=30)
    # [Requirement(check="target correct must improve by 0.05", items_needed=412, ...), ...]

For each claim the gate makes on all items — the target (a gain of ``effect``, or not
worse than its margin) and every guardrail (not worse than its margin, when truly
unchanged) — the items needed for the settings' power with the test the gate uses, at its
level (``power.items_needed``). The spread of the paired differences comes from two
recorded runs on the same dataset when there are (observed discordance or sd), else from
one run assuming independent answers (conservative), else from a 50 % pass rate.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from roles.data_scientist import power as pw
from roles.data_scientist.comparison import compare
from roles.data_scientist.metrics import BUILTIN_METRICS
from roles.data_scientist.scorecard import with_builtins
from roles.data_scientist.scores import ItemResult, MetricInfo, MetricKind
from roles.data_scientist.suite import Suite


class Requirement(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    check: str
    metric: str
    kind: MetricKind
    claim: str  # "improve" or "not worse"
    effect: float  # the gain to detect, or the margin to show
    spread: float | None  # discordance (binary) or sd of the differences (continuous)
    assumption: str  # where the spread comes from
    dataset_items: int
    items_needed: int | None  # None: not reachable (margin 0, no spread, or > 100,000)
    power_at_dataset_size: float | None  # for a gain; None for a not-worse claim


def plan_items(
    suite: Suite,
    *,
    effect: float,
    dataset_items: int,
    baseline: Sequence[ItemResult] | None = None,
    candidate: Sequence[ItemResult] | None = None,
) -> list[Requirement]:
    metrics = {m.name: m for m in [*suite.metrics(), *BUILTIN_METRICS.values()]}
    gate = suite.gate
    claims: list[tuple[str, str, str, float]] = []
    if gate.target is not None:
        t = gate.target
        if t.must == "improve":
            claims.append(
                (f"target {t.metric} must improve by {effect:g}", t.metric, "improve", effect)
            )
        else:
            claims.append(
                (f"target {t.metric} not worse than {t.margin:g}", t.metric, "not worse", t.margin)
            )
    for g in gate.guardrails:
        claims.append(
            (f"guardrail {g.metric} within {g.margin:g}", g.metric, "not worse", g.margin)
        )
    return [
        _requirement(check, metrics[name], claim, size, suite, dataset_items, baseline, candidate)
        for check, name, claim, size in claims
        if name in metrics
    ]  # fmt: skip


def _requirement(
    check: str,
    metric: MetricInfo,
    claim: str,
    size: float,
    suite: Suite,
    dataset_items: int,
    baseline: Sequence[ItemResult] | None,
    candidate: Sequence[ItemResult] | None,
) -> Requirement:
    settings = suite.statistics
    gain = size if claim == "improve" else 0.0
    spread, rate, assumption = _spread(metric, gain, baseline, candidate)
    needed = power_now = None
    if spread is not None and size > 0:
        needed = pw.items_needed(
            metric.kind, effect=size, spread=spread, alpha=settings.alpha, power=settings.power,
            margin=None if claim == "improve" else size, rate=rate,
        )  # fmt: skip
        if claim == "improve":
            power_now = pw.superiority_power(metric.kind, n=dataset_items, spread=spread,
                                             effect=size, alpha=settings.alpha)  # fmt: skip
    return Requirement(
        check=check, metric=metric.name, kind=metric.kind, claim=claim, effect=size,
        spread=spread, assumption=assumption, dataset_items=dataset_items,
        items_needed=needed, power_at_dataset_size=power_now,
    )  # fmt: skip


def _values(results: Sequence[ItemResult], metric: str) -> dict[str, float]:
    out = {}
    for result in results:
        score = with_builtins(result).scores.get(metric)
        if score is not None and score.value is not None:
            out[result.sample.item_id] = score.value
    return out


def _spread(
    metric: MetricInfo,
    gain: float,
    baseline: Sequence[ItemResult] | None,
    candidate: Sequence[ItemResult] | None,
) -> tuple[float | None, float, str]:
    """(spread, baseline rate, where they come from)."""
    if baseline and candidate:
        rows = compare(baseline, candidate, [metric])
        stats = rows[0].stats
        if stats.n >= 2:
            spread = stats.discordance if metric.kind == "binary" else stats.sd_diff
            what = "discordance" if metric.kind == "binary" else "sd of differences"
            return (
                spread,
                stats.baseline_rate,
                f"{what} observed between two recorded runs (n={stats.n})",
            )
    values = list(_values(baseline or [], metric.name).values())
    if metric.kind == "binary":
        p = statistics.fmean(values) if values else 0.5
        source = f"rate {p:.2f} from a recorded run" if values else "no recorded run: rate 0.5"
        q = min(max(p + gain, 0.0), 1.0)
        return p * (1 - q) + (1 - p) * q, p, f"{source}, answers assumed independent"
    if len(values) < 2:
        return None, 0.5, "no recorded run with scores to estimate a spread from"
    sd = math.sqrt(2) * statistics.stdev(values)
    return sd, 0.5, "sd from a recorded run, answers assumed independent"  # fmt: skip
