"""Power and MDE of the tests the gate uses, against known values and their own inverse."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from roles.data_scientist.power import items_needed, mde, noninferiority_mde, superiority_power


def test_paired_t_power_is_the_textbook_value_and_a_simulation() -> None:
    # one-sample t, d = 0.5, n = 30, two-sided 0.05: power 0.754 (G*Power, Cohen's tables)
    power = superiority_power("continuous", n=30, spread=1.0, effect=0.5, alpha=0.05)
    assert power == pytest.approx(0.754, abs=0.002)
    rng = np.random.default_rng(0)
    samples = rng.normal(0.5, 1.0, size=(4000, 30))
    result = stats.ttest_1samp(samples, 0.0, axis=1)
    simulated = float(np.mean((result.pvalue < 0.05) & (result.statistic > 0)))
    assert simulated == pytest.approx(power, abs=3 * np.sqrt(power * (1 - power) / 4000))


@pytest.mark.parametrize(("kind", "spread"), [("binary", 0.2), ("continuous", 0.3)])
def test_the_mde_is_where_the_power_reaches_eighty_percent(kind: str, spread: float) -> None:
    size = mde(kind, n=100, spread=spread, alpha=0.05)  # type: ignore[arg-type]
    assert size is not None
    at = superiority_power(kind, n=100, spread=spread, effect=size, alpha=0.05)  # type: ignore[arg-type]
    below = superiority_power(kind, n=100, spread=spread, effect=size * 0.97, alpha=0.05)  # type: ignore[arg-type]
    assert at >= 0.8 > below


def test_tiny_samples_detect_nothing_rather_than_everything() -> None:
    # five pairs: the exact test can never reach p < 0.05 (2 * 0.5**5 = 0.0625)
    assert mde("binary", n=5, spread=0.0, alpha=0.05) is None
    assert superiority_power("binary", n=5, spread=1.0, effect=1.0, alpha=0.05) == 0.0
    assert mde("binary", n=1, spread=0.0, alpha=0.05) is None


def test_non_inferiority_mde_and_items_needed_shrink_with_n() -> None:
    small = noninferiority_mde("binary", n=30, spread=0.1, alpha=0.05, rate=0.9)
    large = noninferiority_mde("binary", n=300, spread=0.1, alpha=0.05, rate=0.9)
    assert small is not None and large is not None and large < small
    assert noninferiority_mde("binary", n=30, spread=0.1, alpha=0.05, rate=0.9) == small  # seeded
    needed = items_needed("binary", effect=0.1, spread=0.2, alpha=0.05)
    assert needed is not None
    assert superiority_power("binary", n=needed + 3, spread=0.2, effect=0.1, alpha=0.05) >= 0.79
    assert superiority_power("binary", n=needed // 2, spread=0.2, effect=0.1, alpha=0.05) < 0.8
    assert items_needed("binary", effect=0.05, spread=0.2) > needed  # type: ignore[operator]
