"""The review's probability sample: strata fixed from observables before anyone votes, and
labels allocated to them where they tell most about the candidate's failure rate.

    strata = stratify(candidate_results, near_threshold=0.15)   # item id → "S", "U", "R", "E"
    counts = allocate(populations={"S": 12, "U": 9, "R": 79}, labelled={}, failed={}, total=20)
    ids = draw(members, counts, rng)                              # without replacement

The strata, read from the candidate's own results (what the scorers and the judge said,
never what an expert said):

- ``E``: the call failed. Counted as failures (an answer never given is not a good one);
  never sent to the experts.
- ``S``: a deterministic scorer failed it.
- ``U``: the scorers passed it (or had nothing to say), an LLM judge failed it, could not
  score it, or scored it near its pass threshold.
- ``R``: the rest. Always sampled: its failure rate is what the scorers and the judge miss,
  which only the experts can measure.

Allocation is Neyman's (labels ∝ N_h · √(p_h (1 − p_h))), on the stated prior failure rates
(``PRIOR_RATES``) shrunk towards what the experts found so far, so later batches go where
the uncertainty is; every stratum with items gets at least ``minimum`` of them (or all it
has). It is computed greedily one label at a time — each goes to the stratum whose variance
term N_h² p_h(1 − p_h) / m_h it lowers most — which is the exact optimum of the integer
problem, and extends an existing allocation (a batch of more labels) the same way.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Literal

from roles.data_scientist.review_sample import (
    JudgeDoubts,
    disagreement,
    failure_reason,
    is_judge,
)
from roles.data_scientist.scores import ItemResult

Stratum = Literal["E", "S", "U", "R"]
REVIEWED: tuple[str, ...] = ("S", "U", "R")  # the strata experts label
# What a failure rate is expected to be before any label: a scorer's fail is mostly right,
# a judge's doubt a coin, an item everything passed mostly fine.
PRIOR_RATES: dict[str, float] = {"S": 0.7, "U": 0.4, "R": 0.1}
PRIOR_WEIGHT = 4.0  # the prior counts as this many labels when shrinking an observed rate
STRATUM_NAMES: dict[str, str] = {
    "E": "the call failed",
    "S": "a scorer failed it",
    "U": "the judge failed it or was unsure",
    "R": "scorers and judge passed it",
}


def stratum_of(result: ItemResult, judges: JudgeDoubts) -> Stratum:
    if result.sample.error is not None:
        return "E"
    checks = {m: s for m, s in result.scores.items() if not is_judge(s)}
    if any(s.passed is False for s in checks.values()):
        return "S"
    judged = [s for s in result.scores.values() if is_judge(s)]
    if any(s.passed is False for s in judged) or judges.unsure(result) is not None:
        return "U"
    return "R"


def stratify(
    results: Sequence[ItemResult],
    *,
    near_threshold: float = 0.15,
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, Stratum]:
    """Each item's stratum (item id → E, S, U or R), from the candidate's results alone."""
    judges = JudgeDoubts(near=near_threshold, thresholds=dict(thresholds or {}))
    return {r.sample.item_id: stratum_of(r, judges) for r in results}


def why_in(result: ItemResult, stratum: Stratum) -> str:
    """What put the item in its stratum, as the review item's (hidden) reason."""
    if stratum == "S":
        return failure_reason(result) or STRATUM_NAMES["S"]
    if stratum == "U":
        judged = sorted(m for m, s in result.scores.items() if is_judge(s) and s.passed is False)
        return disagreement(result) or (
            f"failed {', '.join(judged)}" if judged else STRATUM_NAMES["U"]
        )
    return STRATUM_NAMES[stratum]


def shrunk_rate(stratum: str, *, labelled: int, failed: int) -> float:
    """The stratum's expected failure rate: its prior, moved towards the labels seen."""
    prior = PRIOR_RATES.get(stratum, 0.5)
    return (failed + PRIOR_WEIGHT * prior) / (labelled + PRIOR_WEIGHT)


def allocate(
    *,
    populations: Mapping[str, int],
    labelled: Mapping[str, int],
    failed: Mapping[str, int],
    total: int,
    minimum: int = 3,
) -> dict[str, int]:
    """How many labels each reviewed stratum should have in all once ``total`` are given
    (never fewer than it has, never more than its items).

    Args:
        populations: items per stratum (``E`` is ignored: it is never labelled).
        labelled, failed: labels each stratum has already, and how many of them failed.
        total: the labels wanted in all (capped at the items there are).
    """
    sizes: dict[str, int] = {
        h: int(populations.get(h, 0)) for h in REVIEWED if populations.get(h, 0) > 0
    }
    counts = {h: min(sizes[h], int(labelled.get(h, 0))) for h in sizes}
    total = min(total, sum(sizes.values()))
    for h in sizes:  # the minimum first (R included: only labels measure what scorers miss)
        counts[h] = max(counts[h], min(sizes[h], minimum))
    rates = {
        h: shrunk_rate(h, labelled=int(labelled.get(h, 0)), failed=int(failed.get(h, 0)))
        for h in sizes
    }
    while sum(counts.values()) < total:
        open_ = [h for h in sizes if counts[h] < sizes[h]]

        def gain(h: str) -> float:
            spread = sizes[h] ** 2 * rates[h] * (1 - rates[h])
            return spread / counts[h] - spread / (counts[h] + 1) if counts[h] else float("inf")

        best = max(open_, key=lambda h: (gain(h), sizes[h]))
        counts[best] += 1
    return counts


def draw(
    members: Mapping[str, Sequence[str]],
    wanted: Mapping[str, int],
    *,
    taken: Mapping[str, Sequence[str]] | None = None,
    rng: random.Random,
) -> list[tuple[str, str]]:
    """(stratum, item id) for the items to add so each stratum reaches ``wanted``: drawn
    uniformly without replacement from those not ``taken`` yet, in a shuffled order."""
    taken = taken or {}
    picked: list[tuple[str, str]] = []
    for h in sorted(wanted):
        have = set(taken.get(h, ()))
        pool = sorted(i for i in members.get(h, ()) if i not in have)
        need = max(0, wanted[h] - len(have))
        picked += [(h, i) for i in rng.sample(pool, min(need, len(pool)))]
    rng.shuffle(picked)
    return picked
