"""The review sample: seeded, fills its budget, each strategy picks what it should, and the
control share holds."""

from __future__ import annotations

from collections import Counter

import pytest

from roles.data_scientist import ItemResult, Sample, Score
from roles.data_scientist.review_sample import control_count, pick_review_sample

JUDGE = {"judge_model": "smollm2-135m"}


def item(
    item_id: str,
    *,
    output: str | None = "billing",
    error: str | None = None,
    correct: bool | None = True,
    judge: Score | None = None,
) -> ItemResult:
    scores: dict[str, Score] = {}
    if correct is not None and error is None:
        scores["correct"] = Score.from_check(correct)
    if judge is not None:
        scores["judge_correct"] = judge
    sample = Sample(item_id=item_id, output=None if error else output, error=error)
    return ItemResult(sample=sample, scores=scores)


def judged(passed: bool) -> Score:
    return Score(value=1.0 if passed else 0.0, passed=passed, metadata=JUDGE)


def population() -> tuple[list[ItemResult], list[ItemResult]]:
    """40 good items, and a few of each kind of suspect."""
    good = [item(f"ok-{i:02}", judge=judged(True)) for i in range(40)]
    suspects = [
        item("err-1", error="HTTP 400: bad request"),
        item("fail-1", correct=False, judge=judged(False)),
        item("fail-2", correct=False, judge=judged(False)),
        item("unsure-1", judge=Score.could_not_score("judge answer is not JSON", metadata=JUDGE)),
        item("unsure-2", judge=Score(value=0.55, passed=True, metadata=JUDGE)),
        item("disagree-1", judge=judged(False)),
        item("changed-1", output="technical", judge=judged(True)),
    ]
    candidate = good + suspects
    baseline = [item(r.sample.item_id) for r in candidate]  # every baseline output: billing
    return candidate, baseline


def test_the_same_seed_and_inputs_give_the_same_sample_and_another_seed_another() -> None:
    candidate, baseline = population()
    first = pick_review_sample(candidate, baseline, budget=10, seed=3)
    again = pick_review_sample(list(reversed(candidate)), baseline, budget=10, seed=3)
    assert first == again
    others = {
        tuple(p.item_id for p in pick_review_sample(candidate, baseline, seed=s)) for s in range(5)
    }
    assert len(others) > 1


def test_the_budget_is_filled_each_item_once_with_a_reason() -> None:
    candidate, baseline = population()
    for budget in (1, 2, 5, 10, 30):
        picks = pick_review_sample(candidate, baseline, budget=budget, seed=1)
        assert len(picks) == budget
        assert len({p.item_id for p in picks}) == budget
        assert all(p.reason for p in picks)
    small = candidate[:3]
    assert len(pick_review_sample(small, budget=10, seed=1)) == 3  # fewer items than budget


def test_each_strategy_picks_what_it_should() -> None:
    candidate, baseline = population()
    picks = pick_review_sample(candidate, baseline, budget=10, control_share=0.2, seed=11)
    targeted = {p.item_id: p for p in picks if p.strategy not in {"control", "random"}}
    expected = {
        "err-1": "error",
        "fail-1": "failure",
        "fail-2": "failure",
        "unsure-1": "judge_unsure",
        "unsure-2": "judge_unsure",
        "disagree-1": "judge_disagrees",
        "changed-1": "changed",
    }
    controls = {p.item_id for p in picks if p.strategy == "control"}
    for item_id, strategy in expected.items():
        if item_id not in controls:  # a suspect drawn as a control item stays a control
            assert targeted[item_id].strategy == strategy, targeted[item_id]
    assert "HTTP 400" in targeted.get("err-1", picks[0]).reason or "err-1" in controls
    by_id = {p.item_id: p for p in picks}
    if by_id["unsure-2"].strategy == "judge_unsure":
        assert "0.55, near its threshold 0.5" in by_id["unsure-2"].reason
    if by_id["disagree-1"].strategy == "judge_disagrees":
        assert by_id["disagree-1"].reason == "judge_correct says fail; correct say pass"


def test_strategies_share_the_budget_round_robin() -> None:
    """Thirty failures do not crowd out the one changed output."""
    candidate = [item(f"fail-{i:02}", correct=False) for i in range(30)]
    candidate.append(item("changed", output="account"))
    baseline = [item(r.sample.item_id) for r in candidate]
    picks = pick_review_sample(candidate, baseline, budget=5, control_share=0.0, seed=2)
    assert Counter(p.strategy for p in picks) == {"failure": 4, "changed": 1}


@pytest.mark.parametrize(
    ("budget", "share", "controls"),
    [(10, 0.2, 2), (5, 0.2, 1), (2, 0.2, 1), (1, 0.2, 0), (10, 0.0, 0), (7, 0.3, 3)],
)
def test_the_control_share_holds(budget: int, share: float, controls: int) -> None:
    assert control_count(budget, share) == controls
    candidate, baseline = population()
    picks = pick_review_sample(candidate, baseline, budget=budget, control_share=share, seed=5)
    assert sum(p.strategy == "control" for p in picks) == controls


def test_control_items_are_drawn_from_every_item_and_hidden_in_the_order() -> None:
    """Over many seeds the control draw reaches suspects too (an unbiased slice), and
    control items are not all at the end of the list."""
    candidate, baseline = population()
    drawn: Counter[str] = Counter()
    positions: Counter[int] = Counter()
    for seed in range(200):
        picks = pick_review_sample(candidate, baseline, budget=10, seed=seed)
        for position, pick in enumerate(picks):
            if pick.strategy == "control":
                drawn[pick.item_id] += 1
                positions[position] += 1
    assert any(item_id.startswith(("fail", "err", "unsure")) for item_id in drawn)
    assert len(positions) == 10


def test_leftover_budget_is_filled_at_random_when_nothing_is_suspect() -> None:
    candidate = [item(f"ok-{i}") for i in range(12)]
    picks = pick_review_sample(candidate, budget=10, seed=0)
    assert Counter(p.strategy for p in picks) == {"control": 2, "random": 8}


def test_an_untrusted_judge_s_doubts_take_half_the_budget_not_all() -> None:
    """The demo's case: an untrusted judge says fail on 8 outputs every other scorer passes,
    and 8 other outputs fail the gated target. The judge's items lead, but take at most half
    of what the control share leaves: the experts still see the scorers' failures."""
    doubted = [item(f"doubt-{i}", judge=judged(False)) for i in range(8)]
    wrong = [item(f"wrong-{i}", correct=False, judge=judged(False)) for i in range(8)]
    good = [item(f"ok-{i:02}", judge=judged(True)) for i in range(14)]
    moved = [item(f"moved-{i}", output="technical", judge=judged(True)) for i in range(6)]
    candidate = doubted + wrong + good + moved
    baseline = [item(r.sample.item_id) for r in candidate]  # the moved ones changed
    for seed in range(20):
        picks = pick_review_sample(
            candidate, baseline, budget=10, control_share=0.2, seed=seed, favour_judge=True
        )
        counts = Counter(p.strategy for p in picks)
        assert counts["control"] == 2 and counts["judge_disagrees"] == 4, counts
        assert counts["failure"] == 4, counts  # the other half: the scorers' failures first
    # with nothing else to show, the judge's items fill the budget
    only_doubts = doubted + good
    picks = pick_review_sample(only_doubts, budget=10, control_share=0.2, seed=1, favour_judge=True)
    assert Counter(p.strategy for p in picks)["judge_disagrees"] >= 6
