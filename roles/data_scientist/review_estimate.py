"""The review's decision: the candidate's expert-judged failure rate, estimated from the
stratified sample with a bound, against the suite's tolerable rate.

    tally = ReviewTally(total=100, errors=2, strata=[StratumTally("S", 12, 6, 4), ...])
    plan = LookPlan(first=20, batch=10, cap=60, alpha=0.05)
    est = estimate(tally, alpha=plan.alpha_at(tally.labels), seed=7)
    est.rate, est.lower, est.upper          # π̂ and its one-sided bounds at this look
    decide(est, max_failure_rate=0.2, more=plan.has_more(tally.labels))  # pass | fail | more | undecided

The estimate (a stratified estimator, errors counted as failures):
π̂ = N_E / N + Σ_h W_h f_h / m_h, with W_h = N_h / N, f_h fails among the m_h labelled.

The bound is a posterior over the population's failures: per stratum a Beta for its rate,
the N_h − m_h unlabelled items' failures drawn binomially from it (finite population: a
stratum labelled in full is known exactly), the errors added. The upper bound draws the
rate from Beta(f_h + 1, m_h − f_h), the lower from Beta(f_h, m_h − f_h + 1): the pair whose
quantiles are the Clopper-Pearson limits, so each side holds its level at any m_h. (The
issue's reference, one Jeffreys Beta(f_h + ½, m_h − f_h + ½) for both, passes a 20 %
candidate after 0 fails in 10 labels 10.7 % of the time at a stated 5 %: its upper limit
for 0/10 is 0.16.) ``DRAWS`` seeded Monte-Carlo draws give the quantiles; the same inputs
give the same bounds in any process.

Looks: the review labels ``first`` items, and while the bound straddles the tolerable rate
π₀ adds ``batch`` more, up to ``cap`` (or every item there is). Each side's error (passing a
candidate whose rate is above π₀, failing one at or below it) is spent over the looks in
proportion to the labels each adds (α·n_k/n_max by look k, a linear spending function
with the union bound: the looks' errors sum to at most α whatever the data), so a review
that may look five times is not a review that gets five tries at α.

Decisions: **pass** when the upper bound ≤ π₀, **fail** when the lower bound > π₀,
otherwise **more** labels while the cap allows, and **undecided** at the cap: a named
person decides with these numbers (``roles.review.decision``). Operating characteristics
by seeded simulation: ``roles.data_scientist.review_characteristics``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Decision = Literal["pass", "fail", "more", "undecided"]
DRAWS = 20_000
TINY = 1e-9  # a Beta parameter of 0 (no fails, or no passes): its mass at the edge


@dataclass(frozen=True)
class StratumTally:
    stratum: str
    population: int  # N_h: the candidate's items in the stratum
    labelled: int  # m_h: sampled items with their votes
    failed: int  # f_h: of those, failed by the experts

    @property
    def weight_per_label(self) -> float:
        """N_h / m_h: how many of the stratum's items one label stands for."""
        return self.population / self.labelled if self.labelled else 0.0


@dataclass(frozen=True)
class ReviewTally:
    total: int  # N: the candidate's items
    errors: int  # N_E: its failed calls (failures, never labelled)
    strata: Sequence[StratumTally]

    @property
    def labels(self) -> int:
        return sum(s.labelled for s in self.strata)

    @property
    def reviewable(self) -> int:
        return sum(s.population for s in self.strata)


@dataclass(frozen=True)
class Estimate:
    rate: float  # π̂
    lower: float  # one-sided lower bound at alpha_low
    upper: float  # one-sided upper bound at alpha_high
    alpha: float  # each side's error spent at this look
    labels: int
    total: int

    def interval(self) -> str:
        """``0.12 (0.05–0.23)``."""
        return f"{self.rate:.2f} ({self.lower:.2f}–{self.upper:.2f})"


