"""Power of the tests the gate actually uses, at the level it uses them — exact or simulated.

- ``superiority_power``: the chance a true ``effect`` is called significant in its direction
  by the two-sided test at ``alpha`` — exact McNemar (summed over the number of discordant
  pairs) for binary metrics, the noncentral t for continuous ones.
- ``mde``: the smallest effect with ``power`` (default 80 %) of being detected.
- ``noninferiority_mde``: the smallest margin a guardrail can be shown to hold within, with
  ``power``, when the candidate is truly unchanged (binary: simulated Newcombe bounds).
- ``items_needed``: the dataset size for ``power`` at a planned effect or margin.

Binary alternatives keep the observed discordance (the share of items that change), and
grow it to the effect when the effect is larger: ``discordance = max(observed, effect)``::

    mde("binary", n=100, spread=0.2, alpha=0.05)          # about 0.125
    items_needed("binary", effect=0.05, spread=0.1)       # items for 80 % power
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from roles.data_scientist.scores import MetricKind
from roles.data_scientist.statistics import newcombe_paired, scipy_stats


@lru_cache(maxsize=4096)
def _mcnemar_power(n: int, discordance: float, effect: float, alpha: float) -> float:
    import numpy as np

    st = scipy_stats()
    discordance = min(1.0, max(discordance, effect))
    if discordance <= 0 or n < 1:
        return 0.0
    d = np.arange(n + 1)
    better = (discordance + effect) / (2 * discordance)
    reject = st.binom.sf(_critical(n, alpha) - 1, d, better)
    return float(np.sum(st.binom.pmf(d, n, discordance) * reject))


@lru_cache(maxsize=256)
def _critical(n: int, alpha: float) -> Any:
    """For D = 0..n discordant pairs, the smallest number of better pairs k with
    P(X >= k | D, 1/2) <= alpha / 2: where the exact two-sided test rejects."""
    import numpy as np

    st = scipy_stats()
    d = np.arange(n + 1)
    k = st.binom.isf(alpha / 2, d, 0.5) + 1
    return np.where(st.binom.sf(k - 2, d, 0.5) <= alpha / 2, k - 1, k)  # isf rounding


def _t_power(n: int, sd: float, effect: float, alpha: float) -> float:
    if n < 2:
        return 0.0
    if sd == 0:
        return 1.0 if effect > 0 and 0.5**n <= alpha / 2 else 0.0
    st = scipy_stats()
    critical = st.t.isf(alpha / 2, n - 1)
    return float(st.nct.sf(critical, n - 1, effect * math.sqrt(n) / sd))


def superiority_power(
    kind: MetricKind, *, n: int, spread: float, effect: float, alpha: float
) -> float:
    """Power of the two-sided test at ``alpha`` to call a true ``effect`` (> 0) significant
    in its direction. ``spread``: discordance (binary) or sd of the differences."""
    if kind == "binary":
        return _mcnemar_power(n, round(spread, 12), round(effect, 12), alpha)
    return _t_power(n, spread, effect, alpha)


def mde(
    kind: MetricKind, *, n: int, spread: float, alpha: float, power: float = 0.8
) -> float | None:
    """Smallest effect detected with ``power``; None when no effect up to 1 (binary) is."""
    if n < 2:
        return None
    if kind == "continuous":
        if spread == 0:
            return None
        # power grows with the effect: bracket, then bisect
        high = spread
        while _t_power(n, spread, high, alpha) < power:
            high *= 2
        return _bisect(lambda e: _t_power(n, spread, e, alpha) >= power, 0.0, high)
    if superiority_power(kind, n=n, spread=spread, effect=1.0, alpha=alpha) < power:
        return None
    return _bisect(
        lambda e: superiority_power(kind, n=n, spread=spread, effect=e, alpha=alpha) >= power,
        0.0,
        1.0,
    )


def noninferiority_mde(
    kind: MetricKind,
    *,
    n: int,
    spread: float,
    alpha: float,
    power: float = 0.8,
    rate: float = 0.5,
    higher_is_better: bool = True,
    n_sims: int = 2000,
    seed: int = 0,
) -> float | None:
    """Smallest margin shown with ``power`` at one-sided ``alpha / 2`` when the candidate is
    truly unchanged. Binary: ``rate`` is the baseline's share of 1s; the bound's quantile
    over ``n_sims`` seeded simulated tables."""
    if n < 2:
        return None
    if kind == "continuous":
        return mde(kind, n=n, spread=spread, alpha=alpha, power=power)
    import numpy as np

    half = min(spread, 2 * rate, 2 * (1 - rate)) / 2
    probs = [max(rate - half, 0.0), half, half, max(1 - rate - half, 0.0)]
    tables = np.random.default_rng(seed).multinomial(n, np.array(probs) / sum(probs), n_sims)
    low, high = newcombe_paired(tables[:, 0], tables[:, 1], tables[:, 2], tables[:, 3], 1 - alpha)
    worse = -low if higher_is_better else high
    return float(np.quantile(worse, power))


def items_needed(
    kind: MetricKind,
    *,
    effect: float,
    spread: float,
    alpha: float = 0.05,
    power: float = 0.8,
    margin: float | None = None,
    rate: float = 0.5,
    limit: int = 100_000,
) -> int | None:
    """Smallest n (within a few items: exact power zigzags in n) with ``power`` to detect
    ``effect``; with ``margin``, to show non-inferiority within it when unchanged."""

    def enough(n: int) -> bool:
        if margin is not None:
            shown = noninferiority_mde(kind, n=n, spread=spread, alpha=alpha, power=power,
                                       rate=rate)  # fmt: skip
            return shown is not None and shown < margin
        return superiority_power(kind, n=n, spread=spread, effect=effect, alpha=alpha) >= power

    high = 8
    while not enough(high):
        if high >= limit:
            return None
        high *= 2
    return math.ceil(_bisect(lambda n: enough(math.ceil(n)), high / 2, high, steps=20))


def _bisect(ok: Any, low: float, high: float, steps: int = 16) -> float:
    """The boundary of a monotone predicate: ``ok(high)`` holds, ``ok(low)`` may not."""
    for _ in range(steps):
        middle = (low + high) / 2
        if ok(middle):
            high = middle
        else:
            low = middle
    return high
