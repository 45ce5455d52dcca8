"""Seeded simulations through build_scorecard + evaluate_gate: error rates and power hold.

Each rate is compared with its nominal value plus three binomial standard deviations of
the simulated share (seeded, so a run is deterministic; the bound is what keeps a small
number of repetitions honest rather than lucky).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from roles.data_scientist.characteristics import Scenario, check_outcome, judge, rate
from roles.data_scientist.gate import GatePolicy
from roles.data_scientist.power import superiority_power
from roles.data_scientist.statistics import mcnemar_p

REPS = {30: 400, 100: 300, 300: 150}  # fewer where each eval costs more
NOMINAL = 0.025  # one-sided: half of alpha = 0.05


def bound(nominal: float, reps: int) -> float:
    return nominal + 3 * math.sqrt(nominal * (1 - nominal) / reps)


@pytest.mark.parametrize("n", sorted(REPS))
def test_an_unchanged_candidate_is_called_an_improvement_at_most_at_the_nominal_rate(
    n: int,
) -> None:
    held = rate(Scenario(n=n, p_baseline=0.6, p_candidate=0.6), GatePolicy(target="acc"),
                check_outcome("target", "held"), reps=REPS[n], seed=1)  # fmt: skip
    assert held <= bound(NOMINAL, REPS[n]), held


@pytest.mark.parametrize("n", sorted(REPS))
def test_a_guardrail_at_its_margin_holds_at_most_at_the_nominal_rate(n: int) -> None:
    policy = GatePolicy(guardrails=[{"metric": "acc", "margin": 0.05}])
    at_margin = Scenario(n=n, p_baseline=0.9, p_candidate=0.85)
    held = rate(at_margin, policy, check_outcome("guardrail", "held"), reps=REPS[n], seed=2)
    assert held <= bound(NOMINAL, REPS[n]), held


@pytest.mark.parametrize(("n", "discordance", "effect"), [(30, 0.3, 0.2), (100, 0.2, 0.1)])
def test_the_exact_mcnemar_power_is_the_simulated_one(
    n: int, discordance: float, effect: float
) -> None:
    reps = 4000
    rng = np.random.default_rng(3)
    worse, better = (discordance - effect) / 2, (discordance + effect) / 2
    tables = rng.multinomial(n, [0.5 - worse, worse, better, 0.5 - better], reps)
    b, c = tables[:, 1], tables[:, 2]
    # the exact two-sided binomial test at 1/2, vectorised (mcnemar_p is scipy's binomtest)
    p = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(b, c), b + c, 0.5))
    assert p[0] == pytest.approx(mcnemar_p(int(b[0]), int(c[0])))
    hits = int(np.sum((p < 0.05) & (c > b)))
    stated = superiority_power("binary", n=n, spread=discordance, effect=effect, alpha=0.05)
    assert abs(hits / reps - stated) <= 3 * math.sqrt(stated * (1 - stated) / reps)


def test_the_power_the_scorecard_states_is_the_power_the_gate_has() -> None:
    # A real +10-point gain at n=100: the gate calls it an improvement as often as the
    # power stated from each scorecard's own data says, within a few points.
    gain = Scenario(n=100, p_baseline=0.6, p_candidate=0.7)
    policy, reps = GatePolicy(target="acc"), 300
    stated, called = [], 0
    for rep in range(reps):
        card, verdict = judge(gain, policy, seed=4_000 + rep)
        row = card.row("acc")
        assert row is not None
        stated.append(superiority_power("binary", n=row.n_pairs, spread=row.stats.discordance,
                                        effect=0.1, alpha=0.05))  # fmt: skip
        called += verdict.checks[0].outcome == "held"
    expected = float(np.mean(stated))
    tolerance = 0.03 + 3 * math.sqrt(expected * (1 - expected) / reps)
    assert abs(called / reps - expected) <= tolerance, (called / reps, expected)
