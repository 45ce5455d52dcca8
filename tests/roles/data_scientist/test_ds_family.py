"""Families match decisions: the primary at its level, descriptive rows in no family."""

from __future__ import annotations

from roles.data_scientist.gate import GatePolicy, evaluate_gate
from roles.data_scientist.scorecard import build_scorecard
from roles.data_scientist.scores import ItemResult, MetricInfo, Sample, Score
from roles.data_scientist.statistics import StatsSettings


def results(values: dict[str, list[float]]) -> list[ItemResult]:
    n = len(next(iter(values.values())))
    return [
        ItemResult(
            sample=Sample(item_id=str(i), output="x"),
            scores={m: Score.from_check(v[i] == 1.0) for m, v in values.items()},
        )
        for i in range(n)
    ]


def test_adding_descriptive_metrics_never_changes_the_gate() -> None:
    n = 30
    base = {"target": [0.0] * 8 + [1.0] * 22}
    cand = {"target": [1.0] * n}
    noise = {f"extra{k}": [float((i + k) % 2) for i in range(n)] for k in range(5)}
    metric = MetricInfo(name="target", kind="binary")
    extras = [MetricInfo(name=name, kind="binary") for name in noise]
    policy = GatePolicy(target="target")

    alone = build_scorecard(results(cand), results(base), [metric], family={"target"})
    crowded = build_scorecard(
        results({**cand, **noise}), results({**base, **noise}), [metric, *extras],
        family={"target"},
    )  # fmt: skip
    assert {r.metric for r in crowded.comparisons if not r.gated} >= set(noise)
    one, many = evaluate_gate(policy, alone), evaluate_gate(policy, crowded)
    assert one.outcome == many.outcome == "pass"
    assert one.checks[0] == many.checks[0]


def test_target_tag_slices_are_descriptive_and_guardrail_slices_one_holm_family() -> None:
    n = 40
    tags = [["a"] if i % 4 == 0 else ["b"] if i % 4 == 1 else ["c"] if i % 4 == 2 else ["d"]
            for i in range(n)]  # fmt: skip

    def run(values: list[float]) -> list[ItemResult]:
        return [
            ItemResult(sample=Sample(item_id=str(i), output="x", tags=tags[i]),
                       scores={"target": Score.from_check(values[i] == 1.0)})
            for i in range(n)
        ]  # fmt: skip

    base = [1.0 if i % 3 == 0 else 0.0 for i in range(n)]
    cand = [1.0 if i % 3 == 0 or i % 5 == 1 or i < 20 else 0.0 for i in range(n)]
    metric = MetricInfo(name="target", kind="binary")
    card = build_scorecard(run(cand), run(base), [metric], StatsSettings(min_slice_items=5),
                           family={"target"})  # fmt: skip
    assert len({r.slice for r in card.comparisons}) == 5
    verdict = evaluate_gate(GatePolicy(target="target"), card)
    # The primary hypothesis is judged at its level, whatever the number of tag slices.
    row = card.row("target")
    assert row is not None and row.p_value is not None and row.p_value < 0.05
    assert verdict.checks[0].outcome == "held"
    assert [c.kind for c in verdict.checks].count("slice_regression") == 0
