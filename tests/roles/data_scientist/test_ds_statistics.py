"""Our statistics against scipy's, a textbook's worked example, and numbers worked by hand."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError
from scipy import stats

from roles.data_scientist.statistics import (
    PairedStats,
    StatsSettings,
    discordant,
    holm,
    mcnemar_p,
    newcombe_paired,
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


def test_newcombe_matches_the_textbook_example() -> None:
    # Fagerland, Lydersen & Laake, ch. 8: table [[59, 6], [16, 80]] (rows: the first
    # measurement) gives -0.0621 (95% CI -0.1186 to -0.0046). Our first is the candidate.
    low, high = newcombe_paired(n11=59, n10=16, n01=6, n00=80, level=0.95)
    assert (round(float(low), 4), round(float(high), 4)) == (-0.1186, -0.0046)


def test_binary_intervals_never_have_zero_width() -> None:
    for cells in [(30, 0, 0, 0), (0, 0, 0, 30), (2, 0, 0, 0)]:
        low, high = PairedStats(kind="binary", n=sum(cells), mean_diff=0.0, n11=cells[0],
                                n10=cells[1], n01=cells[2], n00=cells[3]).interval(0.95) or (0, 0)  # fmt: skip
        assert low < 0 < high
    # wider with fewer items: at n=2 the data say almost nothing
    assert PairedStats(kind="binary", n=2, mean_diff=0.0, n11=2).interval(0.95)[0] < -0.5  # type: ignore[index]


def test_bootstrap_t_is_deterministic_and_its_interval_is_its_test() -> None:
    paired = PairedStats.from_pairs([(0.0, d) for d in DIFFS], "continuous")
    again = PairedStats.from_pairs([(0.0, d) for d in DIFFS], "continuous")
    p, interval = paired.p_value(), paired.interval(0.95)
    assert p is not None and interval is not None
    assert (p, interval) == (again.p_value(), again.interval(0.95))  # seeded from the data
    assert (p < 0.05) == (interval[0] > 0 or interval[1] < 0)
    for shift in (-0.4, -0.1, 0.0, 0.1, 0.3):  # the same claim at every distance from 0
        moved = PairedStats.from_pairs([(0.0, d + shift) for d in DIFFS], "continuous")
        low, high = moved.interval(0.95) or (0.0, 0.0)
        assert ((moved.p_value() or 1.0) < 0.05) == (low > 0 or high < 0)


def test_stored_without_differences_it_is_scipys_paired_t() -> None:
    stored = PairedStats.from_pairs([(0.0, d) for d in DIFFS], "continuous").model_dump()
    paired = PairedStats.model_validate({**stored, "diffs": None})
    theirs = stats.ttest_1samp(DIFFS, 0.0)
    assert paired.p_value() == pytest.approx(theirs.pvalue)
    ci = theirs.confidence_interval(0.95)
    assert paired.interval(0.95) == pytest.approx((ci.low, ci.high))
    assert paired.mean_diff == pytest.approx(sum(DIFFS) / len(DIFFS))


def test_equal_differences_are_a_point_only_once_a_sign_flip_test_could_reject() -> None:
    # 2^-n <= 0.025 needs n >= 6
    five = PairedStats.from_pairs([(1.0, 1.0)] * 5, "continuous")
    six = PairedStats.from_pairs([(1.0, 1.5)] * 6, "continuous")
    assert five.interval(0.95) is None and five.p_value() == 1.0
    assert six.interval(0.95) == (0.5, 0.5) and six.p_value() == pytest.approx(2 / 64)


def test_binary_table_and_degenerate_input() -> None:
    paired = PairedStats.from_pairs([(1, 1), (1, 0), (0, 1), (0, 1), (0, 0)], "binary")
    assert (paired.n11, paired.n10, paired.n01, paired.n00) == (1, 1, 2, 1)
    assert paired.mean_diff == pytest.approx(0.2) and paired.discordance == pytest.approx(0.6)
    assert paired.p_value() == pytest.approx(mcnemar_p(1, 2))
    one = PairedStats.from_pairs([(1, 0)], "binary")
    assert one.interval(0.95) is None and one.p_value() is None
    assert PairedStats.from_pairs([], "continuous").mean_diff is None


def test_holm_matches_a_hand_worked_example() -> None:
    # Sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> raised to 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.4]) == pytest.approx([0.8, 0.8])  # 0.4*2 = 0.8; 0.5*1 -> 0.8
    assert holm([0.6, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([]) == []


def test_the_interval_and_the_test_share_one_level() -> None:
    assert StatsSettings(alpha=0.1, confidence_level=0.9).alpha == 0.1
    with pytest.raises(ValidationError, match="must be 1 - alpha"):
        StatsSettings(alpha=0.1)
    assert math.isclose(StatsSettings().confidence_level, 0.95)
