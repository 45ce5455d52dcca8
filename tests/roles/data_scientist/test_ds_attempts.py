"""Repeated attempts against one production: the target's alpha spent over them.

The seeded simulation runs ten equivalent rewordings in turn against one cached baseline
through the real scorecard and gate: tested each at alpha, one of them is falsely called
improved far above the one-attempt rate; spent, at most at it (plus three binomial
standard deviations of the simulated share).
"""

from __future__ import annotations

import math

import pytest

from roles.data_scientist.attempts import Attempt, attempt_alpha, attempt_note, target_alpha
from roles.data_scientist.characteristics import Scenario, false_improved_by_attempt
from roles.data_scientist.policy import GatePolicy
from roles.data_scientist.suite import parse_suite
from roles.errors import InputError

ALPHA = 0.05
ONE_ATTEMPT = ALPHA / 2  # the target's test is two-sided: a false gain is half of alpha
REPS = 300


def test_the_levels_spent_over_any_number_of_attempts_sum_to_at_most_alpha() -> None:
    assert sum(attempt_alpha(ALPHA, k) for k in range(1, 100_001)) <= ALPHA
    assert [round(attempt_alpha(ALPHA, k), 4) for k in (1, 2, 4, 10)] == [
        0.0304,
        0.0076,
        0.0019,
        0.0003,
    ]
    with pytest.raises(ValueError, match="from 1"):
        attempt_alpha(ALPHA, 0)


def test_the_rule_sets_the_targets_alpha_and_the_note_says_which_attempt() -> None:
    fourth = Attempt(number=4, baseline_run=12, against="production v3 of 't' on dataset 'd' v2")
    assert target_alpha(ALPHA, None, "spend") == ALPHA  # a new prompt: nothing to spend over
    assert target_alpha(ALPHA, fourth, "ignore") == ALPHA
    assert target_alpha(ALPHA, fourth, "spend") == attempt_alpha(ALPHA, 4)
    assert attempt_note(ALPHA, fourth, "spend").startswith(
        "note: attempt 4 against production v3 of 't' on dataset 'd' v2 (baseline run 12): "
        "target tested at alpha 0.0019 (alpha 0.05 spent over attempts"
    )
    assert attempt_note(ALPHA, fourth, "ignore").endswith(
        "target tested at alpha 0.05, not spent over attempts (gate attempts: ignore)"
    )


def test_the_suite_chooses_the_rule_and_a_wrong_one_is_refused_when_pushed() -> None:
    suite = {"scorers": [{"name": "exact_match"}], "gate": {"target": "exact_match"}}
    assert parse_suite(suite, "s").gate.attempts == "spend"
    ignored = {**suite, "gate": {"target": "exact_match", "attempts": "ignore"}}
    assert parse_suite(ignored, "s").gate.attempts == "ignore"
    with pytest.raises(InputError, match=r"suite\.gate\.attempts: Input should be 'spend'"):
        parse_suite({**suite, "gate": {"attempts": "sometimes"}}, "s")
    # the default is left out of the suite's dump, so its hash (run reuse) is unchanged
    assert "attempts" not in GatePolicy().model_dump()
    assert GatePolicy(attempts="ignore").model_dump()["attempts"] == "ignore"


def test_ten_equivalent_attempts_against_one_baseline_are_falsely_improved_at_most_at_alpha() -> (
    None
):
    at_alpha, spent = false_improved_by_attempt(
        Scenario(n=100, p_baseline=0.6, p_candidate=0.6), attempts=10, reps=REPS, seed=18
    )
    bound = ONE_ATTEMPT + 3 * math.sqrt(ONE_ATTEMPT * (1 - ONE_ATTEMPT) / REPS)
    assert at_alpha[0] <= bound  # one attempt is at its level
    assert at_alpha[-1] > bound and at_alpha[-1] >= 3 * at_alpha[0]  # ten are not
    assert max(spent) <= bound and max(spent) <= ALPHA, spent
    assert spent == sorted(spent)  # a family's share only grows with its attempts
