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

Intervals (``method="Jeffreys"``, the default): the equal-tailed interval of each metric
under the posterior of the four cell probabilities, Dirichlet(counts + ½) (Jeffreys' prior),
from ``resamples`` draws of ``numpy.random.default_rng(seed)``. Unlike a bootstrap, it sees
beyond the sample at the edges: a judge that caught all of 9 human fails gets recall
[0.77, 1], not [1, 1], and one that agreed on 30 passes gets accuracy [0.89, 1].

Why not a bootstrap: measured coverage (``benchmarks/calibration_coverage.py``). With
failures common (30 % of items) the BCa bootstrap and the percentile interval cover 93–98 %
from n = 50, as this does. With failures rare, the bootstrap is far too sure: at 10 % of
items failing, recall 0.95, precision 0.8 and n = 60 (about 6 human fails), BCa's recall
interval covered the true recall 27 % of the time, κ's 81 % — trusting judges on luck. The
Jeffreys posterior covers 94–98 % there, and 93–98 % on every population measured. The two
bootstraps (``method="BCa"`` or ``"percentile"``: resampled confusion counts, multinomial(n,
observed shares), the BCa acceleration from the exact jackknife) stay for that comparison.
A draw in which a metric is undefined is left out of that metric's interval.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Method = Literal["Jeffreys", "BCa", "percentile"]
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
    interval: str = "Jeffreys posterior"


def judge_agreement(
    pairs: Sequence[tuple[bool, bool]],
    *,
    resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    method: Method = "Jeffreys",
) -> JudgeAgreement:
    """Agreement of a judge with people on ``pairs`` of (judge_says_fail, human_says_fail);
    ``method="BCa"`` or ``"percentile"`` (bootstraps) are there to compare
    (benchmarks/calibration_coverage.py)."""
    tp = sum(1 for judge, human in pairs if judge and human)
    fp = sum(1 for judge, human in pairs if judge and not human)
    fn = sum(1 for judge, human in pairs if not judge and human)
    return agreement_from_counts(
        tp, fp, fn, len(pairs) - tp - fp - fn,
        resamples=resamples, seed=seed, confidence=confidence, method=method,
    )  # fmt: skip


def agreement_from_counts(
    tp: int, fp: int, fn: int, tn: int, *, resamples: int = 2000, seed: int = 0,
    confidence: float = 0.95, method: Method = "Jeffreys",
) -> JudgeAgreement:  # fmt: skip
    """``judge_agreement`` from the confusion counts (the pairs' order does not matter)."""
    import numpy as np

    if method not in ("Jeffreys", "BCa", "percentile"):
        raise ValueError(f"method {method!r}: expected 'Jeffreys', 'BCa' or 'percentile'")
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
        rng = np.random.default_rng(seed)
        if method == "Jeffreys":
            draws = cell_metrics(rng.dirichlet(counts + 0.5, resamples))  # cell probabilities
        else:
            draws = cell_metrics(rng.multinomial(n, counts / n, resamples))
        jack = cell_metrics(counts - np.eye(4, dtype=np.int64))  # row k: one pair of cell k out
        for name in METRICS:
            value = float(point[name])
            if math.isnan(value):
                estimates[name] = Estimate(None, None, None)
                continue
            low, high = bca(value, draws[name], jack[name] if method == "BCa" else None, counts,
                            confidence)  # fmt: skip
            if method == "Jeffreys" and low is not None and high is not None:
                # At an edge (9 of 9 caught) the interval reaches the estimate: [0.77, 1].
                low, high = min(low, value), max(high, value)
            estimates[name] = Estimate(value, low, high)
    e = estimates
    return JudgeAgreement(
        n=n, tp=tp, fp=fp, fn=fn, tn=tn, precision=e["precision"], recall=e["recall"],
        f1=e["f1"], accuracy=e["accuracy"], kappa=e["kappa"], resamples=resamples, seed=seed,
        confidence=confidence,
        interval="Jeffreys posterior" if method == "Jeffreys" else f"{method} bootstrap",
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
    """The five metrics of confusion counts ``(..., 4)`` = (tp, fp, fn, tn), or of cell
    probabilities (floats); nan where undefined. Counts are computed in integers, so
    "chance agreement is 1" is detected exactly."""
    import numpy as np

    counts = np.asarray(counts)
    if counts.dtype.kind != "f":
        counts = counts.astype(np.int64)
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
    ``jack=None`` no correction: the equal-tailed interval of the draws (the percentile
    bootstrap, or the posterior's)."""
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
