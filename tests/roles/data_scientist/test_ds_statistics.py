"""Our statistics against scipy's, and against numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from roles.data_scientist.statistics import (
    bootstrap_ci,
    discordant,
    holm,
    mcnemar_p,
    mde,
    wilcoxon_p,
)

DIFFS = [0.3, -0.1, 0.5, 0.2, 0.0, 0.4, -0.2, 0.6, 0.1, 0.3, 0.25, -0.05]


def test_mcnemar_is_the_exact_binomial_test_on_discordant_pairs() -> None:
    # b = 1 got worse, c = 9 got better: p = 2 * P(X <= 1 | n=10, 1/2) = 2 * 11 / 1024.
    assert mcnemar_p(1, 9) == pytest.approx(22 / 1024)
    assert mcnemar_p(1, 9) == pytest.approx(stats.binomtest(1, 10, 0.5).pvalue)
    assert mcnemar_p(7, 3) == pytest.approx(stats.binomtest(7, 10, 0.5).pvalue)
    assert mcnemar_p(0, 0) == 1.0


def test_discordant_counts() -> None:
    assert discordant([1, 0, -1, 1, 0, 1]) == (1, 3)


def test_wilcoxon_matches_scipy_and_handles_degenerate_input() -> None:
    assert wilcoxon_p(DIFFS) == pytest.approx(stats.wilcoxon(DIFFS).pvalue)
    assert wilcoxon_p([0.0, 0.0, 0.0]) == 1.0
    assert wilcoxon_p([0.4]) is None


def test_bootstrap_ci_matches_scipy_and_is_reproducible() -> None:
    ours = bootstrap_ci(DIFFS, n_resamples=2000, seed=7, method="percentile")
    theirs = stats.bootstrap(
        (np.array(DIFFS),),
        np.mean,
        n_resamples=2000,
        method="percentile",
        rng=np.random.default_rng(7),
    ).confidence_interval
    assert ours == pytest.approx((theirs.low, theirs.high))
    assert bootstrap_ci(DIFFS, seed=3) == bootstrap_ci(DIFFS, seed=3)
    assert bootstrap_ci(DIFFS, seed=3) != bootstrap_ci(DIFFS, seed=4)
    low, high = bootstrap_ci(DIFFS) or (math.nan, math.nan)
    assert low < float(np.mean(DIFFS)) < high


def test_bootstrap_ci_degenerate_cases() -> None:
    assert bootstrap_ci([]) is None
    assert bootstrap_ci([1.0]) is None
    assert bootstrap_ci([0.0] * 10) == (0.0, 0.0)
    # One discordant pair among many ties: BCa is undefined here and must not raise.
    interval = bootstrap_ci([0.0] * 19 + [1.0], n_resamples=500)
    assert interval is not None and all(math.isfinite(x) for x in interval)


def test_holm_matches_a_hand_worked_example() -> None:
    # Sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> raised to 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.4]) == pytest.approx([0.8, 0.8])  # 0.4*2 = 0.8; 0.5*1 -> 0.8
    assert holm([0.6, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([]) == []


def test_mde_follows_the_documented_formula() -> None:
    z = 1.959963984540054 + 0.8416212335729143  # norm.ppf(0.975) + norm.ppf(0.8)
    n = len(DIFFS)
    expected = z * float(np.std(DIFFS, ddof=1)) / math.sqrt(n)
    assert mde(DIFFS) == pytest.approx(expected)
    assert mde(DIFFS, alpha=0.01, power=0.9) > mde(DIFFS)  # type: ignore[operator]
    assert mde([0.2]) is None


def test_mde_of_a_binary_metric_without_discordant_pairs_uses_the_rule_of_three() -> None:
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert mde([0.0] * 30, binary=True) == pytest.approx(z * math.sqrt(3 / 30) / math.sqrt(30))
