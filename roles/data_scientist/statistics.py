"""Paired statistics on ``d = candidate - baseline``: one estimand, the mean difference.

A comparison is kept as its sufficient statistics (``PairedStats``), so every interval,
test and power figure is computed from the same numbers at whatever level a decision uses:

- binary metrics (values 0/1): the 2×2 table of pairs. Interval: Newcombe's square-and-add
  (hybrid score) interval for a paired difference of proportions (1998), built from Wilson
  intervals with his corrected phi, so it never has zero width (Fagerland, Lydersen and
  Laake, *Statistical Analysis of Contingency Tables*, ch. 8); test: exact McNemar.
- continuous metrics (latency, cost, judge scores): n, mean, standard deviation and the
  differences themselves. Interval and test: the studentized (bootstrap-t) bootstrap of the
  paired mean, equal-tailed, ``BOOTSTRAP_RESAMPLES`` resamples seeded from the data (the
  same differences always give the same verdict), so the interval excludes 0 exactly when
  the test rejects. The paired t calls a right-skewed null of mean 0 "worse" far above its
  level (measured in ``tests/roles/data_scientist/test_ds_skew.py``); the bootstrap-t holds
  it for moderately skewed differences and halves the excess for extreme ones. When every
  difference is equal (sd = 0), the exact sign-flip test is all there is: the interval is
  the point only when n is large enough for 2^-n <= alpha / 2, else None. Statistics stored
  without their differences (older scorecards) fall back to the paired t.

::

    stats = PairedStats.from_pairs([(1, 1), (0, 1), (1, 0), ...], kind="binary")
    stats.interval(0.95)   # (low, high) of the mean difference
    stats.p_value()        # two-sided, of the same test the gate uses
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roles.data_scientist.scores import MetricKind

BOOTSTRAP_RESAMPLES = 1999  # (B + 1) * alpha / 2 is a whole number at the usual levels


def scipy_stats() -> Any:
    """scipy.stats, imported on first use: it costs most of a second to load."""
    from scipy import stats

    return stats


class StatsSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    alpha: float = Field(0.05, gt=0, lt=1)  # two-sided level of every test and interval
    power: float = Field(0.8, gt=0, lt=1)  # for the minimum detectable effect
    confidence_level: float = Field(0.95, gt=0, lt=1)  # must be 1 - alpha
    n_resamples: int = Field(2000, ge=100)  # simulations for a non-inferiority MDE
    seed: int = 0
    # Kept so suites stored before the score and t intervals replaced the bootstrap parse.
    bootstrap_method: Literal["BCa", "percentile", "basic"] = "BCa"
    min_slice_items: int = Field(10, ge=2)  # a tag becomes a slice with this many paired items

    @model_validator(mode="after")
    def _one_level(self) -> Self:
        if abs(self.confidence_level - (1 - self.alpha)) > 1e-9:
            raise ValueError(
                f"confidence_level ({self.confidence_level:g}) must be 1 - alpha "
                f"({1 - self.alpha:g}): the interval and the test make the same claim"
            )
        return self


class PairedStats(BaseModel):
    """Sufficient statistics of paired differences (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: MetricKind
    n: int
    mean_diff: float | None
    sd_diff: float | None = None  # continuous
    diffs: tuple[float, ...] | None = None  # continuous: candidate - baseline, in pair order
    n11: int = 0  # binary: both 1
    n10: int = 0  # baseline 1, candidate 0
    n01: int = 0  # baseline 0, candidate 1
    n00: int = 0  # both 0

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[float, float]], kind: MetricKind) -> PairedStats:
        n = len(pairs)
        diffs = [c - b for b, c in pairs]
        mean = math.fsum(diffs) / n if n else None
        if kind == "binary":
            cells = {(1.0, 1.0): 0, (1.0, 0.0): 0, (0.0, 1.0): 0, (0.0, 0.0): 0}
            for pair in pairs:
                cells[(float(pair[0]), float(pair[1]))] += 1
            counts = list(cells.values())
            return cls(kind=kind, n=n, mean_diff=mean, n11=counts[0], n10=counts[1],
                       n01=counts[2], n00=counts[3])  # fmt: skip
        sd = None
        if n >= 2 and mean is not None:
            sd = math.sqrt(math.fsum((d - mean) ** 2 for d in diffs) / (n - 1))
        return cls(kind=kind, n=n, mean_diff=mean, sd_diff=sd, diffs=tuple(diffs))

    @property
    def discordance(self) -> float:
        """Share of pairs that changed (binary)."""
        return (self.n10 + self.n01) / self.n if self.n else 0.0

    @property
    def baseline_rate(self) -> float:
        """Share of baseline values equal to 1 (binary)."""
        return (self.n11 + self.n10) / self.n if self.n else 0.0

    def interval(self, level: float) -> tuple[float, float] | None:
        """Two-sided interval of the mean difference; None when nothing can be said."""
        if self.n < 2 or self.mean_diff is None:
            return None
        if self.kind == "binary":
            low, high = newcombe_paired(self.n11, self.n10, self.n01, self.n00, level)
            return float(low), float(high)
        sd = self.sd_diff or 0.0
        if sd == 0 or self.diffs is None:
            return t_interval(self.n, self.mean_diff, sd, level)
        t_low, t_high = bootstrap_t_quantiles(self.diffs, level)
        se = sd / math.sqrt(self.n)
        return self.mean_diff - t_high * se, self.mean_diff - t_low * se

    def p_value(self) -> float | None:
        """Two-sided p of no mean difference: exact McNemar, or the bootstrap-t test."""
        if self.n < 2 or self.mean_diff is None:
            return None
        if self.kind == "binary":
            return mcnemar_p(self.n10, self.n01)
        sd = self.sd_diff or 0.0
        if sd == 0:
            return 1.0 if self.mean_diff == 0 else min(1.0, 2 * 0.5**self.n)
        t = self.mean_diff / (sd / math.sqrt(self.n))
        if self.diffs is None:
            return float(2 * scipy_stats().t.sf(abs(t), self.n - 1))
        return bootstrap_t_p(self.diffs, t)


