"""The trust rule flips exactly at its thresholds; coverage gaps appear and disappear at
theirs; the suite's ``calibration:`` section sets both."""

from __future__ import annotations

from dataclasses import replace

import pytest

from roles.data_scientist import parse_suite
from roles.data_scientist.calibration import Estimate, judge_agreement
from roles.data_scientist.gaps import CoverageGap, GapPolicy, coverage_gaps
from roles.data_scientist.trust import (
    CalibrationPolicy,
    TrustPolicy,
    calibration_policy_from_suite,
    trust,
)
from roles.errors import InputError

# A judge that agrees with people on all of n pairs, a third of them fails.
GOOD = judge_agreement([(True, True)] * 10 + [(False, False)] * 20)


def agreeing(n: int) -> list[tuple[bool, bool]]:
    return [(True, True)] * (n // 3) + [(False, False)] * (n - n // 3)


def test_trust_flips_between_29_and_30_pairs() -> None:
    policy = TrustPolicy()
    short = trust(judge_agreement(agreeing(29)), policy)
    assert not short.trusted
    assert short.reasons == ("29 labelled pairs, fewer than the 30 required",)
    enough = trust(judge_agreement(agreeing(30)), policy)
    assert enough.trusted
    assert enough.reasons == (
        "30 labelled pairs (at least 30)",
        "κ lower bound 0.74 >= 0.6",  # 30 of 30 agree: sure, but not certain
        "recall lower bound 0.79 >= 0.5",
    )


@pytest.mark.parametrize(
    ("low", "trusted", "reason"),
    [(0.5999, False, "κ lower bound 0.5999 < 0.6"), (0.6, True, "κ lower bound 0.6 >= 0.6"),
     (0.41, False, "κ lower bound 0.41 < 0.6"), (0.6001, True, "κ lower bound 0.6001 >= 0.6")],
)  # fmt: skip
def test_trust_flips_at_the_kappa_lower_bound(low: float, trusted: bool, reason: str) -> None:
    verdict = trust(replace(GOOD, kappa=Estimate(0.8, low, 0.95)), TrustPolicy())
    assert verdict.trusted is trusted
    assert reason in verdict.reasons


def test_trust_flips_at_the_recall_lower_bound() -> None:
    policy = TrustPolicy(min_recall_low=0.7)
    assert trust(replace(GOOD, recall=Estimate(0.9, 0.7, 1.0)), policy).trusted
    below = trust(replace(GOOD, recall=Estimate(0.9, 0.69, 1.0)), policy)
    assert below.reasons == ("recall lower bound 0.69 < 0.7",)


def test_undefined_kappa_or_recall_is_not_trusted() -> None:
    silent = judge_agreement([(False, False)] * 40)  # one class only
    verdict = trust(silent, TrustPolicy())
    assert not verdict.trusted
    assert verdict.reasons == (
        "κ undefined: judge and people gave one class only",
        "recall undefined: no item people failed",
    )
    every_reason = trust(judge_agreement([]), TrustPolicy())
    assert not every_reason.trusted
    assert every_reason.reasons == (
        "0 labelled pairs, fewer than the 30 required",
        "κ undefined: no labelled pairs yet",
        "recall undefined: no labelled pairs yet",
    )


def test_a_real_judge_is_judged_on_its_intervals() -> None:
    # 60 pairs, κ = 0.63 but its lower bound well below 0.6: not yet trusted.
    pairs = [(True, True)] * 14 + [(True, False)] * 6 + [(False, True)] * 4 + [(False, False)] * 36
    agreement = judge_agreement(pairs)
    assert agreement.kappa.value is not None and agreement.kappa.low is not None
    assert agreement.kappa.value > 0.6 > agreement.kappa.low
    verdict = trust(agreement, TrustPolicy())
    assert not verdict.trusted
    assert verdict.reasons == (f"κ lower bound {agreement.kappa.low:.2f} < 0.6",)
    assert trust(agreement, TrustPolicy(min_kappa_low=0.3)).trusted


def tone(caught: int, missed: int) -> list[tuple[str, bool]]:
    return [("tone", True)] * caught + [("tone", False)] * missed


def test_a_gap_needs_enough_expert_fails() -> None:
    policy = GapPolicy(min_fails=3, max_share_caught=0.2)
    assert coverage_gaps(tone(0, 2), policy) == [CoverageGap("tone", 2, 0, 0.0, False)]
    assert coverage_gaps(tone(0, 3), policy) == [CoverageGap("tone", 3, 0, 0.0, True)]


def test_a_gap_disappears_once_scorers_catch_enough() -> None:
    policy = GapPolicy(min_fails=3, max_share_caught=0.2)
    assert coverage_gaps(tone(1, 5), policy)[0].flagged  # 1/6 < 0.2
    assert not coverage_gaps(tone(1, 4), policy)[0].flagged  # 1/5 = 0.2: not less
    # a scorer added for tone catches them all
    assert coverage_gaps(tone(6, 0), policy) == [CoverageGap("tone", 6, 6, 1.0, False)]


def test_gaps_are_listed_flagged_first_then_by_fails() -> None:
    fails = [*tone(0, 3), ("wrong", True), ("wrong", True), ("wrong", False), ("wrong", True),
             ("format", False), ("unsafe", False), ("unsafe", False), ("unsafe", False),
             ("unsafe", False)]  # fmt: skip
    rows = coverage_gaps(fails, GapPolicy())
    assert [(r.category, r.flagged) for r in rows] == [
        ("unsafe", True), ("tone", True), ("wrong", False), ("format", False),
    ]  # fmt: skip
    assert coverage_gaps([], GapPolicy()) == []


def test_the_suite_sets_the_calibration_policy() -> None:
    assert calibration_policy_from_suite(None) == CalibrationPolicy()
    suite = {"calibration": {"trust": {"min_pairs": 50}, "gaps": {"min_fails": 5}, "seed": 3}}
    policy = calibration_policy_from_suite(suite)
    assert policy.trust == TrustPolicy(min_pairs=50) and policy.gaps == GapPolicy(min_fails=5)
    assert (policy.seed, policy.resamples, policy.confidence) == (3, 2000, 0.95)
    parse_suite(suite, "prompts/x.yaml")  # accepted at push


@pytest.mark.parametrize(
    ("calibration", "message"),
    [({"trust": {"min_kappa_low": 1.5}}, "suite.calibration.trust.min_kappa_low"),
     ({"gaps": {"min_share": 0.1}}, "suite.calibration.gaps.min_share"),
     ({"resamples": 10}, "suite.calibration.resamples")],
)  # fmt: skip
def test_a_bad_calibration_section_is_refused_at_push(
    calibration: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=f"prompts/x.yaml: {message}"):
        parse_suite({"calibration": calibration}, "prompts/x.yaml")
