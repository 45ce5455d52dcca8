"""Operating characteristics of the experts' review (issue 18's table), by seeded simulation
of the review's own rule against the rule it replaced, in the same run.

    .venv/bin/python benchmarks/review_characteristics.py [--reps 500] [--quick]

Each cell: the share of simulated reviews (perfect experts) of a candidate with the given
true failure rate that pass, for a dataset of N items. The new rule is the default policy
(20 stratified random labels first, 10 more a look up to 60, the failure rate's bound at
95 % each side against ``max_failure_rate`` 0.2); the old one ``pick_review_sample``'s
purposeful sample of 10 passed at a fail share ≤ 0.2 (the default) or ≤ 0.5 (the sample
suite's). The simulation: ``roles.data_scientist.review_characteristics`` (scorers catch
60 % of failures and flag 5 % of good items, the judge 60 % / 10 % of the rest;
"uninformative": no signal, a simple random sample). Also printed: the failed and
undecided shares, the labels taken, and the error against the dataset's own failure share.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from roles.data_scientist.review_characteristics import World, characteristics, fail_share_rule
from roles.data_scientist.review_estimate import LookPlan
from roles.policies import ReviewPolicy

SIZES = (30, 100, 300)
RATES = (0.05, 0.2, 0.4)


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=500, help="reviews per cell")
    parser.add_argument("--quick", action="store_true", help="100 reviews per cell")
    args = parser.parse_args()
    reps = 100 if args.quick else args.reps
    policy = ReviewPolicy()
    plan = LookPlan(first=policy.items, batch=policy.batch, cap=policy.max_items,
                    alpha=1 - policy.confidence)  # fmt: skip
    started = time.perf_counter()
    print(f"{reps} reviews a cell; new rule: {policy.items} + {policy.batch}/look up to "
          f"{policy.max_items} labels, max_failure_rate {policy.max_failure_rate}\n")  # fmt: skip
    print(
        "| true failure rate | N | old rule, max_fail_share 0.2 | old rule, 0.5 (sample suite) "
        "| new rule passes | fails | undecided | labels (mean) | uninformative strata: passes |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    errors = []
    for rate in RATES:
        for n in SIZES:
            world = World(items=n, failure_rate=rate)
            row = characteristics(world, plan=plan, max_failure_rate=policy.max_failure_rate,
                                  reps=reps, seed=1)  # fmt: skip
            flat = characteristics(World(items=n, failure_rate=rate, informative=False),
                                   plan=plan, max_failure_rate=policy.max_failure_rate,
                                   reps=reps, seed=1)  # fmt: skip
            old = [fail_share_rule(world, max_fail_share=s, reps=reps, seed=1) for s in (0.2, 0.5)]
            print(f"| {rate:.0%} | {n} | {pct(old[0])} | {pct(old[1])} | {pct(row.passed)} | "
                  f"{pct(row.failed)} | {pct(row.undecided)} | {row.mean_labels:.0f} | "
                  f"{pct(flat.passed)} |")  # fmt: skip
            errors.append((rate, n, row.false_pass, row.false_fail))
    print("\nErrors against the dataset's own failure share (stated: at most 5 % each):\n")
    print("| true failure rate | N | passed, share above 0.2 | failed, share at or below 0.2 |")
    print("|---|---|---|---|")
    for rate, n, fp, ff in errors:
        print(f"| {rate:.0%} | {n} | {pct(fp)} | {pct(ff)} |")
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
