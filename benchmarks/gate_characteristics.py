"""Operating characteristics of the gate (issue #7's table), simulated through the real gate.

    .venv/bin/python benchmarks/gate_characteristics.py [--null-reps 600] [--alt-reps 300]
    .venv/bin/python benchmarks/gate_characteristics.py --skew-only   # issue 18's table, ~1 min
    .venv/bin/python benchmarks/gate_characteristics.py --attempts-only   # repeated attempts

Every cell is a share of seeded simulated evals run through ``build_scorecard`` +
``evaluate_gate`` with the built-in defaults (``roles.data_scientist.characteristics``
describes the simulation: a binary metric, half the items answered the same way by both
versions). ``--null-reps`` evals per cell where the truth is no change or sits at a
margin, ``--alt-reps`` otherwise. Prints a Markdown table; about five minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from roles.data_scientist.attempts import attempt_alpha
from roles.data_scientist.characteristics import (
    Scenario,
    check_outcome,
    false_improved_by_attempt,
    judge,
    rate,
)
from roles.data_scientist.gate import GatePolicy, Target
from roles.data_scientist.power import superiority_power
from roles.data_scientist.skew import SKEWED, false_worse, holm_false_worse, mc_error
from roles.data_scientist.suite import default_suite

SIZES = (30, 100, 300)


def default_gate() -> GatePolicy:
    """The built-in default suite's gate, its exact_match guardrail on the simulated metric."""
    gate = default_suite(has_expected=True).gate
    guards = [g.model_copy(update={"metric": "acc"}) if g.metric == "exact_match" else g
              for g in gate.guardrails]  # fmt: skip
    return gate.model_copy(update={"guardrails": guards})


def pct(value: float) -> str:
    return f"{value:.1%}"


def outcome_shares(scenario: Scenario, policy: GatePolicy, reps: int, seed: int) -> str:
    """'pass x / inconclusive y / fail z' of the whole verdict."""
    counts = {"pass": 0, "inconclusive": 0, "fail": 0}
    for rep in range(reps):
        counts[judge(scenario, policy, seed * 1_000_003 + rep)[1].outcome] += 1
    return " / ".join(pct(counts[k] / reps) for k in ("pass", "inconclusive", "fail"))


def gain_figures(
    n: int, effect: float, reps: int, seed: int, rho: float = 0.5
) -> tuple[float, float, float, float]:
    """(actual power, mean stated power at the effect, mean reported MDE, mean observed
    discordance) for a true gain from 0.6."""
    scenario = Scenario(n=n, p_baseline=0.6, p_candidate=0.6 + effect, rho=rho, tags=4)
    called, stated, mdes, spreads = 0, [], [], []
    for rep in range(reps):
        card, verdict = judge(scenario, GatePolicy(target="acc"), seed * 1_000_003 + rep)
        row = card.row("acc")
        assert row is not None
        called += next(c for c in verdict.checks if c.kind == "target").outcome == "held"
        stated.append(superiority_power("binary", n=row.n_pairs, spread=row.stats.discordance,
                                        effect=effect, alpha=card.settings.alpha))  # fmt: skip
        mdes.append(row.mde if row.mde is not None else float("nan"))
        spreads.append(row.stats.discordance)
    return (
        called / reps,
        statistics.fmean(stated),
        statistics.fmean(mdes),
        statistics.fmean(spreads),
    )


def rho_for(discordance: float, effect: float, p: float = 0.6) -> float:
    """The share of same answers that gives this discordance at this gain (the MDE is stated
    for the discordance observed, so its power is checked at that discordance)."""
    q = p + effect
    independent = p * (1 - q) + (1 - p) * q
    return min(1.0, max(0.0, (independent - discordance) / (independent - effect)))


