"""Operating characteristics of the gate: seeded simulated evals through the real gate.

A simulated eval is n items with a binary metric ``acc``. Each item has a latent uniform
``u``; the baseline passes when ``u < p_baseline``. The candidate reuses the same ``u``
with probability ``rho`` (an item it answers the same way) and draws a fresh one
otherwise, and passes when that is below ``p_candidate``. So the candidate's true pass
rate is ``p_candidate``, and an unchanged candidate (equal rates) still changes
``(1 - rho) * 2 p (1 - p)`` of the items, as a re-worded prompt does.

::

    rate(Scenario(n=100, p_baseline=0.9, p_candidate=0.85), GUARDRAIL_AT_5, "held", reps=300)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from roles.data_scientist.gate import GatePolicy, Verdict, evaluate_gate
from roles.data_scientist.scorecard import Scorecard, build_scorecard
from roles.data_scientist.scores import ItemResult, MetricInfo, Sample, Score

ACC = MetricInfo(name="acc", kind="binary")


@dataclass(frozen=True)
class Scenario:
    n: int
    p_baseline: float
    p_candidate: float
    rho: float = 0.5  # share of items answered the same way by both versions
    error_rate: float = 0.0  # each side's chance of a failed call per item
    tags: int = 0  # tag slices of equal size


def simulate(scenario: Scenario, seed: int) -> tuple[list[ItemResult], list[ItemResult]]:
    """(baseline, candidate) results of one simulated eval."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = scenario.n
    u = rng.random(n)
    same = rng.random(n) < scenario.rho
    v = np.where(same, u, rng.random(n))
    errors = rng.random((2, n)) < scenario.error_rate
    sides = []
    for side, (latent, rate) in enumerate(((u, scenario.p_baseline), (v, scenario.p_candidate))):
        results = []
        for i in range(n):
            tags = [f"t{i % scenario.tags}"] if scenario.tags else []
            if errors[side, i]:
                sample = Sample(item_id=str(i), error="timeout", tags=tags)
                results.append(ItemResult(sample=sample, scores={
                    "acc": Score.could_not_score("model call failed")}))  # fmt: skip
                continue
            sample = Sample(item_id=str(i), output="x", latency_s=1.0, tags=tags)
            results.append(ItemResult(sample=sample, scores={
                "acc": Score.from_check(bool(latent[i] < rate))}))  # fmt: skip
        sides.append(results)
    return sides[0], sides[1]


def judge(scenario: Scenario, policy: GatePolicy, seed: int) -> tuple[Scorecard, Verdict]:
    base, cand = simulate(scenario, seed)
    family = {metric for _, metric in policy.metric_refs()}
    card = build_scorecard(cand, base, [ACC], family=family)
    return card, evaluate_gate(policy, card)


def rate(
    scenario: Scenario,
    policy: GatePolicy,
    event: Callable[[Scorecard, Verdict], bool],
    *,
    reps: int,
    seed: int = 0,
) -> float:
    """Share of ``reps`` seeded simulated evals where ``event`` happens."""
    hits = sum(event(*judge(scenario, policy, seed * 1_000_003 + rep)) for rep in range(reps))
    return hits / reps


def check_outcome(kind: str, outcome: str) -> Callable[[Scorecard, Verdict], bool]:
    """Event: the (first) check of this kind came out so."""

    def event(card: Scorecard, verdict: Verdict) -> bool:
        return next(c for c in verdict.checks if c.kind == kind).outcome == outcome

    return event


def false_improved_by_attempt(
    scenario: Scenario, *, attempts: int, reps: int, seed: int = 0, fresh_baseline: bool = False
) -> tuple[list[float], list[float]]:
    """(at alpha, spent) shares of ``reps`` where one of the first k candidates (k = 1 ..
    ``attempts``) is called an improvement of ``acc``, each an equivalent rewording
    (``scenario`` with equal rates) tried in turn against one cached baseline, or against a
    fresh baseline sample each time; spent: the k-th tested at ``attempt_alpha``
    (``roles.data_scientist.attempts``), on the same scorecards."""
    import numpy as np

    from roles.data_scientist.attempts import attempt_alpha

    policy = GatePolicy(target="acc")
    hits = {False: [0] * attempts, True: [0] * attempts}
    for rep in range(reps):
        rng = np.random.default_rng(seed * 1_000_003 + rep)
        u = rng.random(scenario.n)
        base = _answers(u, scenario.p_baseline)  # the cached baseline every attempt meets
        called = {False: False, True: False}
        for k in range(1, attempts + 1):
            if fresh_baseline:
                u = rng.random(scenario.n)
                base = _answers(u, scenario.p_baseline)
            v = np.where(rng.random(scenario.n) < scenario.rho, u, rng.random(scenario.n))
            cand = _answers(v, scenario.p_candidate)
            card = build_scorecard(cand, base, [ACC], family={"acc"})
            for spend in (False, True):
                alpha = attempt_alpha(card.settings.alpha, k) if spend else None
                verdict = evaluate_gate(policy, card, target_alpha=alpha)
                called[spend] = called[spend] or any(
                    c.kind == "target" and c.outcome == "held" for c in verdict.checks
                )
                hits[spend][k - 1] += called[spend]
    return [h / reps for h in hits[False]], [h / reps for h in hits[True]]


def _answers(latent: Any, rate: float) -> list[ItemResult]:
    return [
        ItemResult(sample=Sample(item_id=str(i), output="x", latency_s=1.0),
                   scores={"acc": Score.from_check(bool(u < rate))})
        for i, u in enumerate(latent)
    ]  # fmt: skip
