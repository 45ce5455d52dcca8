"""Which outputs the experts review: a budget filled on purpose, plus a random control share.

    picks = pick_review_sample(candidate, baseline, budget=10, control_share=0.2, seed=7)
    [(p.item_id, p.strategy, p.reason) for p in picks]

The control share is drawn first, uniformly from every item, so it stays an unbiased slice
(judge calibration needs one) and the sample is not only bad news. The rest of the budget
goes round-robin over the strategies, in this order, so no single one takes it all:
``error`` (the candidate's call failed), ``judge_disagrees`` (the LLM judge against every
deterministic scorer), ``judge_unsure`` (the judge could not score it, or scored it near
its pass threshold), ``failure`` (a scorer failed it), ``changed`` (the output differs
from the baseline's); an item suspect in several ways counts for the first of them. Budget left over is filled at random (``random``). The
returned order is shuffled too: an expert cannot tell a control item from a suspect one.

``favour_judge=True`` (the change's judge is not trusted yet) gives up to half the budget
after the control share to ``judge_was_wrong`` items first (people contradicted the judge's
verdict on them before: ``judge_was_wrong`` maps them to why), then the judge's doubts and
disagreements: the labels go where the judge learns most. The other half goes to the
candidate's errors and the scorers' failures, round-robin, so the experts still see what the
scorers failed however much the judge doubts; what is left goes round-robin over every
strategy (changed outputs, the judge's remaining items).
Same inputs and seed → same picks, in any process (string seeds hash deterministically).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from roles.data_scientist.scores import ItemResult, Score

Strategy = Literal[
    "control",
    "error",
    "failure",
    "judge_unsure",
    "judge_disagrees",
    "judge_was_wrong",
    "changed",
    "random",
]
TARGETED: tuple[Strategy, ...] = ("error", "judge_disagrees", "judge_unsure", "failure", "changed")
JUDGE_FIRST: tuple[Strategy, ...] = ("judge_was_wrong", "judge_unsure", "judge_disagrees")
FAVOUR_JUDGE: tuple[Strategy, ...] = (
    "judge_was_wrong", "judge_unsure", "judge_disagrees", "error", "failure", "changed",
)  # fmt: skip


@dataclass(frozen=True)
class Pick:
    item_id: str
    strategy: Strategy | Literal["sample"]  # "sample": the estimate's, drawn in its stratum
    reason: str
    stratum: str | None = None  # E/S/U/R for the estimate's sample; None for a pick


def control_count(budget: int, share: float) -> int:
    """At least ``share`` of the budget, and at least one item once the budget has two (a
    budget of one goes to the worst suspect)."""
    if share <= 0 or budget < 2:
        return 0
    return min(budget, max(1, math.ceil(share * budget - 1e-9)))


def is_judge(score: Score) -> bool:
    """LLM-judge scores carry the judge's model in their metadata (scored or not)."""
    return "judge_model" in score.metadata


