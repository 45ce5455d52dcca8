"""The judge's agreement with people: scikit-learn's numbers, the degenerate cases, and the
coverage of the intervals by seeded simulation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    f1_score,
    precision_score,
    recall_score,
)

from roles.data_scientist.calibration import (
    METRICS,
    Estimate,
    agreement_from_counts,
    by_slice,
    cell_metrics,
    judge_agreement,
)

Pairs = list[tuple[bool, bool]]


def sklearn_metrics(pairs: Pairs) -> dict[str, float | None]:
    """scikit-learn's figures with "fail" (True) positive; nan (undefined) as None."""
    judge = [j for j, _ in pairs]
    human = [h for _, h in pairs]
    nan = float("nan")
    kw = {"pos_label": True, "zero_division": nan}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = {
            "precision": precision_score(human, judge, **kw),
            "recall": recall_score(human, judge, **kw),
            "f1": f1_score(human, judge, **kw),
            "accuracy": accuracy_score(human, judge) if pairs else nan,
            "kappa": cohen_kappa_score(judge, human, labels=[False, True]) if pairs else nan,
        }
    return {k: None if math.isnan(v) else float(v) for k, v in theirs.items()}


def values(pairs: Pairs) -> dict[str, float | None]:
    agreement = judge_agreement(pairs, resamples=200)
    return {name: getattr(agreement, name).value for name in METRICS}


def assert_same(ours: dict[str, float | None], theirs: dict[str, float | None]) -> None:
    assert {k: v is None for k, v in ours.items()} == {k: v is None for k, v in theirs.items()}
    for name, value in ours.items():
        if value is not None:
            assert value == pytest.approx(theirs[name], abs=1e-12), name


def cells(tp: int, fp: int, fn: int, tn: int) -> Pairs:
    return [(True, True)] * tp + [(True, False)] * fp + [(False, True)] * fn + [(False, False)] * tn


FIXED = {
    "typical": cells(24, 10, 6, 60),
    "no judge fail": cells(0, 0, 5, 15),
    "no human fail": cells(0, 4, 0, 16),
    "no fail at all": cells(0, 0, 0, 12),
    "all fail, all agree": cells(9, 0, 0, 0),
    "all agree, both classes": cells(7, 0, 0, 13),
    "all disagree": cells(0, 6, 4, 0),
    "judge always fails": cells(8, 12, 0, 0),
    "judge only fails, people only pass": cells(0, 5, 0, 0),
    "judge only passes, people only fail": cells(0, 0, 5, 0),
    "one pair": cells(0, 0, 1, 0),
}


@pytest.mark.parametrize("name", FIXED)
def test_fixed_label_sets_match_sklearn(name: str) -> None:
    assert_same(values(FIXED[name]), sklearn_metrics(FIXED[name]))


def test_many_random_label_sets_match_sklearn() -> None:
    rng = np.random.default_rng(7)
    for _ in range(120):
        n = int(rng.integers(1, 40))
        fail_rates = rng.uniform(0, 1, 2) ** 3  # often near 0: degenerate sets come up
        pairs = [(bool(j), bool(h)) for j, h in rng.uniform(size=(n, 2)) < fail_rates]
        assert_same(values(pairs), sklearn_metrics(pairs))


def test_the_degenerate_cases_say_undefined_as_none() -> None:
    empty = judge_agreement([])
    assert (empty.n, empty.tp, empty.fp, empty.fn, empty.tn) == (0, 0, 0, 0, 0)
    assert all(getattr(empty, m) == Estimate(None, None, None) for m in METRICS)
    quiet = judge_agreement(FIXED["no fail at all"])  # one class only, all agree
    accuracy = quiet.accuracy  # the interval sees beyond the sample: not [1, 1]
    assert accuracy.value == accuracy.high == 1.0 and 0.5 < (accuracy.low or 0) < 1
    assert quiet.precision.value is quiet.recall.value is quiet.f1.value is None
    assert quiet.kappa == Estimate(None, None, None)  # chance agreement is 1: κ undefined
    both = judge_agreement(FIXED["all agree, both classes"])
    assert both.kappa.value == 1.0
    missed = judge_agreement(FIXED["no judge fail"])  # no predicted positive
    assert missed.precision.value is None and missed.recall.value == 0.0
    assert missed.f1.value == 0.0 and missed.kappa.value == 0.0


def test_counts_and_intervals_are_stated_and_reproducible() -> None:
    pairs = FIXED["typical"]
    first = judge_agreement(pairs, resamples=500, seed=3)
    assert (first.n, first.tp, first.fp, first.fn, first.tn) == (100, 24, 10, 6, 60)
    assert (first.resamples, first.seed, first.confidence) == (500, 3, 0.95)
    assert first == judge_agreement(list(reversed(pairs)), resamples=500, seed=3)
    assert first != judge_agreement(pairs, resamples=500, seed=4)
    for name in METRICS:
        estimate: Estimate = getattr(first, name)
        assert estimate.low is not None and estimate.value is not None and estimate.high
        assert estimate.low < estimate.value < estimate.high, name
    narrower = judge_agreement(pairs, confidence=0.8)
    wider = judge_agreement(pairs, confidence=0.99)
    bounds = (wider.kappa.low, narrower.kappa.low, narrower.kappa.high, wider.kappa.high)
    assert list(bounds) == sorted(bounds) and len(set(bounds)) == 4  # type: ignore[type-var]


