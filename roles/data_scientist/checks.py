"""One gated claim about one scorecard row: held, broken or inconclusive — and why, in numbers.

- ``superiority`` (a target that must improve): held when the row's own two-sided test is
  significant at ``alpha`` in the better direction, broken when it is in the worse one.
- ``noninferiority`` (guardrails, a target that must not regress): the candidate is worse
  by at most ``margin``. Held when the 1 - alpha interval's worse bound is inside the margin
  (one-sided alpha / 2), broken when the whole interval is beyond it.
- Either way, a held claim must survive the sensitivity check (the candidate's unscored
  items as failures, the baseline's as passes), or it is inconclusive and not robust.

Anything else is inconclusive, with the smallest effect (or margin) this test can show at
this n with the settings' power.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from roles.data_scientist import power as pw
from roles.data_scientist.comparison import Comparison
from roles.data_scientist.statistics import PairedStats, StatsSettings

CheckOutcome = Literal["held", "broken", "inconclusive"]
CheckKind = Literal["target", "guardrail", "unscored", "slice_regression", "limit", "threshold"]


class CheckResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: CheckKind
    metric: str | None
    outcome: CheckOutcome
    reason: str
    robust: bool = True  # False: held on scored items only, not with unscored ones counted
    mde: float | None = None  # smallest effect (or margin) this check can show, at its n


def describe(row: Comparison | None, stats: PairedStats | None = None, level: float = 0.95) -> str:
    """The row's numbers: both sides' levels, effect, interval, test, n and what it could
    not use: ``0 → 0.525, diff +0.525, 95% CI [+0.36, +0.68], exact McNemar p 1.2e-07, …``."""
    if row is None:
        return "not in the scorecard"
    levels = _levels(row, stats)
    stats = stats or row.stats
    unscored = f"unscored: candidate {row.n_unscored_candidate}, baseline {row.n_unscored_baseline}"
    if stats.mean_diff is None:
        return f"no pairs to compare; {unscored}"
    interval, p = stats.interval(level), stats.p_value()
    ci = "no interval" if interval is None else f"CI [{interval[0]:+.3g}, {interval[1]:+.3g}]"
    test = "untested" if p is None else f"{row.test} p {p:.3g}"
    return f"{levels}diff {stats.mean_diff:+.3g}, {level:.0%} {ci}, {test}, n={stats.n}; {unscored}"


def _levels(row: Comparison, stats: PairedStats | None) -> str:
    """``baseline → candidate, `` over the same pairs as the difference (a binary worst case
    from its cells; a continuous one has no levels to show)."""
    if stats is None or stats is row.stats:
        base, cand = row.baseline, row.candidate
    elif stats.kind == "binary" and stats.n:
        base, cand = stats.baseline_rate, (stats.n11 + stats.n01) / stats.n
    else:
        return ""
    if base is None or cand is None:
        return ""
    return f"{base:.3g} → {cand:.3g}, "


def superiority(
    row: Comparison, settings: StatsSettings, alpha: float | None = None
) -> CheckResult:
    """``alpha``: the level to test at, when not the settings' (spent over attempts)."""
    alpha = settings.alpha if alpha is None else alpha
    label, size = f"target {row.metric} must improve", row.mde  # the row's test, at alpha
    if alpha != settings.alpha:
        size = pw.mde(row.kind, n=row.n_pairs, spread=_spread(row.stats), alpha=alpha,
                      power=settings.power)  # fmt: skip

    def shown(stats: PairedStats) -> bool | None:
        p = stats.p_value()
        if p is None or stats.mean_diff is None or p >= alpha:
            return None
        return row.better(stats.mean_diff)

    def result(outcome: CheckOutcome, why: str, robust: bool = True) -> CheckResult:
        text = f"{label}: {why} ({describe(row, level=1 - alpha)})"
        return CheckResult(kind="target", metric=row.metric, outcome=outcome, reason=text,
                           robust=robust, mde=size)  # fmt: skip

    verdict = shown(row.stats)
    if verdict is False:
        return result("broken", "significantly worse")
    if verdict is None:
        why = "no significant gain; " + _detectable(row, size, "gains")
        interval, p = row.stats.interval(1 - alpha), row.stats.p_value()
        if interval is not None and p is not None and (interval[0] > 0 or interval[1] < 0):
            why += (
                f"; the score interval excludes 0 but the {row.test} test, which decides and is "
                f"exact, has p {p:.3g} >= {alpha:g}"
            )
        return result("inconclusive", why)
    if row.worst_case is not None and not shown(row.worst_case):
        return result("inconclusive", _not_robust(row, row.worst_case, alpha), robust=False)
    return result("held", "improved")


def noninferiority(
    row: Comparison,
    margin: float,
    settings: StatsSettings,
    kind: CheckKind,
    label: str,
    alpha: float | None = None,
) -> CheckResult:
    alpha = settings.alpha if alpha is None else alpha
    size = pw.noninferiority_mde(
        row.kind, n=row.n_pairs, spread=_spread(row.stats), alpha=alpha, power=settings.power,
        rate=row.stats.baseline_rate, higher_is_better=row.higher_is_better,
        n_sims=settings.n_resamples, seed=settings.seed,
    )  # fmt: skip

    def bounds(stats: PairedStats) -> tuple[float, float] | None:
        """(least, most) the candidate may be worse by, from the interval."""
        interval = stats.interval(1 - alpha)
        if interval is None:
            return None
        low, high = interval
        return (-high, -low) if row.higher_is_better else (low, high)

    def result(outcome: CheckOutcome, why: str, robust: bool = True) -> CheckResult:
        text = f"{label} {outcome}: {why} ({describe(row, level=1 - alpha)})"
        return CheckResult(kind=kind, metric=row.metric, outcome=outcome, reason=text,
                           robust=robust, mde=size)  # fmt: skip

    found = bounds(row.stats)
    if found is None:
        return result("inconclusive", f"too few pairs to bound the change (n={row.n_pairs})")
    least, most = found
    if least > margin:
        return result("broken", f"worse by more than the margin {margin:g}: at least {least:.3g}")
    if most >= margin:
        why = (
            f"at n={row.n_pairs} this test can rule out only {_worsening(row)} larger than "
            f"{max(most, 0.0):.3g}; the margin is {margin:g}"
        )
        if size is not None:
            why += f" (with {settings.power:.0%} power it shows margins from {size:.3g} at this n)"
        return result("inconclusive", why)
    worst = bounds(row.worst_case) if row.worst_case is not None else None
    if row.worst_case is not None and (worst is None or worst[1] >= margin):
        return result("inconclusive", _not_robust(row, row.worst_case, alpha), robust=False)
    return result("held", f"worse by at most {max(most, 0.0):.3g}, within the margin {margin:g}")


def _spread(stats: PairedStats) -> float:
    return stats.discordance if stats.kind == "binary" else (stats.sd_diff or 0.0)


def _worsening(row: Comparison) -> str:
    return "drops" if row.higher_is_better else "rises"


def _detectable(row: Comparison, size: float | None, what: str) -> str:
    if size is None:
        return f"at n={row.n_pairs} this test cannot detect any effect"
    return f"at n={row.n_pairs} this test detects only {what} of at least {size:.3g}"


def _not_robust(row: Comparison, worst: PairedStats, alpha: float) -> str:
    return (
        f"not robust: holds on the scored pairs, but not with the candidate's "
        f"{row.n_unscored_candidate} unscored counted as failures and the baseline's "
        f"{row.n_unscored_baseline} as passes ({describe(row, worst, 1 - alpha)})"
    )
