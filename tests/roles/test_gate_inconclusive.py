"""Inconclusive is not a pass: an untrusted target judge leaves the verdict undecided, and an
inconclusive non-inferiority claim fails unless the suite sends it to review."""

from __future__ import annotations

from roles.data_scientist.gate import GatePolicy, Guardrail, Target, evaluate_gate
from roles.data_scientist.scorecard import Scorecard, build_scorecard
from roles.data_scientist.scores import ItemResult, MetricInfo, Sample, Score
from roles.data_scientist.statistics import StatsSettings

SETTINGS = StatsSettings(n_resamples=1000, min_slice_items=10)
METRICS = [
    MetricInfo(name="correct", kind="binary"),
    MetricInfo(name="judge_correct", kind="binary"),
]
WHY = (
    "judge 3f9c2a71d0b4 (judge_correct) not trusted (12 labelled pairs, fewer than the 30 "
    "required; κ lower bound 0.31 < 0.6): its metric is shown, not gated"
)


def _run(fails: int, *, n: int = 40) -> list[ItemResult]:
    """n items; both metrics fail on the first ``fails``."""
    return [
        ItemResult(
            sample=Sample(item_id=str(i), input={}, output="x", tags=[]),
            scores={
                "correct": Score.from_check(i >= fails),
                "judge_correct": Score.from_check(i >= fails),
            },
        )
        for i in range(n)
    ]


def _unchanged() -> Scorecard:
    return build_scorecard(_run(4), _run(4), METRICS, SETTINGS)


def test_an_untrusted_target_judge_leaves_an_unchanged_candidate_inconclusive_never_pass() -> None:
    verdict = evaluate_gate(
        GatePolicy(target="judge_correct"), _unchanged(), untrusted={"judge_correct": WHY}
    )
    assert verdict.outcome == "inconclusive", verdict.reasons
    (check,) = [c for c in verdict.checks if c.kind == "target"]
    assert check.outcome == "inconclusive" and check.metric == "judge_correct"
    line = next(r for r in verdict.reasons if r.startswith("INCONCLUSIVE: target judge_correct"))
    # names the judge, why it is untrusted (its calibration numbers) and what makes it count
    assert "judge 3f9c2a71d0b4 (judge_correct) not trusted (12 labelled pairs" in line
    assert "κ lower bound 0.31 < 0.6" in line
    assert "`promptloop judge calibrate`" in line and "labelled pairs" in line
    assert "shown, not gated" not in "\n".join(verdict.reasons)  # not the guardrails' note
    # an improve target that is undecided goes on to the experts by default
    assert verdict.passed
    # a not_regress target that is undecided fails by default
    guarded = GatePolicy(target=Target(metric="judge_correct", must="not_regress", margin=0.2))
    held = evaluate_gate(guarded, _unchanged())
    assert held.outcome == "pass", held.reasons  # trusted, the same card passes
    undecided = evaluate_gate(guarded, _unchanged(), untrusted={"judge_correct": WHY})
    assert undecided.outcome == "inconclusive" and not undecided.passed, undecided.reasons


def test_an_untrusted_guardrail_judge_is_still_dropped_with_its_note() -> None:
    policy = GatePolicy(guardrails=[Guardrail(metric="judge_correct", margin=0.2)])
    verdict = evaluate_gate(policy, _unchanged(), untrusted={"judge_correct": WHY})
    assert verdict.outcome == "pass" and not [c for c in verdict.checks if c.kind == "guardrail"]
    assert f"note: {WHY}" in verdict.reasons


def test_with_no_baseline_an_untrusted_target_adds_no_check() -> None:
    card = build_scorecard(_run(4), None, METRICS, SETTINGS)
    verdict = evaluate_gate(
        GatePolicy(target="judge_correct"), card, untrusted={"judge_correct": WHY}
    )
    assert verdict.outcome == "pass" and not [c for c in verdict.checks if c.kind == "target"]


def test_an_inconclusive_guardrail_fails_by_default_and_goes_to_review_when_the_suite_says() -> (
    None
):
    # margin 0 on an unchanged candidate: the guardrail cannot be shown, so it is inconclusive
    policy = GatePolicy(guardrails=["correct"])
    assert policy.on_inconclusive is None
    verdict = evaluate_gate(policy, _unchanged())
    assert verdict.outcome == "inconclusive" and not verdict.passed, verdict.reasons
    assert any("fails (on_inconclusive unset" in r for r in verdict.reasons)
    review = evaluate_gate(policy.model_copy(update={"on_inconclusive": "review"}), _unchanged())
    assert review.outcome == "inconclusive" and review.passed
    assert any("goes on to review" in r for r in review.reasons)
    fail = evaluate_gate(policy.model_copy(update={"on_inconclusive": "fail"}), _unchanged())
    assert not fail.passed and any("fails (on_inconclusive: fail)" in r for r in fail.reasons)


def test_an_inconclusive_not_regress_target_fails_by_default_an_improve_target_goes_to_review() -> (
    None
):
    not_regress = GatePolicy(target=Target(metric="correct", must="not_regress"))
    assert not evaluate_gate(not_regress, _unchanged()).passed
    improve = evaluate_gate(GatePolicy(target="correct"), _unchanged())
    assert improve.outcome == "inconclusive" and improve.passed, improve.reasons
