"""What a review is opened from: the handoff that put the change in review, its eval runs,
the prompt's policy, and the sample drawn from the runs' results (the estimate's stratified
sample first, then the purposeful picks)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from roles.calibration.status import judge_needs
from roles.data_scientist.policy import GatePolicy
from roles.data_scientist.review_sample import Pick, pick_review_sample
from roles.data_scientist.review_strata import allocate, draw, stratify, why_in
from roles.data_scientist.scores import ItemResult
from roles.errors import PolicyError
from roles.evaluation.records import get_run, load_results
from roles.ledger import PromptVersion
from roles.ledger.review import SAMPLE
from roles.review.current import review_handoff
from roles.review.policy import ReviewPolicy, policy_from_suite
from roles.states import State
from roles.transitions import get_change


@dataclass(frozen=True)
class ReviewSource:
    """The evaluation a review belongs to."""

    change_id: int
    handoff_id: int
    candidate_run_id: int
    baseline_run_id: int | None


def review_source(session: Session, *, change_id: int) -> ReviewSource:
    """The evaluation a change in review is reviewed for: its move into review and the
    runs its gate judged."""
    change = get_change(session, change_id)
    handoff = review_handoff(session, change_id=change_id)
    if change.state != State.IN_REVIEW.value or handoff is None:
        raise PolicyError(
            f"change {change_id} is {change.state}; only changes in review are reviewed"
        )
    candidate = handoff.payload.get("candidate_run")
    if not isinstance(candidate, int):
        raise PolicyError(
            f"change {change_id} went into review without a candidate eval run to sample from"
        )
    baseline = handoff.payload.get("baseline_run")
    assert handoff.id is not None
    return ReviewSource(
        change_id=change_id,
        handoff_id=handoff.id,
        candidate_run_id=candidate,
        baseline_run_id=baseline if isinstance(baseline, int) else None,
    )


def policy_for_change(session: Session, *, change_id: int) -> ReviewPolicy:
    """Production's ``suite.review`` (the version the change would replace; a new prompt:
    its own), else the defaults. Not the candidate's: an author cannot shrink the review
    of their own change, as they cannot loosen its gate."""
    change = get_change(session, change_id)
    version = session.get(PromptVersion, change.base_version_id or change.candidate_version_id)
    return policy_from_suite(version.suite if version else None)


@dataclass(frozen=True)
class ReviewSample:
    """The estimate's stratified sample, then the purposeful picks, and every stratum's items."""

    picks: list[Pick]
    strata: dict[str, list[str]]


def sample_for_review(
    session: Session, *, source: ReviewSource, policy: ReviewPolicy, seed: int
) -> ReviewSample:
    """The items for the experts, from the candidate's and the baseline's stored results:
    first a probability sample within strata fixed from the candidate's results (Neyman
    allocation, ``roles.data_scientist.review_strata``), then up to ``policy.picks`` chosen
    on purpose among the rest (never a failed call: those count as failures unlabelled)."""
    run = get_run(session, source.candidate_run_id)
    thresholds = {
        str(spec.get("label") or spec.get("name")): float(spec["args"]["pass_threshold"])
        for spec in run.suite.get("scorers", [])
        if spec.get("name") == "llm_judge"
        and (spec.get("args") or {}).get("pass_threshold") is not None
    }
    results = load_results(session, run_id=source.candidate_run_id)
    by_stratum = stratify(results, near_threshold=policy.near_threshold, thresholds=thresholds)
    members: dict[str, list[str]] = {}
    for item_id, stratum in sorted(by_stratum.items()):
        members.setdefault(stratum, []).append(item_id)
    wanted = allocate(
        populations={h: len(ids) for h, ids in members.items()},
        labelled={},
        failed={},
        total=policy.items,
        minimum=policy.min_per_stratum,
    )
    rng = random.Random(f"review-strata:{seed}")
    by_id = {r.sample.item_id: r for r in results}
    sample = [
        Pick(item_id, SAMPLE, why_in(by_id[item_id], stratum), stratum)  # type: ignore[arg-type]
        for stratum, item_id in draw(members, wanted, rng=rng)
    ]
    return ReviewSample(
        picks=sample + _picks(session, source, policy, run.suite, results, thresholds, seed=seed,
                              skip={p.item_id for p in sample} | set(members.get("E", []))),
        strata=members,
    )  # fmt: skip


def _picks(
    session: Session,
    source: ReviewSource,
    policy: ReviewPolicy,
    suite: dict[str, Any],
    results: list[ItemResult],
    thresholds: dict[str, float],
    *,
    seed: int,
    skip: set[str],
) -> list[Pick]:
    """Items chosen on purpose, for what they teach (never counted in the estimate). An
    untrusted judge: its doubts and past mistakes first; one the gate would have heard (its
    say was taken away) also gets more of them, people checking in its place."""
    if policy.picks == 0:
        return []
    untrusted, wrong = judge_needs(session, suite=suite)
    gate = GatePolicy.model_validate(suite.get("gate") or {})
    gated = untrusted.keys() & {metric for _, metric in gate.metric_refs()}
    grown = math.ceil(policy.picks * (1 + policy.untrusted_judge_extra) - 1e-9)
    baseline = (
        load_results(session, run_id=source.baseline_run_id) if source.baseline_run_id else None
    )
    return pick_review_sample(
        [r for r in results if r.sample.item_id not in skip],
        baseline,
        budget=grown if gated else policy.picks,
        favour_judge=bool(untrusted),
        judge_was_wrong=wrong,
        control_share=0.0,
        seed=seed,
        near_threshold=policy.near_threshold,
        thresholds=thresholds,
        fill=False,
    )
