"""Paired statistics on per-item differences ``d = candidate - baseline``.

- ``bootstrap_ci``: percentile-family bootstrap CI of mean(d) via ``scipy.stats.bootstrap``
  (BCa by default, falling back to percentile when BCa is undefined), seeded.
- ``mcnemar_p``: exact McNemar test, ``binomtest(b, b + c, 0.5)`` on the discordant pairs.
- ``wilcoxon_p``: Wilcoxon signed-rank test (zero differences dropped).
- ``holm``: Holm's step-down adjustment of a family of p-values.
- ``mde``: minimum detectable effect of a paired comparison at this sample size::

      MDE = (z[1 - alpha/2] + z[power]) * sd(d) / sqrt(n)

  with ``sd`` the sample standard deviation (ddof=1) and ``z`` standard normal quantiles.
  For a binary metric with no discordant pair, sd(d) would be 0; we use the "rule of
  three" upper bound on the discordance rate instead, sd = sqrt(3 / n).

Degenerate inputs (n < 2, all differences equal) return None or exact values; they
never raise.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def _scipy_stats() -> Any:
    """scipy.stats, imported on first use: it costs most of a second to load."""
    from scipy import stats

    return stats


class StatsSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    alpha: float = Field(0.05, gt=0, lt=1)  # significance, after Holm correction
    power: float = Field(0.8, gt=0, lt=1)  # for the minimum detectable effect
    confidence_level: float = Field(0.95, gt=0, lt=1)
    n_resamples: int = Field(9999, ge=100)
    seed: int = 0
    bootstrap_method: Literal["BCa", "percentile", "basic"] = "BCa"
    min_slice_items: int = Field(10, ge=2)  # a tag becomes a slice with this many paired items


def bootstrap_ci(
    diffs: Sequence[float],
    *,
    confidence_level: float = 0.95,
    n_resamples: int = 9999,
    seed: int = 0,
    method: Literal["BCa", "percentile", "basic"] = "BCa",
) -> tuple[float, float] | None:
    """Bootstrap CI of the mean difference; None when n < 2."""
    import numpy as np

    data = np.asarray(diffs, dtype=float)
    if data.size < 2:
        return None
    if np.all(data == data[0]):
        return float(data[0]), float(data[0])
    for how in dict.fromkeys([method, "percentile"]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=_scipy_stats().DegenerateDataWarning)
            result = _scipy_stats().bootstrap(
                (data,),
                np.mean,
                n_resamples=n_resamples,
                confidence_level=confidence_level,
                method=how,
                rng=np.random.default_rng(seed),
            )
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return low, high
    return None


def discordant(diffs: Sequence[float]) -> tuple[int, int]:
    """(b, c) of a binary comparison: pairs that got worse (d = -1), and better (d = +1)."""
    import numpy as np

    data = np.asarray(diffs, dtype=float)
    return int(np.sum(data < 0)), int(np.sum(data > 0))


def mcnemar_p(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value; 1.0 with no discordant pair."""
    if b + c == 0:
        return 1.0
    return float(_scipy_stats().binomtest(b, b + c, 0.5).pvalue)


def wilcoxon_p(diffs: Sequence[float]) -> float | None:
    """Two-sided Wilcoxon signed-rank p-value; 1.0 when every difference is 0, None if n < 2."""
    import numpy as np

    data = np.asarray(diffs, dtype=float)
    if data.size < 2:
        return None
    if np.all(data == 0):
        return 1.0
    return float(_scipy_stats().wilcoxon(data).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order.

    Sorted ascending, the i-th (from 0) of m is multiplied by (m - i), capped at 1, and
    made non-decreasing.
    """
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def mde(
    diffs: Sequence[float], *, alpha: float = 0.05, power: float = 0.8, binary: bool = False
) -> float | None:
    """Minimum detectable effect (see the module docstring); None when n < 2."""
    import numpy as np

    data = np.asarray(diffs, dtype=float)
    n = data.size
    if n < 2:
        return None
    sd = float(np.std(data, ddof=1))
    if binary and sum(discordant(diffs)) == 0:
        sd = math.sqrt(3 / n)
    z = float(_scipy_stats().norm.ppf(1 - alpha / 2) + _scipy_stats().norm.ppf(power))
    return z * sd / math.sqrt(n)