def test_a_bootstrap_leaves_out_resamples_where_the_metric_is_undefined() -> None:
    # One judge fail in 30: most resamples have none, so precision is defined in few.
    agreement = judge_agreement(cells(1, 0, 5, 24), resamples=400, method="BCa")
    assert agreement.precision == Estimate(1.0, 1.0, 1.0)
    recall = agreement.recall
    assert recall.value == 1 / 6 and recall.low == 0.0 and (recall.high or 0) > 1 / 6


def test_at_the_edges_the_posterior_is_not_sure() -> None:
    """A judge that caught all 9 human fails: the bootstrap says recall [1, 1], a certainty
    nine items cannot give; the Jeffreys posterior says [0.77, 1] (the exact 95 % interval
    of 9/9, Clopper-Pearson, is [0.66, 1]). One judge fail, a true one: precision is not
    [1, 1] either."""
    caught = cells(9, 3, 0, 38)
    assert judge_agreement(caught, method="BCa").recall == Estimate(1.0, 1.0, 1.0)
    recall = judge_agreement(caught).recall
    assert recall.value == recall.high == 1.0 and recall.low == pytest.approx(0.77, abs=0.02)
    precision = judge_agreement(cells(1, 0, 5, 24)).precision
    assert precision.value == precision.high == 1.0 and (precision.low or 1) < 0.5
    for name in METRICS:  # every interval holds its estimate
        e = getattr(judge_agreement(caught), name)
        assert e.low <= e.value <= e.high, name


def test_the_bootstraps_are_there_to_compare() -> None:
    pairs = FIXED["typical"]
    default = judge_agreement(pairs)
    assert default.interval == "Jeffreys posterior"
    for method in ("BCa", "percentile"):
        other = judge_agreement(pairs, method=method)  # type: ignore[arg-type]
        assert other.interval == f"{method} bootstrap"
        assert other.kappa.value == default.kappa.value
        assert other.kappa.low != default.kappa.low
    with pytest.raises(ValueError, match="method 'bca'"):
        judge_agreement(pairs, method="bca")  # type: ignore[arg-type]


def test_by_slice_keeps_slices_with_enough_pairs() -> None:
    rows = [("refunds", j, h) for j, h in FIXED["typical"][:40]]
    rows += [("billing", j, h) for j, h in FIXED["typical"][40:49]]
    slices = by_slice(rows, min_n=10, resamples=300, seed=1)
    assert list(slices) == ["refunds"]
    assert slices["refunds"] == judge_agreement(FIXED["typical"][:40], resamples=300, seed=1)
    assert list(by_slice(rows, min_n=9, resamples=300)) == ["billing", "refunds"]


def population(prevalence: float, recall: float, precision: float) -> np.ndarray:
    """A known population of (judge, human) verdicts: ``prevalence`` of items fail by
    people's judgement, the judge catches ``recall`` of them and ``precision`` of its fails
    are real; the four cell probabilities (tp, fp, fn, tn)."""
    tp = prevalence * recall
    cells = np.array([tp, tp * (1 - precision) / precision, prevalence - tp, 0.0])
    cells[3] = 1 - cells.sum()
    return cells


COMMON = population(0.3, 0.8, 0.7)  # failures common: κ 0.63
RARE = population(0.1, 0.95, 0.8)  # failures rare: about 6 human fails in 60 pairs


def truth(cells: np.ndarray) -> dict[str, float]:
    return {name: float(v) for name, v in cell_metrics(np.round(cells * 1e9)).items()}


def test_the_populations_are_what_they_say() -> None:
    common, rare = truth(COMMON), truth(RARE)
    assert common["recall"] == pytest.approx(0.8) and common["precision"] == pytest.approx(0.7)
    assert common["kappa"] == pytest.approx(0.6275, abs=1e-4)
    assert rare["recall"] == pytest.approx(0.95) and rare["kappa"] == pytest.approx(0.853, abs=1e-3)


@pytest.mark.parametrize(
    ("cells", "n"),
    [(COMMON, 50), (COMMON, 200), (RARE, 60)],
    ids=["common-50", "common-200", "rare-60"],
)
def test_intervals_cover_the_true_value_at_their_level(cells: np.ndarray, n: int) -> None:
    # A sample of n iid pairs has multinomial counts; each goes through the public function.
    # 2000 samples: the Monte-Carlo standard error of a 95 % coverage is 0.5 points; an
    # undefined interval counts as not covering. Under-coverage is the error that would
    # trust a bad judge: with failures rare the BCa bootstrap covered recall 27 % of the time
    # (benchmarks/calibration_coverage.py), the posterior 97 %.
    true = truth(cells)
    samples = np.random.default_rng(2024 + n).multinomial(n, cells, size=2000)
    covered = dict.fromkeys(METRICS, 0)
    for tp, fp, fn, tn in samples.tolist():
        agreement = agreement_from_counts(tp, fp, fn, tn, resamples=400, seed=tp * 1000 + fn)
        for name in METRICS:
            estimate = getattr(agreement, name)
            if estimate.low is not None and estimate.low <= true[name] <= estimate.high:
                covered[name] += 1
    coverage = {name: count / len(samples) for name, count in covered.items()}
    assert all(0.93 <= share <= 0.985 for share in coverage.values()), coverage
