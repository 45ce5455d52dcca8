"""Issue #7's six cases, each of which the old gate got wrong."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import pytest

from roles.calls import ChatResult
from roles.data_scientist.gate import GatePolicy, Target, Verdict, evaluate_gate
from roles.data_scientist.scorecard import Scorecard, build_scorecard
from roles.data_scientist.scores import ItemResult, MetricInfo, Sample, Score
from roles.errors import InputError

ACC = MetricInfo(name="acc", kind="binary")
QUALITY = MetricInfo(name="quality", kind="continuous")


def run(
    values: Sequence[float],
    metric: MetricInfo = ACC,
    *,
    unscored: Collection[int] = (),
    tags: Sequence[list[str]] | None = None,
    latency: Sequence[float] | None = None,
) -> list[ItemResult]:
    def score(i: int) -> Score:
        if i in unscored:
            return Score.could_not_score("judge answer did not parse")
        return (
            Score.from_check(values[i] == 1.0)
            if metric.kind == "binary"
            else Score(value=values[i])
        )

    return [
        ItemResult(
            sample=Sample(
                item_id=str(i),
                output="x",
                tags=tags[i] if tags else [],
                latency_s=latency[i] if latency else 1.0,
            ),
            scores={metric.name: score(i)},
        )
        for i in range(len(values))
    ]


def gate(
    policy: GatePolicy, cand: list[ItemResult], base: list[ItemResult], metric: MetricInfo = ACC
) -> tuple[Scorecard, Verdict]:
    card = build_scorecard(cand, base, [metric], family={m for _, m in policy.metric_refs()})
    return card, evaluate_gate(policy, card)


def test_case1_unscored_where_the_candidate_fails_is_counted_and_not_a_pass() -> None:
    # The candidate passes the first 80 items and is unscored on the 20 it fails (the
    # baseline passes those): on the scored pairs it "improves" by +0.125.
    base = [1.0] * 70 + [0.0] * 10 + [1.0] * 20
    cand = [1.0] * 80 + [0.0] * 20
    card, verdict = gate(GatePolicy(target="acc"), run(cand, unscored=range(80, 100)), run(base))
    row = card.row("acc")
    assert row is not None and row.diff == pytest.approx(0.125) and row.n_unscored_candidate == 20
    assert verdict.outcome == "fail" and not verdict.passed
    assert any("candidate 20 of 100 (20%)" in f for f in verdict.failures)
    assert all("unscored: candidate 20" in c.reason for c in verdict.checks if c.kind == "target")
    # With the unscored limit lifted, the sensitivity check still refuses to call it a gain.
    loose = GatePolicy(target="acc", max_unscored_share=0.5)
    _, lifted = gate(loose, run(cand, unscored=range(80, 100)), run(base))
    (target,) = [c for c in lifted.checks if c.kind == "target"]
    assert target.outcome == "inconclusive" and not target.robust
    assert "not robust" in target.reason and lifted.outcome != "pass"


def test_case2_direction_and_test_are_about_the_same_mean() -> None:
    # 36 of 40 items fell by 0.05, 4 rose by 1.0: the mean rises (+0.055), the ranks fall.
    base = [0.5] * 40
    cand = [0.45] * 36 + [1.5] * 4
    card, verdict = gate(GatePolicy(target="quality"), run(cand, QUALITY), run(base, QUALITY),
                         QUALITY)  # fmt: skip
    row = card.row("quality")
    assert row is not None and row.p_value is not None and row.p_value > 0.05  # of the mean
    assert row.diff == pytest.approx(0.055) and row.ci_low < 0 < row.ci_high  # type: ignore[operator]
    assert row.verdict == "not_significant" and verdict.outcome != "pass"
    # 39 of 40 items 0.1 s faster, one 6 s slower: the mean is slower, but not significantly.
    fast = [1.0] * 40
    slow = [0.9] * 39 + [7.0]
    policy = GatePolicy(guardrails=[{"metric": "latency_s", "margin": 0.5}])
    card, verdict = gate(policy, run([1.0] * 40, latency=slow), run([1.0] * 40, latency=fast))
    latency = card.row("latency_s")
    assert latency is not None and latency.diff == pytest.approx(0.0525)
    assert latency.verdict == "not_significant"
    assert [c.outcome for c in verdict.checks if c.kind == "guardrail"] == ["held"]


@pytest.mark.parametrize(
    ("base", "cand", "margin", "outcome"),
    [
        ([1.0] * 5, [0.0] * 5, 0.05, "broken"),
        ([1.0] * 16 + [0.0] * 4, [1.0] * 11 + [0.0] * 9, 0.0, "broken"),
        # a drop of at least 0.031 is shown, not one beyond the margin: never a pass
        ([1.0] * 16 + [0.0] * 4, [1.0] * 11 + [0.0] * 9, 0.05, "inconclusive"),
    ],
    ids=["n5-all-pass-to-fail", "n20-0.80-to-0.55", "n20-within-a-0.05-margin"],
)
def test_case3_absence_of_evidence_is_not_a_pass(
    base: list[float], cand: list[float], margin: float, outcome: str
) -> None:
    policy = GatePolicy(target=Target(metric="acc", must="not_regress", margin=margin))
    card, verdict = gate(policy, run(cand), run(base))
    (target,) = [c for c in verdict.checks if c.kind == "target"]
    assert target.outcome == outcome and verdict.outcome != "pass"
    assert target.reason.startswith(
        f"target acc (must not regress by more than {margin:g}) {outcome}"
    )
    row = card.row("acc")
    assert row is not None and row.mde != 0.0  # None (nothing detectable at n=5) or positive


def test_case3_too_few_items_to_tell_is_inconclusive_with_numbers() -> None:
    policy = GatePolicy(target=Target(metric="acc", must="not_regress", margin=0.05))
    _, verdict = gate(policy, run([1.0] * 30), run([1.0] * 30))
    assert verdict.outcome == "inconclusive"
    (flag,) = [f for f in verdict.inconclusive if f.startswith("target")]
    assert "at n=30 this test can rule out only drops larger than 0.114; the margin is 0.05" in flag


def test_case4_the_primary_hypothesis_is_not_corrected_for_tag_slices() -> None:
    # 1 pair got worse, 9 better: exact McNemar p = 22/1024 on all items, four tag slices.
    tags = [[f"t{i % 4}"] for i in range(40)]
    base = [0.0] * 9 + [1.0] + [1.0] * 15 + [0.0] * 15
    cand = [1.0] * 9 + [0.0] + [1.0] * 15 + [0.0] * 15
    card, verdict = gate(GatePolicy(target="acc"), run(cand, tags=tags), run(base, tags=tags))
    assert len({r.slice for r in card.comparisons}) == 5
    assert card.row("acc").p_value == pytest.approx(22 / 1024)  # type: ignore[union-attr]
    assert verdict.outcome == "pass", verdict.reasons


def test_case5_a_pm_reads_why_in_numbers() -> None:
    # n=30, 4 items fixed, none broken: +0.133; the exact test has p 0.125.
    base = [0.0] * 4 + [1.0] * 10 + [0.0] * 16
    cand = [1.0] * 4 + [1.0] * 10 + [0.0] * 16
    card, verdict = gate(GatePolicy(target="acc"), run(cand), run(base))
    (flag,) = verdict.inconclusive
    row = card.row("acc")
    assert row is not None and row.ci_low is not None and row.mde is not None
    assert flag.startswith("target acc must improve: no significant gain; at n=30 this test ")
    assert f"detects only gains of at least {row.mde:.3g}" in flag
    assert "exact McNemar p 0.125" in flag and "unchanged" not in flag
    # Whenever the score interval excludes 0 the reason says why the exact test decides.
    base = [0.0] * 5 + [1.0] * 10 + [0.0] * 15
    cand = [1.0] * 5 + [1.0] * 10 + [0.0] * 15
    card, verdict = gate(GatePolicy(target="acc"), run(cand), run(base))
    assert card.row("acc").ci_low > 0  # type: ignore[operator,union-attr]
    assert "the score interval excludes 0 but the exact McNemar test" in verdict.inconclusive[0]


@pytest.mark.parametrize(
    ("field", "value"),
    [("latency_s", float("nan")), ("latency_s", -0.1), ("cost_usd", float("inf")),
     ("cost_usd", -5.0)],
)  # fmt: skip
def test_case6_impossible_latency_or_cost_is_refused_naming_the_item(
    field: str, value: float
) -> None:
    answer = ChatResult.model_validate({"text": "ok", field: value})
    with pytest.raises(InputError, match=rf"item 'ticket-7': {field} must be a finite number"):
        Sample.from_result(answer, item_id="ticket-7", input={})
    with pytest.raises(ValueError, match=rf"sample 'ticket-7': {field} must be a finite number"):
        Sample.model_validate({"item_id": "ticket-7", "output": "ok", field: value})
