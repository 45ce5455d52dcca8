"""Planning: items per gated claim, from observed spreads when two runs exist."""

from __future__ import annotations

from roles.data_scientist.gate import GatePolicy, Target
from roles.data_scientist.planning import plan_items
from roles.data_scientist.power import items_needed
from roles.data_scientist.registry import build_scorer
from roles.data_scientist.scores import ItemResult, Sample, Score
from roles.data_scientist.suite import Suite


def run(passes: list[bool]) -> list[ItemResult]:
    return [
        ItemResult(sample=Sample(item_id=str(i), output="x"),
                   scores={"exact_match": Score.from_check(ok)})
        for i, ok in enumerate(passes)
    ]  # fmt: skip


def test_two_recorded_runs_give_the_observed_discordance() -> None:
    gate = GatePolicy(target="exact_match", guardrails=[{"metric": "error_rate", "margin": 0.05}])
    suite = Suite(scorers=(build_scorer("exact_match"),), gate=gate)
    base = run([i < 60 for i in range(100)])
    cand = run([i < 60 or i >= 95 for i in range(100)])  # 5 of 100 items changed
    target, guard = plan_items(suite, effect=0.05, dataset_items=100, baseline=base, candidate=cand)
    assert target.spread == 0.05 and "observed between two recorded runs" in target.assumption
    assert target.items_needed == items_needed("binary", effect=0.05, spread=0.05)
    assert guard.metric == "error_rate" and guard.claim == "not worse"
    # A margin of 0 can only be shown by a gain: no number of items is enough.
    strict = Suite(scorers=suite.scorers,
                   gate=GatePolicy(target=Target(metric="exact_match", must="not_regress")))  # fmt: skip
    (zero,) = plan_items(strict, effect=0.05, dataset_items=100, baseline=base)
    assert zero.items_needed is None and zero.power_at_dataset_size is None