def wilson(successes: Any, n: Any, z: float) -> tuple[Any, Any]:
    """Wilson score interval of a proportion (numpy arrays or numbers)."""
    import numpy as np

    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def newcombe_paired(n11: Any, n10: Any, n01: Any, n00: Any, level: float) -> tuple[Any, Any]:
    """Newcombe's square-and-add interval of p(candidate = 1) - p(baseline = 1) for paired
    binary data; vectorised over numpy arrays of cell counts."""
    import numpy as np

    n11, n10, n01, n00 = (np.asarray(x, dtype=float) for x in (n11, n10, n01, n00))
    n = n11 + n10 + n01 + n00
    z = float(scipy_stats().norm.ppf(1 - (1 - level) / 2))
    cand, base = (n11 + n01) / n, (n11 + n10) / n
    l1, u1 = wilson(n11 + n01, n, z)
    l2, u2 = wilson(n11 + n10, n, z)
    denominator = (n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00)
    cross = n11 * n00 - n10 * n01  # with Newcombe's continuity correction of phi
    cross = np.where(cross > n / 2, cross - n / 2, np.where(cross < 0, cross, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = np.where(denominator > 0, cross / np.sqrt(denominator), 0.0)
    delta = np.sqrt(np.maximum((cand - l1) ** 2 - 2 * phi * (cand - l1) * (u2 - base)
                               + (u2 - base) ** 2, 0.0))  # fmt: skip
    eps = np.sqrt(np.maximum((u1 - cand) ** 2 - 2 * phi * (u1 - cand) * (base - l2)
                             + (base - l2) ** 2, 0.0))  # fmt: skip
    diff = cand - base
    return np.maximum(diff - delta, -1.0), np.minimum(diff + eps, 1.0)


def t_interval(n: int, mean: float, sd: float, level: float) -> tuple[float, float] | None:
    """Paired-t interval of the mean difference; with sd = 0, the point once n suffices."""
    if sd == 0:
        return (mean, mean) if 0.5**n <= (1 - level) / 2 else None
    half = float(scipy_stats().t.ppf(1 - (1 - level) / 2, n - 1)) * sd / math.sqrt(n)
    return mean - half, mean + half


@lru_cache(maxsize=256)
def bootstrap_t(diffs: tuple[float, ...]) -> Any:
    """Sorted studentized means (mean* - mean) / se* of ``BOOTSTRAP_RESAMPLES`` resamples of
    ``diffs``, seeded from their bytes (``diffs`` must have some spread)."""
    import numpy as np

    d = np.asarray(diffs, dtype=float)
    n = len(d)
    seed = int.from_bytes(hashlib.blake2b(d.tobytes(), digest_size=8).digest(), "big")
    rng = np.random.default_rng(seed)
    chunk = max(1, 1_000_000 // n)  # rows per block: at most a million values at a time
    out = []
    for start in range(0, BOOTSTRAP_RESAMPLES, chunk):
        rows = min(chunk, BOOTSTRAP_RESAMPLES - start)
        sample = d[rng.integers(0, n, size=(rows, n))]
        means, sds = sample.mean(axis=1), sample.std(axis=1, ddof=1)
        # A resample without spread (ties: judge scores, one outlier among equal values) is
        # studentized by the sample's own spread, not called infinitely far.
        sds = np.where(sds > 0, sds, d.std(ddof=1))
        out.append((means - d.mean()) / (sds / math.sqrt(n)))
    return np.sort(np.concatenate(out))


def bootstrap_t_quantiles(diffs: tuple[float, ...], level: float) -> tuple[float, float]:
    """(low, high) equal-tailed quantiles of the studentized means, as order statistics
    chosen so that 0 lies outside the interval exactly when ``bootstrap_t_p`` < 1 - level."""
    t = bootstrap_t(diffs)
    b = len(t)
    # p < alpha  <=>  (#{t* <= t0} + 1) < alpha (B + 1) / 2  <=>  t0 < t*[k]
    # rounded first: 1 - 0.95 is 0.05000000000000004, and ceil would take one order too many
    k = max(0, math.ceil(round((1 - level) * (b + 1) / 2, 9)) - 2)
    return float(t[k]), float(t[b - 1 - k])


def bootstrap_t_p(diffs: tuple[float, ...], t0: float) -> float:
    """Equal-tailed two-sided bootstrap-t p of mean 0, given the observed studentized mean."""
    import numpy as np

    t = bootstrap_t(diffs)
    below = int(np.searchsorted(t, t0, side="right"))  # t* <= t0
    above = len(t) - int(np.searchsorted(t, t0, side="left"))  # t* >= t0
    return min(1.0, 2 * (min(below, above) + 1) / (len(t) + 1))


def discordant(diffs: Sequence[float]) -> tuple[int, int]:
    """(b, c) of a binary comparison: pairs that got worse (d = -1), and better (d = +1)."""
    return sum(1 for d in diffs if d < 0), sum(1 for d in diffs if d > 0)


def mcnemar_p(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value; 1.0 with no discordant pair."""
    if b + c == 0:
        return 1.0
    return float(scipy_stats().binomtest(b, b + c, 0.5).pvalue)


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
