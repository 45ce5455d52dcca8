"""The review rule's operating characteristics, by seeded simulation: how often a candidate
of a true failure rate passes, fails or is left undecided, and how many labels it took.

    world = World(items=100, failure_rate=0.05)
    row = characteristics(world, plan=LookPlan(first=20, batch=10, cap=60, alpha=0.05),
                          max_failure_rate=0.2, reps=500, seed=1)
    row.passed, row.failed, row.undecided, row.mean_labels
    row.false_pass   # passed, of the datasets whose own failure share is above the tolerable rate

A simulated dataset: each of ``items`` fails with ``failure_rate``; a failed call (rate
``error_rate``) is a failure by definition. The scorers and the judge see the truth through
noise: a deterministic scorer flags a failure with ``scorer_recall`` and a good item with
``scorer_false``; of the items it passes, the judge fails or doubts a failure with
``judge_recall`` and a good one with ``judge_false``. The experts are perfect (their label
is the truth): what is measured is the sampling design and the bound, not the people.
``informative=False`` gives scorers and judge no signal (every item in R: a simple random
sample). The rule run is the review's own: ``allocate``, ``draw``, ``estimate``, ``decide``.
``fail_share_rule`` runs the rule it replaced on the same worlds (the benchmark's baseline).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from roles.data_scientist.review_estimate import (
    Decision,
    LookPlan,
    ReviewTally,
    StratumTally,
    decide,
    estimate,
)
from roles.data_scientist.review_sample import pick_review_sample
from roles.data_scientist.review_strata import REVIEWED, allocate, draw
from roles.data_scientist.scores import ItemResult, Sample, Score


@dataclass(frozen=True)
class World:
    items: int
    failure_rate: float
    error_rate: float = 0.0
    scorer_recall: float = 0.6
    scorer_false: float = 0.05
    judge_recall: float = 0.6
    judge_false: float = 0.1
    informative: bool = True


@dataclass(frozen=True)
class Characteristics:
    world: World
    reps: int
    passed: float
    failed: float
    undecided: float
    mean_labels: float
    # The errors, against the dataset's own failure share (what the review estimates): of the
    # reviews of a dataset whose share is above the tolerable rate, the share passed; of
    # those at or below it, the share failed (None: no such dataset was drawn).
    false_pass: float | None
    false_fail: float | None


def _dataset(world: World, rng: random.Random) -> tuple[dict[str, list[str]], set[str], int]:
    """Strata members, the failing items' ids, and the errors."""
    members: dict[str, list[str]] = {h: [] for h in REVIEWED}
    failing, errors = set(), 0
    for i in range(world.items):
        item = f"i{i}"
        if rng.random() < world.error_rate:
            errors += 1
            continue
        bad = rng.random() < world.failure_rate
        if bad:
            failing.add(item)
        stratum = "R"
        if world.informative:
            if rng.random() < (world.scorer_recall if bad else world.scorer_false):
                stratum = "S"
            elif rng.random() < (world.judge_recall if bad else world.judge_false):
                stratum = "U"
        members[stratum].append(item)
    return members, failing, errors


def simulate_review(
    world: World, *, plan: LookPlan, max_failure_rate: float, rng: random.Random, draws: int
) -> tuple[Decision, int, float]:
    """One review of one simulated dataset: its decision, the labels it took, and the
    dataset's true failure share."""
    members, failing, errors = _dataset(world, rng)
    share = (len(failing) + errors) / world.items
    populations = {h: len(ids) for h, ids in members.items() if ids}
    reviewable = sum(populations.values())
    taken: dict[str, list[str]] = {h: [] for h in populations}
    size: int | None = plan.looks(reviewable)[0] if reviewable else 0
    while True:
        if reviewable and size:
            labelled = {h: len(ids) for h, ids in taken.items()}
            fails = {h: sum(i in failing for i in ids) for h, ids in taken.items()}
            wanted = allocate(populations=populations, labelled=labelled, failed=fails, total=size)
            for h, item in draw(members, wanted, taken=taken, rng=rng):
                taken[h].append(item)
        tally = ReviewTally(
            total=world.items,
            errors=errors,
            strata=[
                StratumTally(h, populations[h], len(ids), sum(i in failing for i in ids))
                for h, ids in taken.items()
            ],
        )
        nxt = plan.next_size(tally.labels, reviewable)
        est = estimate(
            tally, alpha=plan.alpha_at(tally.labels, reviewable), seed=rng.randrange(2**31),
            draws=draws,
        )  # fmt: skip
        decision = decide(est, max_failure_rate=max_failure_rate, more=nxt is not None)
        if decision != "more":
            return decision, tally.labels, share
        size = nxt


def characteristics(
    world: World,
    *,
    plan: LookPlan,
    max_failure_rate: float,
    reps: int = 500,
    seed: int = 0,
    draws: int = 4000,
) -> Characteristics:
    rng = random.Random(f"review-characteristics:{seed}:{world}")
    outcomes = [
        simulate_review(world, plan=plan, max_failure_rate=max_failure_rate, rng=rng, draws=draws)
        for _ in range(reps)
    ]
    share = {d: sum(o == d for o, _, _ in outcomes) / reps for d in ("pass", "fail", "undecided")}
    above = [o for o, _, truth in outcomes if truth > max_failure_rate + 1e-12]
    below = [o for o, _, truth in outcomes if truth <= max_failure_rate + 1e-12]
    return Characteristics(
        world=world,
        reps=reps,
        passed=share["pass"],
        failed=share["fail"],
        undecided=share["undecided"],
        mean_labels=sum(n for _, n, _ in outcomes) / reps,
        false_pass=above.count("pass") / len(above) if above else None,
        false_fail=below.count("fail") / len(below) if below else None,
    )


def _results(world: World, rng: random.Random) -> tuple[list[ItemResult], set[str]]:
    """The simulated dataset as the candidate's results (for the sampler it replaces)."""
    members, failing, errors = _dataset(world, rng)
    flags = {i: h for h, ids in members.items() for i in ids}
    results = []
    for i in range(errors):
        item = f"e{i}"
        failing.add(item)
        results.append(ItemResult(sample=Sample(item_id=item, input={}, error="timeout")))
    for item, stratum in flags.items():
        judge = Score.from_check(stratum != "U", metadata={"judge_model": "sim"})
        results.append(
            ItemResult(
                sample=Sample(item_id=item, input={}, output="x"),
                scores={"check": Score.from_check(stratum != "S"), "judge": judge},
            )
        )
    return results, failing


def fail_share_rule(
    world: World, *, budget: int = 10, max_fail_share: float = 0.2, reps: int = 500, seed: int = 0
) -> float:
    """How often the rule this review replaced passed: ``pick_review_sample``'s purposeful
    sample of ``budget`` (a fifth at random), passed when its fail share ≤ ``max_fail_share``."""
    rng = random.Random(f"fail-share-rule:{seed}:{world}")
    passed = 0
    for rep in range(reps):
        results, failing = _results(world, rng)
        picks = pick_review_sample(results, budget=budget, control_share=0.2, seed=rep)
        share = sum(p.item_id in failing for p in picks) / max(len(picks), 1)
        passed += share <= max_fail_share + 1e-9
    return passed / reps
