"""A change in review, built through the real roles: the sample team and prompt, a
submitted change, a baseline and a candidate eval run recorded as the eval flow records
them, and the gate's move into in_review naming both runs."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from roles.data_scientist import ItemResult, Sample, Score, default_suite
from roles.data_scientist.review_sample import Pick
from roles.evaluation.change import conclude_evaluation
from roles.evaluation.records import finish_run, record_outcomes, start_run
from roles.evaluation.runner import ItemOutcome
from roles.expert import open_review
from roles.ledger import ChangeRequest, DatasetItem, Review
from roles.pm import submit_change
from roles.prompt_file import parse_prompt_file
from roles.review.inputs import review_source, sample_for_review
from roles.review.policy import ReviewPolicy
from roles.roster import Person, sync_team
from roles.sample import load_sample, sample_path
from roles.states import State
from roles.transitions import transition
from roles.who import Who

# Today, to the hour: the CLI checks deadlines against the real clock, so a fixed date
# would make these reviews expire in a later week's test run.
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
JUDGE = {"judge_model": "smollm2-135m"}


def add_experts(session: Session, *handles: str) -> None:
    people = [Person(handle=h, name=h.title(), roles=["expert"]) for h in handles]
    sync_team(session, people=people, deactivate_missing=False, who=Who(handle="lee"))
    session.commit()


def change_in_review(
    session: Session,
    *,
    author: str = "maya",
    wrong: Collection[str] = (),
    variant: str = "",
    review_policy: dict[str, Any] | None = None,
    gate_outcome: str | None = None,
) -> int:
    """A change in review whose candidate answers the items in ``wrong`` with 'account'
    (every other item, and the whole baseline, answers what is expected). Another
    ``variant`` makes another candidate version of the sample prompt."""
    if not variant:
        load_sample(session)
        session.commit()
    spec = parse_prompt_file(sample_path("support-triage-change.yaml"))
    if variant:
        spec = spec.model_copy(update={"description": f"{spec.description} ({variant})"})
    change = submit_change(session, spec=spec, author=author, note="few-shot examples")
    assert change.id is not None
    if review_policy is not None:  # production's policy decides (what the change replaces)
        from roles.ledger import PromptVersion

        base = session.get(PromptVersion, change.base_version_id)
        assert base is not None
        base.suite = {**(base.suite or {}), "review": review_policy}
        session.add(base)
    transition(session, change_id=change.id, target=State.EVALUATING, actor="promptloop")
    runs = {
        "baseline_run": record_run(session, change, change.base_version_id, wrong=()),
        "candidate_run": record_run(session, change, change.candidate_version_id, wrong=wrong),
    }
    if gate_outcome is not None:  # what the eval flow records of the gate's verdict
        runs = {**runs, "outcome": gate_outcome}
    conclude_evaluation(session, change_id=change.id, passed=True, reasons=[], payload=runs)
    session.commit()
    return change.id


def record_run(
    session: Session, change: ChangeRequest, version_id: int | None, *, wrong: Collection[str]
) -> int:
    """An eval run of ``version_id`` for the change, recorded as the eval flow records it."""
    assert version_id is not None
    dataset_id = session.exec(select(DatasetItem.dataset_id)).first()
    assert dataset_id is not None
    run = start_run(
        session,
        version_id=version_id,
        dataset_id=dataset_id,
        model="smollm2-135m",
        suite=default_suite(has_expected=True),
        settings={},
        purpose="candidate",
        change_id=change.id,
    )
    assert run.id is not None
    items = session.exec(select(DatasetItem).where(DatasetItem.dataset_id == dataset_id)).all()
    outcomes = []
    for row in items:
        output = "account" if row.item_id in wrong else str(row.expected)
        right = output == row.expected
        judge = Score(value=float(right), passed=right, metadata=JUDGE)
        result = ItemResult(
            sample=Sample(
                item_id=row.item_id, input=dict(row.input), expected=row.expected, output=output
            ),
            scores={"correct": Score.from_check(right), "judge_correct": judge},
        )
        outcomes.append(ItemOutcome(result=result, cached=False, attempts=1))
    record_outcomes(session, run_id=run.id, outcomes=outcomes)
    finish_run(session, run_id=run.id, totals={}, summary={})
    return run.id


def open_sampled_review(
    session: Session, change_id: int, policy: ReviewPolicy | None = None, *, seed: int = 1
) -> Review:
    """Sample the change's runs and open its review, as the pipeline does."""
    policy = policy or ReviewPolicy()
    source = review_source(session, change_id=change_id)
    drawn = sample_for_review(session, source=source, policy=policy, seed=seed)
    review = open_review(
        session,
        change_id=change_id,
        picks=drawn.picks,
        strata=drawn.strata,
        policy=policy,
        now=NOW,
        seed=seed,
    )
    session.commit()
    return review


def exact(items: int, **policy: Any) -> ReviewPolicy:
    """A policy of ``items`` labels and no more: no purposeful picks, no batch past the
    first look (a census of ``items`` shows exactly those; a stratified sample still gives
    each stratum its ``min_per_stratum``)."""
    return ReviewPolicy(items=items, max_items=items, picks=0, **policy)


def open_census_review(
    session: Session,
    change_id: int,
    policy: ReviewPolicy | None = None,
    *,
    items: Sequence[str] | None = None,
    seed: int = 1,
    now: datetime = NOW,
) -> Review:
    """The change's review opened as a census of a few items (no strata): their fail share
    is the failure rate, decided exactly against ``policy.max_failure_rate``.

    For tests of what a decided review does. Stratified, a handful of labels of the
    sample's 30 items cannot decide (4 passes of 30 leave the upper bound far above 0.2):
    it would ask for more labels. ``items``: the dataset items to review (default: the first
    ``policy.items`` of the pipeline's sample, in its order).
    """
    policy = policy or exact(4)
    if items is None:
        source = review_source(session, change_id=change_id)
        drawn = sample_for_review(session, source=source, policy=policy, seed=seed)
        items = [p.item_id for p in drawn.picks[: policy.items]]
    picks = [Pick(item_id, "random", "chosen by the test") for item_id in items]
    review = open_review(
        session, change_id=change_id, picks=picks, policy=policy, now=now, seed=seed
    )
    session.commit()
    return review