def skew_table(reps: int) -> None:
    """Continuous metric, sd 1.5: share called significantly worse (two-sided α 0.05)."""
    print("| differences (sd 1.5) | truth | n | paired t | bootstrap-t |")
    print("|---|---|---|---|---|")
    cells = [(name, 0.0) for name in SKEWED] + [("exponential", -0.5), ("exponential", -0.3)]
    for name, shift in cells:
        truth = "mean 0 (level; nominal 2.5 %)" if shift == 0 else f"{shift:+g} sd (power)"
        for n in (30, 100):
            t_rate, boot = false_worse(SKEWED[name], n=n, reps=reps, seed=n, shift=shift)
            print(f"| {name} | {truth} | {n} | {pct(t_rate)} | {pct(boot)} |")
    family = max(100, reps // 4)
    for name in ("lognormal 1.0", "lognormal 1.5"):
        t_rate, boot = holm_false_worse(SKEWED[name], n=100, slices=4, reps=family, seed=4)
        print(f"| {name}, 4 guardrail slices through the gate (Holm) | mean 0 "
              f"(family-wise, ≤ 5 %) | 100 a slice | {pct(t_rate)} | {pct(boot)} |")  # fmt: skip
    print(
        f"\n{reps} draws a cell ({family} for the slice families); one Monte Carlo standard "
        f"error ≤ {mc_error(0.5, reps):.1%} ({mc_error(0.3, family):.1%})"
    )


def attempts_table(reps: int) -> None:
    """Ten equivalent rewordings tried in turn (n = 100, accuracy 0.6 on both sides, half the
    answers the same): the share where one of the first k is called improved."""
    scenario, k = Scenario(n=100, p_baseline=0.6, p_candidate=0.6), 10
    cached = false_improved_by_attempt(scenario, attempts=k, reps=reps, seed=18)
    fresh = false_improved_by_attempt(scenario, attempts=k, reps=reps, seed=19,
                                      fresh_baseline=True)  # fmt: skip
    print("| attempts | alpha of the k-th (spent) | one cached baseline: each at alpha | "
          "spent | a fresh baseline each attempt: each at alpha | spent |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for i in range(k):
        print(f"| {i + 1} | {attempt_alpha(0.05, i + 1):.2g} | {pct(cached[0][i])} | "
              f"{pct(cached[1][i])} | {pct(fresh[0][i])} | {pct(fresh[1][i])} |")  # fmt: skip
    print(f"\n{reps} sequences of {k} attempts a column pair; a false improvement of one "
          f"attempt at alpha 0.05 is 2.5 %; one Monte Carlo standard error ≤ "
          f"{mc_error(0.15, reps):.1%}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--null-reps", type=int, default=600, help="evals per no-change cell")
    parser.add_argument("--alt-reps", type=int, default=300, help="evals per true-change cell")
    parser.add_argument("--skew-reps", type=int, default=1000, help="draws per skew cell")
    parser.add_argument("--skew-only", action="store_true", help="only the skew table")
    parser.add_argument("--attempts-reps", type=int, default=1000, help="sequences per column")
    parser.add_argument("--attempts-only", action="store_true", help="only the attempts table")
    args = parser.parse_args()
    if args.skew_only:
        skew_table(args.skew_reps)
        return
    if args.attempts_only:
        attempts_table(args.attempts_reps)
        return
    null, alt = args.null_reps, args.alt_reps
    started = time.monotonic()
    not_regress = GatePolicy(target=Target(metric="acc", must="not_regress", margin=0.05))
    margin0 = GatePolicy(guardrails=[{"metric": "acc", "margin": 0.0}])
    margin5 = GatePolicy(guardrails=[{"metric": "acc", "margin": 0.05}])
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, cell: object) -> None:
        rows.append((label, [str(cell(n)) for n in SIZES]))  # type: ignore[operator]

    row("a true −10-point drop passes a `must: not_regress` target, margin 0.05 "
        "(pass / inconclusive / fail)",
        lambda n: outcome_shares(Scenario(n, 0.7, 0.6), not_regress, alt, 1))  # fmt: skip
    row("guardrail \"held\" when the truth sits exactly at its margin 0.05 (should be ≤ 2.5 %)",
        lambda n: pct(rate(Scenario(n, 0.9, 0.85), margin5, check_outcome("guardrail", "held"),
                           reps=null, seed=2)))  # fmt: skip
    row("an unchanged candidate fails a margin-0 guardrail (pass / inconclusive / fail)",
        lambda n: outcome_shares(Scenario(n, 0.9, 0.9), margin0, null, 3))  # fmt: skip
    row("an unchanged candidate vs the built-in default suite's gate (margins 0.05, 2 % call "
        "errors per side; pass / inconclusive / fail)",
        lambda n: outcome_shares(Scenario(n, 0.9, 0.9, error_rate=0.02), default_gate(), null, 4))  # fmt: skip
    row("an unchanged candidate is called an improvement of the target (should be ≤ 2.5 %)",
        lambda n: pct(rate(Scenario(n, 0.6, 0.6, tags=4), GatePolicy(target="acc"),
                           check_outcome("target", "held"), reps=null, seed=5)))  # fmt: skip
    gains = {n: gain_figures(n, 0.1, alt, 6) for n in SIZES}
    rows.append(("power for a true +10-point accuracy gain (0.6 → 0.7; 4 tag slices: no "
                 "correction of the primary) — actual / stated by the scorecard",
                 [f"{pct(gains[n][0])} / {pct(gains[n][1])}" for n in SIZES]))  # fmt: skip
    rows.append(("the MDE the scorecard reports (mean, exact McNemar at α 0.05, 80 % power)",
                 [f"{gains[n][2]:.3f}" for n in SIZES]))  # fmt: skip
    at_mde = {
        n: gain_figures(n, gains[n][2], alt, 7, rho=rho_for(gains[n][3], gains[n][2]))[0]
        for n in SIZES
    }
    rows.append(("actual power at the reported MDE, at the discordance it was stated for "
                 "(should be ≈ 80 %)",
                 [pct(at_mde[n]) for n in SIZES]))  # fmt: skip

    print(f"| what was measured | {' | '.join(f'n={n}' for n in SIZES)} |")
    print("|---|" + "---|" * len(SIZES))
    for label, cells in rows:
        print(f"| {label} | {' | '.join(cells)} |")
    print(f"\n{null} evals per no-change cell, {alt} otherwise; "
          f"{time.monotonic() - started:.0f} s")  # fmt: skip
    print()
    skew_table(args.skew_reps)
    print()
    attempts_table(args.attempts_reps)


if __name__ == "__main__":
    main()
