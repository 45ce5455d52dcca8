"""Judge calibration fixtures built through the real roles: a change in review whose runs
were scored by the sample suite (its LLM judge ``judge_correct`` included), votes cast as
experts cast them, and eval runs on labelled datasets."""

from __future__ import annotations

from collections.abc import Mapping

from review_support import NOW, add_experts, change_in_review, open_sampled_review
from sqlmodel import Session, select

from roles.calibration.identity import judges_in_suite
from roles.data_scientist import ItemResult, Sample, Score
from roles.data_scientist.suite import parse_suite
from roles.evaluation.records import finish_run, record_outcomes, start_run
from roles.evaluation.runner import ItemOutcome
from roles.expert import cast_vote
from roles.ledger import DatasetItem, EvalResult, EvalRun, EvalScore, PromptVersion, ReviewItem
from roles.review.policy import ReviewPolicy
from roles.sample import sample_path
from roles.yamlfile import load_yaml

JUDGE_META = {"judge_model": "smollm2-135m"}


def sample_suite() -> dict[str, object]:
    """The sample prompt's suite as an eval run stores it."""
    data = load_yaml(sample_path("support-triage.yaml")).data
    return parse_suite(data["suite"], "sample").to_dict()


def sample_judge_id() -> str:
    return judges_in_suite(sample_suite())[0].judge_id


def reviewed_change(
    session: Session, *, items: int, wrong: set[str] = frozenset()
) -> list[ReviewItem]:  # type: ignore[assignment]
    """A change in review (candidate wrong on ``wrong``), its runs scored by the sample suite,
    and its review open with ``items`` items; the review items."""
    change_id = change_in_review(session, wrong=wrong)
    for run in session.exec(select(EvalRun).where(EvalRun.change_id == change_id)):
        run.suite = sample_suite()
        session.add(run)
    session.commit()
    review = open_sampled_review(
        session, change_id, ReviewPolicy(items=items, max_items=items, picks=0)
    )
    return list(
        session.exec(
            select(ReviewItem)
            .where(ReviewItem.review_id == review.id)
            .order_by(ReviewItem.position)
        )
    )


def vote(
    session: Session, item: ReviewItem, expert: str, verdict: str, category: str | None = None
) -> None:
    add_experts(session, expert)
    category = category or ("wrong" if verdict == "fail" else None)
    cast_vote(
        session,
        review_item_id=item.id or 0,
        actor=expert,
        verdict=verdict,
        category=category,
        now=NOW,
    )
    session.commit()


def leave_unscored(
    session: Session, *, run_id: int, item_id: str, metric: str = "judge_correct"
) -> None:
    """The judge could not score this item in that run (as a failed judge call records it)."""
    score = session.exec(
        select(EvalScore)
        .join(EvalResult, EvalResult.id == EvalScore.result_id)
        .where(
            EvalResult.run_id == run_id, EvalResult.item_id == item_id, EvalScore.metric == metric
        )
    ).one()
    score.unscored, score.passed, score.value, score.reason = True, None, None, "judge call failed"
    session.add(score)
    session.commit()


def scored_run(
    session: Session,
    *,
    version_id: int,
    dataset_id: int,
    judge_passes: Mapping[str, bool],
    suite: dict[str, object] | None = None,
    extra_fails: Mapping[str, set[str]] | None = None,
) -> int:
    """A finished run of ``version_id`` on ``dataset_id`` answering every item as expected;
    the judge passes the items in ``judge_passes`` as given (others: pass); ``extra_fails``:
    metric → items that scorer failed."""
    run = start_run(
        session,
        version_id=version_id,
        dataset_id=dataset_id,
        model="smollm2-135m",
        suite=parse_suite(
            suite or load_yaml(sample_path("support-triage.yaml")).data["suite"], "t"
        ),
        settings={},
    )
    assert run.id is not None
    outcomes = []
    for row in session.exec(select(DatasetItem).where(DatasetItem.dataset_id == dataset_id)):
        passed = judge_passes.get(row.item_id, True)
        scores = {
            "correct": Score.from_check(True),
            "judge_correct": Score(value=float(passed), passed=passed, metadata=JUDGE_META),
        }
        for metric, failing in (extra_fails or {}).items():
            scores[metric] = Score.from_check(row.item_id not in failing)
        sample = Sample(
            item_id=row.item_id,
            input=dict(row.input),
            expected=row.expected,
            output=str(row.expected),
            tags=list(row.tags),
        )
        outcomes.append(
            ItemOutcome(result=ItemResult(sample=sample, scores=scores), cached=False, attempts=1)
        )
    record_outcomes(session, run_id=run.id, outcomes=outcomes)
    finish_run(session, run_id=run.id, totals={}, summary={})
    session.commit()
    return run.id


def production_version(session: Session) -> PromptVersion:
    return session.exec(select(PromptVersion).order_by(PromptVersion.id)).first()  # type: ignore[return-value]
