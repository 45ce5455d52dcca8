"""Issue 18: a continuous metric's test holds its level under right-skewed differences.

Measured by ``benchmarks/gate_characteristics.py --skew-only`` (1000 draws a cell; sd 1.5,
two-sided alpha 0.05: the share called significantly worse under a null of mean 0, nominal
0.025; one Monte Carlo standard error at most 0.016, 0.029 for the families):

| differences                               | n          | paired t | bootstrap-t |
|-------------------------------------------|------------|----------|-------------|
| exponential                               | 30         | 0.063    | 0.027       |
| exponential                               | 100        | 0.039    | 0.021       |
| lognormal 1.0                             | 30         | 0.131    | 0.067       |
| lognormal 1.0                             | 100        | 0.074    | 0.039       |
| lognormal 1.5                             | 30         | 0.235    | 0.119       |
| lognormal 1.5                             | 100        | 0.160    | 0.079       |
| lognormal 1.0, 4 guardrail slices (Holm)  | 100 each   | 0.072    | 0.060       |
| lognormal 1.5, 4 guardrail slices (Holm)  | 100 each   | 0.260    | 0.136       |

Power against a true drop of 0.5 sd of exponential differences: 0.72 / 0.54 at n = 30,
0.99 / 0.98 at n = 100 (0.3 sd: 0.44 / 0.25, 0.82 / 0.73); the t's is inflated by the same
tail that breaks its level. The extreme lognormal 1.5 (skewness 33) is beyond any test of a
mean at these n (most samples hold none of the tail that makes the mean 0): the bootstrap-t
halves the t's error there but does not reach the level.
"""

from __future__ import annotations

import pytest

from roles.data_scientist.skew import SKEWED, false_worse, mc_error

REPS = 600


@pytest.mark.slow
@pytest.mark.parametrize("n", [30, 100])
def test_exponential_null_is_called_worse_at_most_at_the_level(n: int) -> None:
    t_rate, boot_rate = false_worse(SKEWED["exponential"], n=n, reps=REPS, seed=18 + n)
    assert boot_rate <= 0.05 + 2 * mc_error(0.05, REPS)  # 0.05 + 0.018: nominal is 0.025
    assert boot_rate <= t_rate


@pytest.mark.slow
def test_extreme_skew_error_is_at_most_half_the_paired_t() -> None:
    t_rate, boot_rate = false_worse(SKEWED["lognormal 1.5"], n=30, reps=REPS, seed=1830)
    assert t_rate > 0.18  # the 21 %: the test the scorecard used to run
    assert boot_rate < 0.6 * t_rate
    _, at_100 = false_worse(SKEWED["lognormal 1.5"], n=100, reps=REPS, seed=18100)
    assert at_100 <= 0.07 + 2 * mc_error(0.07, REPS)


@pytest.mark.slow
def test_power_at_half_a_standard_deviation_stays() -> None:
    # a true drop of 0.5 sd of exponential differences at n = 30: paired t 0.72 (inflated by
    # the same tail that breaks its level), bootstrap-t 0.54; 0.3 sd at n = 100: 0.80 / 0.71
    _, boot_power = false_worse(SKEWED["exponential"], n=30, reps=REPS, seed=7, shift=-0.5)
    assert boot_power >= 0.45