def pick_review_sample(
    candidate: Sequence[ItemResult],
    baseline: Sequence[ItemResult] | None = None,
    *,
    budget: int = 10,
    control_share: float = 0.2,
    seed: int = 0,
    near_threshold: float = 0.15,
    thresholds: Mapping[str, float] | None = None,
    favour_judge: bool = False,
    judge_was_wrong: Mapping[str, str] | None = None,
    fill: bool = True,
) -> list[Pick]:
    """Pick up to ``budget`` items of ``candidate`` for the experts, each with its reason.

    Args:
        baseline: the production version's results on the same items (for ``changed``).
        near_threshold: how close to a judge's pass threshold counts as unsure.
        thresholds: a judge metric's pass threshold (default 0.5).
        favour_judge: lead with the judge's past mistakes and doubts (an untrusted judge).
        judge_was_wrong: item id → why (people contradicted the judge on it before).
        fill: budget no suspect takes goes to random items (False: left unused).
    """
    rng = random.Random(f"review-sample:{seed}")
    ids = sorted({r.sample.item_id for r in candidate})
    chosen: dict[str, Pick] = {}
    for item_id in rng.sample(ids, min(len(ids), control_count(budget, control_share))):
        chosen[item_id] = Pick(item_id, "control", "a random control item")
    by_id = {r.sample.item_id: r for r in candidate}
    before = {r.sample.item_id: r for r in baseline or ()}
    judges = JudgeDoubts(near=near_threshold, thresholds=dict(thresholds or {}))
    finders: dict[Strategy, Callable[[str], str | None]] = {
        "error": lambda i: _error(by_id[i]),
        "failure": lambda i: failure_reason(by_id[i]),
        "judge_unsure": lambda i: judges.unsure(by_id[i]),
        "judge_disagrees": lambda i: disagreement(by_id[i]),
        "changed": lambda i: _changed(by_id[i], before.get(i)),
        "judge_was_wrong": lambda i: (judge_was_wrong or {}).get(i),
    }
    order = FAVOUR_JUDGE if favour_judge else TARGETED
    queues: dict[Strategy, list[tuple[str, str]]] = {name: [] for name in order}
    for item_id in ids:  # each item in the queue of the first strategy that names it
        for name in order:
            if (reason := finders[name](item_id)) is not None:
                queues[name].append((item_id, reason))
                break
    for queue in queues.values():
        rng.shuffle(queue)
    if favour_judge:  # the judge's half first, then the others', then whatever is left
        judge_half = len(chosen) + math.ceil((budget - len(chosen)) / 2)
        for name in JUDGE_FIRST:
            while queues[name] and len(chosen) < judge_half:
                item_id, reason = queues[name].pop(0)
                chosen.setdefault(item_id, Pick(item_id, name, reason))
        _round_robin(chosen, queues, ["error", "failure"], budget)  # what the scorers failed
    _round_robin(chosen, queues, order, budget)
    rest = [i for i in ids if i not in chosen]
    rng.shuffle(rest)
    for item_id in rest[: max(0, budget - len(chosen)) if fill else 0]:
        chosen[item_id] = Pick(item_id, "random", "a random item (no more suspects)")
    picks = list(chosen.values())
    rng.shuffle(picks)
    return picks


def _round_robin(
    chosen: dict[str, Pick],
    queues: dict[Strategy, list[tuple[str, str]]],
    names: Sequence[Strategy],
    budget: int,
) -> None:
    """One item from each of ``names``' queues in turn until the budget is full."""
    while len(chosen) < budget and any(queues[name] for name in names):
        for name in names:
            queue = queues[name]
            while queue and queue[0][0] in chosen:
                queue.pop(0)
            if queue and len(chosen) < budget:
                item_id, reason = queue.pop(0)
                chosen[item_id] = Pick(item_id, name, reason)


def _error(result: ItemResult) -> str | None:
    error = result.sample.error
    return None if error is None else f"the candidate's call failed: {error[:160]}"


def failure_reason(result: ItemResult) -> str | None:
    failed = sorted(m for m, s in result.scores.items() if s.passed is False)
    return f"failed {', '.join(failed)}" if failed else None


@dataclass(frozen=True)
class JudgeDoubts:
    near: float
    thresholds: dict[str, float]

    def unsure(self, result: ItemResult) -> str | None:
        for metric, score in sorted(result.scores.items()):
            if not is_judge(score):
                continue
            if score.unscored:
                return f"{metric} could not score it: {score.reason}"
            threshold = self.thresholds.get(metric, 0.5)
            if score.value is not None and abs(score.value - threshold) <= self.near:
                return f"{metric} scored {score.value:g}, near its threshold {threshold:g}"
        return None


def disagreement(result: ItemResult) -> str | None:
    """The judge's verdict against every deterministic scorer that gave one."""
    checks = {
        m: s.passed for m, s in result.scores.items() if not is_judge(s) and s.passed is not None
    }
    for metric, score in sorted(result.scores.items()):
        judged = score.passed
        if not checks or not is_judge(score) or judged is None:
            continue
        if all(passed != judged for passed in checks.values()):
            said, other = ("pass", "fail") if judged else ("fail", "pass")
            return f"{metric} says {said}; {', '.join(sorted(checks))} say {other}"
    return None


def _changed(result: ItemResult, before: ItemResult | None) -> str | None:
    if before is None or before.sample.output == result.sample.output:
        return None
    return "the output changed from the baseline's"
