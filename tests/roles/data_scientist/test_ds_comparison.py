"""Paired comparison: pairing, exclusions, slices, Holm across the family, outcomes."""

from __future__ import annotations

import pytest
from scipy import stats

from roles.data_scientist.comparison import compare
from roles.data_scientist.scores import ItemResult, MetricInfo, Sample, Score
from roles.data_scientist.statistics import StatsSettings
from roles.errors import InputError

FAST = StatsSettings(n_resamples=1000, min_slice_items=5)
ACC = MetricInfo(name="acc", kind="binary")
QUALITY = MetricInfo(name="quality", kind="continuous")
LATENCY = MetricInfo(name="lat", kind="continuous", higher_is_better=False)


def result(item: str, tags: list[str] | None = None, **scores: Score) -> ItemResult:
    sample = Sample(item_id=item, output="x", tags=tags or [])
    return ItemResult(sample=sample, scores=scores)


def passed(ok: bool) -> Score:
    return Score.from_check(ok)


def test_binary_metric_uses_exact_mcnemar_on_discordant_pairs() -> None:
    # Baseline passes items 12..27, candidate 0..25: 12 fixed (0..11), 2 broken (26, 27).
    base = [result(str(i), acc=passed(i >= 12 and i < 28)) for i in range(30)]
    cand = [result(str(i), acc=passed(i < 26)) for i in range(30)]
    (row,) = [r for r in compare(base, cand, [ACC], FAST) if r.slice == "all"]
    assert row.n_pairs == 30 and row.n_excluded == 0
    assert row.baseline == pytest.approx(16 / 30) and row.candidate == pytest.approx(26 / 30)
    assert row.diff == pytest.approx(10 / 30)
    b, c = 2, 12
    assert row.p_value == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue)
    assert row.verdict == "improved" and row.ci_low is not None and row.ci_low > 0


def test_unscored_and_unpaired_items_are_excluded_and_counted() -> None:
    base = [
        result("a", acc=passed(True)),
        result("b", acc=Score.could_not_score("x")),
        result("c", acc=passed(False)),
        result("only_base", acc=passed(True)),
    ]
    cand = [
        result("a", acc=passed(True)),
        result("b", acc=passed(True)),
        result("c", acc=passed(True)),
        result("only_cand", acc=passed(True)),
    ]
    (row,) = compare(base, cand, [ACC], FAST)
    assert (row.n_pairs, row.n_excluded) == (2, 3)


def test_continuous_metric_uses_the_bootstrap_t_test_of_the_mean_and_its_direction() -> None:
    base = [result(str(i), quality=Score(value=0.5), lat=Score(value=1.0)) for i in range(20)]
    cand = [
        result(str(i), quality=Score(value=0.5 + 0.01 * (i + 1)), lat=Score(value=1.0 + 0.1 * i))
        for i in range(20)
    ]
    rows = {r.metric: r for r in compare(base, cand, [QUALITY, LATENCY], FAST)}
    assert rows["quality"].p_value is not None and rows["quality"].p_value < 0.01
    assert rows["quality"].ci_low > 0  # type: ignore[operator]
    assert rows["quality"].test == "bootstrap-t" and rows["quality"].verdict == "improved"
    assert rows["lat"].verdict == "regressed"  # slower is worse
    assert not rows["lat"].higher_is_better


def test_rows_are_uncorrected_face_value() -> None:
    base = [result(str(i), ["t"] if i % 2 else [], acc=passed(False)) for i in range(20)]
    cand = [result(str(i), ["t"] if i % 2 else [], acc=passed(i % 3 == 0)) for i in range(20)]
    rows = compare(base, cand, [ACC], FAST)
    assert [r.slice for r in rows] == ["all", "t"]
    assert rows[0].p_value == pytest.approx(stats.binomtest(0, 7, 0.5).pvalue)


def test_small_tags_are_not_slices_and_tiny_runs_are_untestable() -> None:
    base = [result("a", ["rare"], acc=passed(True))]
    cand = [result("a", ["rare"], acc=passed(False))]
    (row,) = compare(base, cand, [ACC], FAST)
    assert row.slice == "all" and row.verdict == "untestable"
    assert row.p_value is None and row.ci_low is None and row.mde is None


def test_all_equal_is_not_significant_with_an_honest_interval() -> None:
    base = [result(str(i), acc=passed(True)) for i in range(10)]
    (row,) = compare(base, base, [ACC], FAST)
    assert (row.diff, row.p_value, row.verdict) == (0.0, 1.0, "not_significant")
    assert row.ci_low is not None and row.ci_high is not None and row.ci_low < 0 < row.ci_high
    assert row.mde is not None and row.mde > 0


def test_unscored_counts_and_the_worst_case_fill() -> None:
    base = [result(str(i), acc=passed(True)) for i in range(10)]
    cand = [result(str(i), acc=passed(True) if i < 8 else Score.could_not_score("x"))
            for i in range(10)]  # fmt: skip
    (row,) = compare(base, cand, [ACC], FAST)
    assert (row.n_pairs, row.n_unscored_candidate, row.n_unscored_baseline) == (8, 2, 0)
    assert row.diff == 0.0 and row.worst_case is not None
    assert (row.worst_case.n, row.worst_case.n10) == (10, 2)  # counted as failures
    assert row.worst_case.mean_diff == pytest.approx(-0.2)


def test_binary_values_must_be_zero_or_one() -> None:
    base = [result("a", acc=Score(value=0.5)), result("b", acc=Score(value=1.0))]
    with pytest.raises(InputError, match="acc"):
        compare(base, base, [ACC], FAST)


def test_duplicate_items_are_refused() -> None:
    twice = [result("a", acc=passed(True)), result("a", acc=passed(False))]
    with pytest.raises(InputError, match="'a' twice"):
        compare(twice, twice, [ACC], FAST)
