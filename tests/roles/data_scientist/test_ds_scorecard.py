"""The scorecard: run summaries, built-in metrics, comparisons only with a baseline."""

from __future__ import annotations

import pytest

from roles.data_scientist.scorecard import build_scorecard
from roles.data_scientist.scores import ItemResult, MetricInfo, Sample, Score
from roles.data_scientist.statistics import StatsSettings
from roles.errors import InputError

ACC = MetricInfo(name="acc", kind="binary")
FAST = StatsSettings(n_resamples=200)


def results() -> list[ItemResult]:
    return [
        ItemResult(
            sample=Sample(item_id="a", output="x", latency_s=1.0, cost_usd=0.002),
            scores={"acc": Score.from_check(True)},
        ),
        ItemResult(
            sample=Sample(item_id="b", output="y", latency_s=3.0, cost_usd=0.004),
            scores={"acc": Score.from_check(False)},
        ),
        ItemResult(sample=Sample(item_id="c", error="timeout"), scores={}),
    ]


def test_summary_without_baseline() -> None:
    card = build_scorecard(results(), None, [ACC], FAST)
    assert card.baseline is None and card.comparisons == [] and card.row("acc") is None
    run = card.candidate
    assert run.n_items == 3 and run.error_rate == pytest.approx(1 / 3)
    assert run.latency_p95_s == pytest.approx(2.9) and run.cost_per_item_usd == pytest.approx(0.003)
    acc = run.metrics["acc"]
    assert (acc.n_scored, acc.n_unscored, acc.mean, acc.pass_rate) == (2, 1, 0.5, 0.5)
    assert set(run.metrics) == {"acc", "error_rate", "latency_s", "cost_per_item"}
    assert run.metrics["error_rate"].mean == pytest.approx(1 / 3)


def test_with_baseline_every_metric_is_compared() -> None:
    card = build_scorecard(results(), results(), [ACC], FAST)
    assert {r.metric for r in card.comparisons} == {
        "acc",
        "error_rate",
        "latency_s",
        "cost_per_item",
    }
    error_row = card.row("error_rate")
    assert error_row is not None and error_row.n_pairs == 3 and not error_row.higher_is_better
    assert card.row("latency_s").n_pairs == 2  # type: ignore[union-attr]


def test_scores_may_not_shadow_builtin_metrics() -> None:
    item = ItemResult(sample=Sample(item_id="a", output="x"), scores={"error_rate": Score(value=0)})
    with pytest.raises(InputError, match="error_rate"):
        build_scorecard([item], None, [], FAST)
