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

Weighted pairs (``weights=``: a review's probability sample, each pair weighted by its
inverse inclusion probability N_h / m_h): the point estimates are the metrics of the
weighted confusion matrix (the sums of the weights per cell), which is what scikit-learn's
``precision_score``, ``recall_score``, ``f1_score``, ``accuracy_score`` and
``cohen_kappa_score`` give with ``sample_weight``. The intervals use Kish's effective sample
size n_eff = (Σw)² / Σw²: the same Jeffreys posterior, Dirichlet(n_eff · weighted shares
+ ½), as if n_eff pairs had fallen in the cells in the weighted shares (unequal weights
carry less information than as many equal ones; measured by seeded simulation of a
stratified review sample in ``tests/roles/data_scientist/test_ds_weighted_calibration.py``).
Weights that are all 1 take the unweighted path exactly, so those figures do not change.
The bootstraps take no weights.
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
    # Weighted pairs: Kish's effective number of pairs and the weighted cells (tp, fp, fn,
    # tn); None when every pair weighs 1 (then n is what counts).
    n_effective: float | None = None
    weighted_counts: tuple[float, float, float, float] | None = None

    @property
    def effective_pairs(self) -> float:
        """What the trust rule counts: n_eff for weighted pairs, else n."""
        return self.n if self.n_effective is None else self.n_effective


def judge_agreement(
    pairs: Sequence[tuple[bool, bool]],
    *,
    resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    method: Method = "Jeffreys",
    weights: Sequence[float] | None = None,
) -> JudgeAgreement:
    """Agreement of a judge with people on ``pairs`` of (judge_says_fail, human_says_fail);
    ``method="BCa"`` or ``"percentile"`` (bootstraps) are there to compare
    (benchmarks/calibration_coverage.py). ``weights``: one per pair (positive), e.g. its
    inverse inclusion probability; the module's docstring says how they count."""
    if weights is not None and any(w != 1 for w in weights):
        return weighted_agreement(
            pairs, weights, resamples=resamples, seed=seed, confidence=confidence, method=method
        )
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

    _check(method, resamples, confidence)
    counts = np.array([tp, fp, fn, tn], dtype=np.int64)
    n = int(counts.sum())
    estimates = {name: Estimate(None, None, None) for name in METRICS}
    if n > 0:
        rng = np.random.default_rng(seed)
        if method == "Jeffreys":
            draws = cell_metrics(rng.dirichlet(counts + 0.5, resamples))  # cell probabilities
        else:
            draws = cell_metrics(rng.multinomial(n, counts / n, resamples))
        jack = cell_metrics(counts - np.eye(4, dtype=np.int64))  # row k: one pair of cell k out
        estimates = _estimates(
            cell_metrics(counts), draws, jack if method == "BCa" else None, counts, confidence,
            edges=method == "Jeffreys",
        )  # fmt: skip
    e = estimates
    return JudgeAgreement(
        n=n, tp=tp, fp=fp, fn=fn, tn=tn, precision=e["precision"], recall=e["recall"],
        f1=e["f1"], accuracy=e["accuracy"], kappa=e["kappa"], resamples=resamples, seed=seed,
        confidence=confidence,
        interval="Jeffreys posterior" if method == "Jeffreys" else f"{method} bootstrap",
    )  # fmt: skip


def weighted_agreement(
    pairs: Sequence[tuple[bool, bool]], weights: Sequence[float], *, resamples: int = 2000,
    seed: int = 0, confidence: float = 0.95, method: Method = "Jeffreys",
) -> JudgeAgreement:  # fmt: skip
    """``judge_agreement`` of pairs weighing ``weights``: the weighted cells' metrics, the
    Jeffreys posterior at Kish's effective sample size (the module's docstring)."""
    import numpy as np

    _check(method, resamples, confidence)
    if method != "Jeffreys":
        raise ValueError(f"method {method!r} takes no weights: weighted pairs use 'Jeffreys'")
    w = np.asarray(weights, dtype=float)
    if w.shape != (len(pairs),) or not np.all(np.isfinite(w) & (w > 0)):
        raise ValueError(
            f"weights: one positive weight per pair ({len(pairs)} pairs, {w.size} weights)"
        )
    cell = np.array([(not j) * 2 + (not h) for j, h in pairs], dtype=np.int64)  # tp fp fn tn
    counts = np.bincount(cell, minlength=4)
    cells = np.bincount(cell, weights=w, minlength=4)
    n_eff = float(w.sum() ** 2 / np.sum(w**2))
    rng = np.random.default_rng(seed)
    draws = cell_metrics(rng.dirichlet(n_eff * cells / cells.sum() + 0.5, resamples))
    e = _estimates(cell_metrics(cells), draws, None, counts, confidence, edges=True)
    tp, fp, fn, tn = (int(c) for c in counts)
    return JudgeAgreement(
        n=len(pairs), tp=tp, fp=fp, fn=fn, tn=tn, precision=e["precision"],
        recall=e["recall"], f1=e["f1"], accuracy=e["accuracy"], kappa=e["kappa"],
        resamples=resamples, seed=seed, confidence=confidence,
        interval="Jeffreys posterior, Kish effective n", n_effective=n_eff,
        weighted_counts=(float(cells[0]), float(cells[1]), float(cells[2]), float(cells[3])),
    )  # fmt: skip


def _check(method: str, resamples: int, confidence: float) -> None:
    if method not in ("Jeffreys", "BCa", "percentile"):
        raise ValueError(f"method {method!r}: expected 'Jeffreys', 'BCa' or 'percentile'")
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError(
            f"resamples ({resamples}) must be >= 1, confidence ({confidence}) in (0, 1)"
        )


def _estimates(
    point: dict[str, Any], draws: dict[str, Any], jack: dict[str, Any] | None, counts: Any,
    confidence: float, *, edges: bool,
) -> dict[str, Estimate]:  # fmt: skip
    """Each metric's value and interval; ``edges``: a posterior's interval reaches the
    estimate at an edge (9 of 9 caught: [0.77, 1])."""
    estimates = {}
    for name in METRICS:
        value = float(point[name])
        if math.isnan(value):
            estimates[name] = Estimate(None, None, None)
            continue
        low, high = bca(value, draws[name], None if jack is None else jack[name], counts,
                        confidence)  # fmt: skip
        if edges and low is not None and high is not None:
            low, high = min(low, value), max(high, value)
        estimates[name] = Estimate(value, low, high)
    return estimates


def by_slice(
    pairs_with_slices: Sequence[tuple[str, bool, bool]], *, min_n: int = 10,
    weights: Sequence[float] | None = None, **kw: Any,
) -> dict[str, JudgeAgreement]:  # fmt: skip
    """Agreement per slice (dataset tag) with at least ``min_n`` pairs, by slice name; ``kw``
    goes to ``judge_agreement`` (each slice uses the same seed); ``weights``: one per entry."""
    groups: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    weighed: dict[str, list[float]] = defaultdict(list)
    for i, (name, judge, human) in enumerate(pairs_with_slices):
        groups[name].append((judge, human))
        weighed[name].append(1.0 if weights is None else weights[i])
    return {
        name: judge_agreement(groups[name], weights=weighed[name], **kw)
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
