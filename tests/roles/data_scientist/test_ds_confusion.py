"""Categorical answers: a confusion matrix, per-class recall, a one-class answerer named;
the plain summary line; a per-slice floor in the gate. Real scorers on real samples."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

import pytest

from roles.data_scientist.confusion import ERROR, OTHER, confusion, one_class_note
from roles.data_scientist.gate import GatePolicy, evaluate_gate
from roles.data_scientist.registry import Scorer, build_scorer
from roles.data_scientist.scorecard import Scorecard, build_scorecard
from roles.data_scientist.scores import ItemResult, Sample
from roles.data_scientist.statistics import StatsSettings
from roles.data_scientist.suite import Suite
from roles.data_scientist.summary import summary_line

SETTINGS = StatsSettings(n_resamples=1000, min_slice_items=10)
CORRECT = build_scorer({"name": "exact_match", "label": "correct", "args": {"ignore_case": True}})
LABELS = ["positive"] * 20 + ["negative"] * 20  # a movie-review sentiment set, tagged by label


def answered(outputs: Sequence[str | None], scorer: Scorer = CORRECT) -> list[ItemResult]:
    """The items of ``LABELS`` answered ``outputs`` (None: the call failed), scored for real."""
    suite = Suite(scorers=(scorer,))
    samples = [
        Sample(item_id=f"r{i}", expected=label, tags=[label],
               **({"error": "timeout"} if out is None else {"output": out}))
        for i, (label, out) in enumerate(zip(LABELS, outputs, strict=True))
    ]  # fmt: skip

    async def score_all() -> list[ItemResult]:
        return [await suite.score(s, suite.context()) for s in samples]

    return asyncio.run(score_all())


def scorecard(candidate: list[ItemResult], baseline: list[ItemResult] | None) -> Scorecard:
    return build_scorecard(candidate, baseline, [CORRECT.metric], SETTINGS, {"correct"})


ALWAYS_POSITIVE = ["positive"] * 40
ALMOST_ALWAYS = ["Positive"] * 20 + ["negative"] + ["positive"] * 19  # 19 of 20 negatives wrong
NEVER_RIGHT = ["neutral"] * 40


def test_a_one_class_classifier_is_named_and_its_recall_per_class_shown() -> None:
    matrix = confusion(answered(ALWAYS_POSITIVE), CORRECT)
    assert matrix is not None
    assert matrix.classes == ["negative", "positive"]  # equal sizes: by name
    assert matrix.columns == ["negative", "positive"]
    assert matrix.counts == [[0, 20], [0, 20]]
    assert matrix.recall == {"negative": 0.0, "positive": 1.0}
    assert matrix.sole_answer == "positive"
    assert one_class_note(matrix, "candidate") == (
        "the candidate answers 'positive' for every item"
    )
    nearly = confusion(answered(ALMOST_ALWAYS), CORRECT)
    assert nearly is not None and nearly.sole_answer is None  # one negative said negative
    assert nearly.wrong("negative") == (19, 20) and nearly.recall["positive"] == 1.0


def test_answers_outside_the_classes_and_failed_calls_have_their_own_columns() -> None:
    outputs: list[str | None] = ["positive"] * 18 + [None, "I liked it"] + ["negative"] * 20
    matrix = confusion(answered(outputs), CORRECT)
    assert matrix is not None and matrix.columns == ["negative", "positive", OTHER, ERROR]
    assert matrix.counts[matrix.classes.index("positive")] == [0, 18, 1, 1]
    assert matrix.recall["positive"] == 0.9 and matrix.sole_answer is None


def test_what_is_not_categorical_gets_no_matrix() -> None:
    fixed = build_scorer({"name": "exact_match", "args": {"value": "positive"}})
    assert confusion(answered(ALWAYS_POSITIVE, fixed), fixed) is None  # no expected labels
    contains = build_scorer("contains")
    assert confusion(answered(ALWAYS_POSITIVE, contains), contains) is None
    # free answers, each different: as many "classes" as items is no classification
    unique = [
        ItemResult(sample=Sample(item_id=str(i), expected=f"answer {i}", output="x"))
        for i in range(30)
    ]
    assert confusion(unique, CORRECT) is None
    many = [  # 25 distinct labels, each twice: more than MAX_CLASSES
        ItemResult(sample=Sample(item_id=str(i), expected=f"c{i % 25}", output="x"))
        for i in range(50)
    ]
    assert confusion(many, CORRECT) is None


@pytest.mark.parametrize("seed", [3, 18, 42])
def test_the_matrix_agrees_with_the_scorer_on_noisy_answers(seed: int) -> None:
    """Seeded: answers in mixed case, some other text; the matrix's diagonal is exactly the
    items exact_match passed, class by class."""
    rng = random.Random(seed)
    outputs = [rng.choice(["positive", "NEGATIVE", "Negative", "positive ", "meh"]) for _ in LABELS]
    results = answered(outputs)
    matrix = confusion(results, CORRECT)
    assert matrix is not None
    for label in matrix.classes:
        passed = [r.scores["correct"].value for r in results if r.sample.expected == label]
        assert matrix.recall[label] == pytest.approx(sum(passed) / len(passed))  # type: ignore[arg-type]
    assert sum(map(sum, matrix.counts)) == 40


def test_the_summary_says_what_is_still_bad_not_only_what_rose() -> None:
    candidate, baseline = answered(ALMOST_ALWAYS), answered(NEVER_RIGHT)
    card = scorecard(candidate, baseline)
    policy = GatePolicy(target="correct")
    assert evaluate_gate(policy, card).outcome == "pass"  # a real, significant gain
    line = summary_line(card, policy, candidate=[confusion(candidate, CORRECT)])  # type: ignore[list-item]
    assert (
        line
        == "correct rose from 0 to 0.53, but the candidate gets 19 of 20 'negative' items wrong"
    )
    everything = answered(ALWAYS_POSITIVE)
    line = summary_line(
        scorecard(everything, baseline),
        policy,
        candidate=[confusion(everything, CORRECT)],  # type: ignore[list-item]
    )
    assert line == (
        "correct rose from 0 to 0.5, but the candidate answers 'positive' for every item "
        "and gets 20 of 20 'negative' items wrong"
    )
    # without the matrix, the tag slices say the same in counts
    assert summary_line(card, policy).endswith("gets 19 of 20 items tagged 'negative' wrong")
    good = answered(["positive"] * 20 + ["negative"] * 20)
    assert summary_line(scorecard(good, baseline), policy) == "correct rose from 0 to 1"
    assert summary_line(scorecard(good, None), policy) == (
        "correct is 1 (a new prompt: nothing to compare with)"
    )


def test_the_verdict_lines_give_both_sides_levels() -> None:
    card = scorecard(answered(ALMOST_ALWAYS), answered(NEVER_RIGHT))
    verdict = evaluate_gate(GatePolicy(target="correct"), card)
    target = next(r for r in verdict.reasons if "target correct" in r)
    assert target.startswith("ok: target correct must improve: improved (0 → 0.525, diff +0.525, ")


def test_a_per_slice_floor_breaks_the_gate_that_the_overall_gain_passes() -> None:
    candidate, baseline = answered(ALMOST_ALWAYS), answered(NEVER_RIGHT)
    floors = [
        {"metric": "correct", "min": 0.5},
        {"metric": "correct", "min": 0.8, "slice": "negative"},
        {"metric": "correct", "min": 0.8, "slice": "positive"},
    ]
    policy = GatePolicy(target="correct", thresholds=floors)
    verdict = evaluate_gate(policy, scorecard(candidate, baseline))
    assert verdict.outcome == "fail"
    assert verdict.failures == [
        "correct mean 0.05 in slice 'negative' (min 0.8, max None; 20 scored, 0 unscored)"
    ]
    assert [c.outcome for c in verdict.checks if c.kind == "threshold"] == [
        "broken",
        "held",
        "held",
    ]
    # a new prompt is judged on its floors too, per slice
    alone = evaluate_gate(policy, scorecard(candidate, None))
    assert alone.outcome == "fail" and len(alone.failures) == 1
    typo = GatePolicy(thresholds=[{"metric": "correct", "min": 0.1, "slice": "negatve"}])
    assert evaluate_gate(typo, scorecard(candidate, None)).failures == [
        "threshold on correct in slice 'negatve': nothing scored (no item carries that tag)"
    ]
