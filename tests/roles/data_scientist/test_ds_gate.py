"""The gate lists every reason; a target gain never hides a guardrail loss."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from roles.data_scientist.gate import GatePolicy, Guardrail, Target, evaluate_gate
from roles.data_scientist.scorecard import Scorecard, build_scorecard
from roles.data_scientist.scores import ItemResult, MetricInfo, Sample, Score
from roles.data_scientist.statistics import StatsSettings

SETTINGS = StatsSettings(n_resamples=1000, min_slice_items=10)
METRICS = [MetricInfo(name="helpful", kind="continuous"), MetricInfo(name="exact", kind="binary")]


def run(helpful: float, broken: int, *, n: int = 40, **sample: object) -> list[ItemResult]:
    """n items; ``exact`` fails on the first ``broken`` ones; items 0..19 are tagged billing."""
    return [
        ItemResult(
            sample=Sample.model_validate(
                {
                    "item_id": str(i),
                    "output": "x",
                    "tags": ["billing"] if i < 20 else [],
                    "latency_s": 1.0,
                    "cost_usd": 0.001,
                    **sample,
                }
            ),
            scores={"helpful": Score(value=helpful), "exact": Score.from_check(i >= broken)},
        )
        for i in range(n)
    ]


def card(candidate: list[ItemResult], baseline: list[ItemResult] | None) -> Scorecard:
    return build_scorecard(candidate, baseline, METRICS, SETTINGS)


def test_guardrail_loss_fails_the_gate_despite_a_significant_target_gain() -> None:
    scorecard = card(run(0.9, broken=15), run(0.5, broken=0))
    assert scorecard.row("helpful").verdict == "improved"  # type: ignore[union-attr]
    assert scorecard.row("exact").verdict == "regressed"  # type: ignore[union-attr]
    policy = GatePolicy(target="helpful", guardrails=[{"metric": "exact", "margin": 0.05}])
    verdict = evaluate_gate(policy, scorecard)
    assert not verdict.passed
    assert any(f.startswith("guardrail exact broken") for f in verdict.failures)
    assert any("regressed significantly in slice 'billing'" in f for f in verdict.failures)
    assert any(r.startswith("ok: target helpful must improve: improved") for r in verdict.reasons)
    assert verdict.reasons[: len(verdict.failures)] == [f"FAIL: {f}" for f in verdict.failures]


def test_a_clean_improvement_passes_and_says_why() -> None:
    policy = GatePolicy(
        target="helpful", guardrails=["exact", "error_rate"], max_p95_latency_s=2.0,
        max_cost_per_item_usd=0.01, thresholds=[{"metric": "exact", "min": 0.9}],
    )  # fmt: skip
    verdict = evaluate_gate(policy, card(run(0.9, broken=0), run(0.5, broken=0)))
    assert verdict.passed, verdict.failures
    assert len(verdict.reasons) == 7 and verdict.failures == []


def test_target_without_significant_gain_fails_improve_but_passes_not_regress() -> None:
    same = card(run(0.5, broken=0), run(0.5, broken=0))
    assert not evaluate_gate(GatePolicy(target="helpful"), same).passed
    policy = GatePolicy(target=Target(metric="helpful", must="not_regress"))
    assert evaluate_gate(policy, same).passed


def test_guardrail_is_judged_on_the_ci_bound_not_the_point_estimate() -> None:
    # 2 of 40 broken: the point estimate (-0.05) is within a 0.06 margin, the CI bound is not.
    scorecard = card(run(0.5, broken=2), run(0.5, broken=0))
    row = scorecard.row("exact")
    assert row is not None and row.diff == pytest.approx(-0.05) and row.ci_low < -0.06  # type: ignore[operator]
    assert not evaluate_gate(GatePolicy(guardrails=[Guardrail(metric="exact", margin=0.06)]),
                             scorecard).passed  # fmt: skip
    loose = GatePolicy(guardrails=[Guardrail(metric="exact", margin=0.2)])
    assert evaluate_gate(loose, scorecard).passed


def test_every_broken_limit_is_listed() -> None:
    candidate = run(0.9, broken=0, latency_s=5.0)
    candidate[0] = ItemResult(sample=Sample(item_id="0", error="timeout"), scores={})
    candidate[1] = ItemResult(sample=Sample(item_id="1", output="x", cost_usd=None), scores={})
    policy = GatePolicy(max_error_rate=0.01, max_p95_latency_s=2.0, max_cost_per_item_usd=0.01)
    verdict = evaluate_gate(policy, card(candidate, run(0.5, broken=0)))
    assert len(verdict.failures) == 3
    assert "error rate 0.025 exceeds max_error_rate 0.01" in verdict.failures
    assert any("p95 latency" in f for f in verdict.failures)
    assert any("cost per item (USD) unknown" in f for f in verdict.failures)


def test_without_baseline_only_limits_and_thresholds_are_judged() -> None:
    policy = GatePolicy(
        target="helpful", guardrails=["exact"], thresholds=[{"metric": "exact", "min": 0.9}]
    )
    verdict = evaluate_gate(policy, card(run(0.9, broken=10), None))
    assert not verdict.passed
    assert verdict.failures == ["exact mean 0.75 (min 0.9, max None)"]
    assert any("no baseline (new prompt)" in r for r in verdict.reasons)


def test_flag_regressions_setting() -> None:
    # "helpful" is no guardrail; it regressed: only flag_regressions="all" fails the gate.
    scorecard = card(run(0.2, broken=0), run(0.5, broken=0))
    assert evaluate_gate(GatePolicy(), scorecard).passed
    flagged = evaluate_gate(GatePolicy(flag_regressions="all"), scorecard)
    assert not flagged.passed
    assert {f.split(" (")[0] for f in flagged.failures} == {
        "helpful regressed significantly in slice 'all'",
        "helpful regressed significantly in slice 'billing'",
    }


def test_policy_validation() -> None:
    with pytest.raises(ValidationError):
        GatePolicy(guardrails=[{"metric": "x", "margin": -1}])
    with pytest.raises(ValidationError):
        GatePolicy(thresholds=[{"metric": "x"}])
    with pytest.raises(ValidationError):
        GatePolicy(colour="red")  # type: ignore[call-arg]