@dataclass(frozen=True)
class LookPlan:
    """When the review looks: after ``first`` labels, then every ``batch``, up to ``cap``
    (never past the items there are to label)."""

    first: int
    batch: int
    cap: int
    alpha: float  # each side's error over every look

    def final(self, reviewable: int) -> int:
        return max(1, min(self.cap, reviewable))

    def looks(self, reviewable: int) -> list[int]:
        """The label counts at which the review decides or asks for more."""
        last = self.final(reviewable)
        sizes, n = [], min(self.first, last)
        while n < last:
            sizes.append(n)
            n = min(last, n + self.batch)
        return [*sizes, last]

    def alpha_at(self, labels: int, reviewable: int) -> float:
        """The error this look may spend: α·(n_k − n_{k−1}) / n_max."""
        sizes = self.looks(reviewable)
        last = sizes[-1]
        before = max((s for s in sizes if s < labels), default=0)
        now = min(labels, last)
        return self.alpha * max(now - before, 0) / last if now > before else 0.0

    def next_size(self, labels: int, reviewable: int) -> int | None:
        """The labels the next look wants, or None when this was the last."""
        return next((s for s in self.looks(reviewable) if s > labels), None)


def point_rate(tally: ReviewTally) -> float:
    """π̂ (a stratum with no label yet counts at its Jeffreys mean, ½)."""
    if tally.total == 0:
        return 0.0
    share = tally.errors / tally.total
    for s in tally.strata:
        rate = s.failed / s.labelled if s.labelled else 0.5
        share += s.population / tally.total * rate
    return share


def estimate(tally: ReviewTally, *, alpha: float, seed: int = 0, draws: int = DRAWS) -> Estimate:
    """π̂ with its one-sided bounds at ``alpha`` each (see the module docstring)."""
    n = tally.total
    if n == 0:
        return Estimate(0.0, 0.0, 0.0, alpha, 0, 0)
    import numpy as np  # here: `review list` and every vote's count need none of it

    rng = np.random.default_rng([abs(seed), 0x5EED])
    lows, highs = np.full(draws, float(tally.errors)), np.full(draws, float(tally.errors))
    for s in tally.strata:
        unlabelled = s.population - s.labelled
        lows += s.failed
        highs += s.failed
        if s.population == 0 or unlabelled <= 0:
            continue
        ok = s.labelled - s.failed
        # Each side its own Clopper-Pearson-like posterior: exact (conservative) at any m_h.
        highs += rng.binomial(unlabelled, rng.beta(s.failed + 1, max(ok, TINY), size=draws))
        lows += rng.binomial(unlabelled, rng.beta(max(s.failed, TINY), ok + 1, size=draws))
    if alpha <= 0:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = float(np.quantile(lows / n, alpha)), float(np.quantile(highs / n, 1 - alpha))
    return Estimate(
        rate=point_rate(tally),
        lower=lo,
        upper=hi,
        alpha=alpha,
        labels=tally.labels,
        total=n,
    )


def decide(est: Estimate, *, max_failure_rate: float, more: bool) -> Decision:
    if est.upper <= max_failure_rate + 1e-12:
        return "pass"
    if est.lower > max_failure_rate + 1e-12:
        return "fail"
    return "more" if more else "undecided"


def labels_needed(
    *,
    populations: dict[str, int],
    errors: int,
    rates: dict[str, float],
    max_failure_rate: float,
    plan: LookPlan,
    draws: int = 4000,
) -> int | None:
    """About how many labels the review takes to decide when each stratum fails at
    ``rates``: the first look whose bound, with each stratum's expected fails among its
    allocated labels, clears the tolerable rate either way; None when even the cap leaves
    it undecided."""
    from roles.data_scientist.review_strata import allocate

    reviewable = sum(populations.values())
    if reviewable + errors == 0:
        return 0
    for size in plan.looks(reviewable):
        counts = allocate(populations=populations, labelled={}, failed={}, total=size)
        tally = ReviewTally(
            total=reviewable + errors,
            errors=errors,
            strata=[
                StratumTally(h, populations[h], m, m * rates.get(h, 0.5))  # type: ignore[arg-type]
                for h, m in counts.items()
            ],
        )
        est = estimate(tally, alpha=plan.alpha_at(size, reviewable), draws=draws)
        if decide(est, max_failure_rate=max_failure_rate, more=True) != "more":
            return size
    return None
