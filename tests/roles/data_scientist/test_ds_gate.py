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
        target="helpful", guardrails=[{"metric": "exact", "margin": 0.1}, "error_rate"],
        max_p95_latency_s=2.0, max_cost_per_item_usd=0.01,
        thresholds=[{"metric": "exact", "min": 0.9}], on_inconclusive="review",
    )  # fmt: skip
    verdict = evaluate_gate(policy, card(run(0.9, broken=0), run(0.5, broken=0)))
    # error_rate at margin 0 cannot be shown within 0: inconclusive, and the change goes on
    assert verdict.outcome == "inconclusive" and verdict.passed, verdict.reasons
    assert [c.outcome for c in verdict.checks if c.kind == "guardrail"] == ["inconclusive", "held"]
    assert verdict.failures == [] and len(verdict.inconclusive) == 1
    assert verdict.inconclusive[0].startswith("guardrail error_rate inconclusive: at n=40")
    clean = policy.model_copy(update={"guardrails": policy.guardrails[:1]})
    assert evaluate_gate(clean, card(run(0.9, broken=0), run(0.5, broken=0))).outcome == "pass"


def test_target_without_significant_gain_is_inconclusive_and_not_regress_needs_a_margin() -> None:
    same = card(run(0.5, broken=0), run(0.5, broken=0))
    improve = evaluate_gate(GatePolicy(target="helpful"), same)
    assert improve.outcome == "inconclusive" and improve.passed  # default: on to review
    strict = GatePolicy(target="helpful", on_inconclusive="fail")
    assert not evaluate_gate(strict, same).passed
    margin0 = evaluate_gate(GatePolicy(target=Target(metric="helpful", must="not_regress")), same)
    assert margin0.outcome == "inconclusive"  # not worse at all cannot be shown
    loose = GatePolicy(target=Target(metric="helpful", must="not_regress", margin=0.05))
    assert evaluate_gate(loose, same).outcome == "pass"
    with pytest.raises(ValidationError, match="margin applies to must: not_regress"):
        Target(metric="helpful", margin=0.1)


def test_guardrail_is_judged_on_the_interval_bound_not_the_point_estimate() -> None:
    # 2 of 40 broken: the point estimate (-0.05) is within a 0.06 margin, the bound is not.
    scorecard = card(run(0.5, broken=2), run(0.5, broken=0))
    row = scorecard.row("exact")
    assert row is not None and row.diff == pytest.approx(-0.05) and row.ci_low < -0.06  # type: ignore[operator]
    tight = evaluate_gate(GatePolicy(guardrails=[Guardrail(metric="exact", margin=0.06)]),
                          scorecard)  # fmt: skip
    assert tight.outcome == "inconclusive"
    assert "can rule out only drops larger than 0.165; the margin is 0.06" in tight.inconclusive[0]
    loose = GatePolicy(guardrails=[Guardrail(metric="exact", margin=0.2)])
    assert evaluate_gate(loose, scorecard).outcome == "pass"
    worse = card(run(0.5, broken=30), run(0.5, broken=0))
    broken = evaluate_gate(GatePolicy(guardrails=[Guardrail(metric="exact", margin=0.2)]), worse)
    assert broken.outcome == "fail" and broken.failures[0].startswith("guardrail exact broken")


def test_every_broken_limit_is_listed() -> None:
    candidate = run(0.9, broken=0, latency_s=5.0)
    candidate[0] = ItemResult(sample=Sample(item_id="0", error="timeout"), scores={})
    candidate[1] = ItemResult(sample=Sample(item_id="1", output="x", cost_usd=None), scores={})
    policy = GatePolicy(max_error_rate=0.01, max_p95_latency_s=2.0, max_cost_per_item_usd=0.01)
    verdict = evaluate_gate(policy, card(candidate, run(0.5, broken=0)))
    assert len(verdict.failures) == 3
    assert "error rate 0.025 exceeds max_error_rate 0.01 (40 items)" in verdict.failures
    assert any("p95 latency" in f for f in verdict.failures)
    assert any("cost per item (USD) unknown" in f for f in verdict.failures)


def test_without_baseline_only_limits_and_thresholds_are_judged() -> None:
    policy = GatePolicy(
        target="helpful", guardrails=["exact"], thresholds=[{"metric": "exact", "min": 0.9}]
    )
    verdict = evaluate_gate(policy, card(run(0.9, broken=10), None))
    assert not verdict.passed
    assert verdict.failures == ["exact mean 0.75 (min 0.9, max None; 40 scored, 0 unscored)"]
    assert any("no baseline (new prompt)" in r for r in verdict.reasons)


def test_flag_regressions_setting() -> None:
    # "helpful" is no guardrail; it regressed: only flag_regressions="all" fails the gate.
    scorecard = card(run(0.2, broken=0), run(0.5, broken=0))
    assert evaluate_gate(GatePolicy(), scorecard).passed
    flagged = evaluate_gate(GatePolicy(flag_regressions="all"), scorecard)
    assert not flagged.passed
    assert {f.split(" (")[0] for f in flagged.failures} == {
        "helpful regressed significantly in slice 'all'",
    }
    # 20 billing items: too few for a continuous metric's slice, reported and not tested
    billing = next(
        r for r in scorecard.comparisons if (r.metric, r.slice) == ("helpful", "billing")
    )
    assert (billing.verdict, billing.p_value) == ("untestable", None)
    assert billing.test == "untested: slice under 50 pairs"


def test_policy_validation() -> None:
    with pytest.raises(ValidationError):
        GatePolicy(guardrails=[{"metric": "x", "margin": -1}])
    with pytest.raises(ValidationError):
        GatePolicy(thresholds=[{"metric": "x"}])
    with pytest.raises(ValidationError):
        GatePolicy(colour="red")  # type: ignore[call-arg]
