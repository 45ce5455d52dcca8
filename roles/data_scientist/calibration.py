"""How well an LLM judge agrees with people: the confusion matrix of (judge, human) verdicts
and five metrics, each with a bootstrap interval.

"fail" is the positive class (catching failures is the judge's job): ``tp`` = judge fail and
human fail, ``fp`` = judge fail and human pass, ``fn`` = judge pass and human fail, ``tn``.

::

    agreement = judge_agreement([(True, True), (False, True), (False, False), ...])
    agreement.recall            # Estimate(value=0.8, low=0.62, high=0.93)
    agreement.kappa.low         # what the trust rule reads
    by_slice([("refunds", True, True), ...], min_n=10)   # {tag: JudgeAgreement}

Undefined is ``None``, never 0 and never nan (scikit-learn's ``zero_division`` and
``cohen_kappa_score``'s nan map to it):

- n = 0: every value and bound is None.
- precision: None with no judge fail (tp + fp = 0); recall: None with no human fail
  (tp + fn = 0); F1: None only when neither said fail (2 tp + fp + fn = 0) — with one of them
  it is 0, as scikit-learn's; accuracy: None only at n = 0.
- κ: None when chance agreement is 1, i.e. judge and humans both gave one and the same class
  only (all pass, or all fail): agreement is then total but says nothing. κ = 1 when they
  agree on every pair and both classes occur; κ = 0 when one side gave one class only and
  the other did not.

Intervals: BCa bootstrap (bias-corrected and accelerated, Efron 1987), ``resamples`` draws
from ``numpy.random.default_rng(seed)``. The confusion counts of a resample of n iid pairs
are multinomial(n, observed cell shares), so the counts are drawn directly — the same
distribution as resampling the pairs, in O(resamples) memory. The acceleration comes from
the exact jackknife (leaving one pair out changes one of four cells). The bias correction
counts resamples equal to the estimate as half below: these statistics are discrete, and
with ties ignored (as in ``scipy.stats.bootstrap``) it is infinite whenever every resample
equals the estimate. A resample in which a metric is undefined is left out of that
metric's interval. Why BCa and not the percentile interval: measured coverage
(``benchmarks/calibration_coverage.py``, 2000 samples per n) — at n = 50 the percentile
interval covers 92.0 % for recall and 92.8 % for accuracy, BCa 93.3–98.0 % (a little wide for
precision); at n = 200 both are within 94–97 %.

At the edges the bootstrap cannot see beyond the sample: a judge that caught all of 9 human
fails gets recall [1, 1]. The trust rule's minimum number of pairs is the guard.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Method = Literal["BCa", "percentile"]
METRICS = ("precision", "recall", "f1", "accuracy", "kappa")


@dataclass(frozen=True)
class Estimate:
    """A metric and its interval; all None when the metric is undefined on the data."""

    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class JudgeAgreement:
    n: int  # pairs used
    tp: int
    fp: int
    fn: int
    tn: int
    precision: Estimate
    recall: Estimate
    f1: Estimate
    accuracy: Estimate
    kappa: Estimate
    resamples: int
    seed: int
    confidence: float
    interval: str = "BCa bootstrap"


def judge_agreement(
    pairs: Sequence[tuple[bool, bool]],
    *,
    resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    method: Method = "BCa",
) -> JudgeAgreement:
    """Agreement of a judge with people on ``pairs`` of (judge_says_fail, human_says_fail);
    ``method="percentile"`` is there to compare (benchmarks/calibration_coverage.py)."""
    tp = sum(1 for judge, human in pairs if judge and human)
    fp = sum(1 for judge, human in pairs if judge and not human)
    fn = sum(1 for judge, human in pairs if not judge and human)
    return agreement_from_counts(
        tp, fp, fn, len(pairs) - tp - fp - fn,
        resamples=resamples, seed=seed, confidence=confidence, method=method,
    )  # fmt: skip


def agreement_from_counts(
    tp: int, fp: int, fn: int, tn: int, *, resamples: int = 2000, seed: int = 0,
    confidence: float = 0.95, method: Method = "BCa",
) -> JudgeAgreement:  # fmt: skip
    """``judge_agreement`` from the confusion counts (the pairs' order does not matter)."""
    import numpy as np

    if method not in ("BCa", "percentile"):
        raise ValueError(f"method {method!r}: expected 'BCa' or 'percentile'")
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError(
            f"resamples ({resamples}) must be >= 1, confidence ({confidence}) in (0, 1)"
        )
    counts = np.array([tp, fp, fn, tn], dtype=np.int64)
    n = int(counts.sum())
    point = cell_metrics(counts)
    estimates: dict[str, Estimate] = {}
    if n == 0:
        estimates = {name: Estimate(None, None, None) for name in METRICS}
    else:
        boot = cell_metrics(np.random.default_rng(seed).multinomial(n, counts / n, resamples))
        jack = cell_metrics(counts - np.eye(4, dtype=np.int64))  # row k: one pair of cell k out
        for name in METRICS:
            value = float(point[name])
            if math.isnan(value):
                estimates[name] = Estimate(None, None, None)
                continue
            low, high = bca(value, boot[name], jack[name] if method == "BCa" else None, counts,
                            confidence)  # fmt: skip
            estimates[name] = Estimate(value, low, high)
    e = estimates
    return JudgeAgreement(
        n=n, tp=tp, fp=fp, fn=fn, tn=tn, precision=e["precision"], recall=e["recall"],
        f1=e["f1"], accuracy=e["accuracy"], kappa=e["kappa"], resamples=resamples, seed=seed,
        confidence=confidence, interval=f"{method} bootstrap",
    )  # fmt: skip


def by_slice(
    pairs_with_slices: Sequence[tuple[str, bool, bool]], *, min_n: int = 10, **kw: Any
) -> dict[str, JudgeAgreement]:
    """Agreement per slice (dataset tag) with at least ``min_n`` pairs, by slice name; ``kw``
    goes to ``judge_agreement`` (each slice uses the same seed)."""
    groups: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for name, judge, human in pairs_with_slices:
        groups[name].append((judge, human))
    return {
        name: judge_agreement(groups[name], **kw)
        for name in sorted(groups)
        if len(groups[name]) >= min_n
    }


def cell_metrics(counts: Any) -> dict[str, Any]:
    """The five metrics of confusion counts ``(..., 4)`` = (tp, fp, fn, tn); nan where
    undefined. κ's numerator and denominator are computed in integers, so "chance agreement
    is 1" is detected exactly."""
    import numpy as np

    counts = np.asarray(counts, dtype=np.int64)
    tp, fp, fn, tn = (counts[..., i] for i in range(4))
    n = tp + fp + fn + tn
    chance = (tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)  # n² × chance agreement

    def ratio(num: Any, den: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)

    return {
        "precision": ratio(tp, tp + fp),
        "recall": ratio(tp, tp + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "accuracy": ratio(tp + tn, n),
        "kappa": ratio(n * (tp + tn) - chance, n * n - chance),
    }


def bca(
    value: float, boot: Any, jack: Any, counts: Any, confidence: float
) -> tuple[float | None, float | None]:
    """The BCa interval of ``value`` from its bootstrap values ``boot`` and its four
    leave-one-out values ``jack`` (one per cell, weighted by the cell's count); with
    ``jack=None`` no correction, i.e. the percentile interval."""
    import numpy as np
    from scipy.special import ndtr, ndtri

    boot = boot[~np.isnan(boot)]
    if boot.size == 0:
        return None, None
    tail = (1 - confidence) / 2
    if jack is None:
        low, high = np.quantile(boot, [tail, 1 - tail])
        return float(low), float(high)
    z0 = float(ndtri((np.sum(boot < value) + 0.5 * np.sum(boot == value)) / boot.size))
    weights = np.where(np.isnan(jack), 0, counts).astype(float)
    acceleration = 0.0
    if weights.sum() > 0:
        jack = np.nan_to_num(jack)
        spread = np.sum(weights * jack) / weights.sum() - jack
        second = np.sum(weights * spread**2)
        if second > 0:
            acceleration = float(np.sum(weights * spread**3) / (6 * second**1.5))
    z = np.array([ndtri(tail), ndtri(1 - tail)])
    shares = ndtr(z0 + (z0 + z) / (1 - acceleration * (z0 + z)))
    low, high = np.quantile(boot, shares)
    return float(low), float(high)
