"""From the ledger: a review's pairs are its probability sample, each weighted N_h / m_h;
its purposeful picks are counted apart and never reach the judge's record; a review opened
before strata counts its control items only, weight 1."""

from __future__ import annotations

import pytest
from calibration_support import sample_judge_id, sample_suite, vote
from review_support import NOW, change_in_review, open_sampled_review
from sklearn.metrics import cohen_kappa_score
from sqlmodel import Session, select

from roles.calibration.pairs import collect_labels
from roles.calibration.records import calibrate_judges, latest_record
from roles.data_scientist.review_sample import Pick
from roles.expert import open_review
from roles.ledger import EvalRun, ReviewItem
from roles.review.policy import ReviewPolicy

WRONG = {f"b{i:02d}" for i in range(1, 11)}  # the candidate (and so the judge) fails these


def _in_review(session: Session) -> int:
    change_id: int = change_in_review(session, wrong=WRONG)
    for run in session.exec(select(EvalRun).where(EvalRun.change_id == change_id)):
        run.suite = sample_suite()  # its LLM judge, judge_correct, scored them
        session.add(run)
    session.commit()
    return change_id


def _vote_all(session: Session, review_id: int | None, *, disagree: set[str]) -> list[ReviewItem]:
    """One expert labels every item: fail where the candidate was wrong, except ``disagree``."""
    items = list(session.exec(select(ReviewItem).where(ReviewItem.review_id == review_id)))
    for item in items:
        fails = (item.item_id in WRONG) != (item.item_id in disagree)
        vote(session, item, "omar", "fail" if fails else "pass")
    return items


def test_a_reviews_pairs_are_its_weighted_sample_and_its_picks_stay_out(session: Session) -> None:
    change_id = _in_review(session)
    review = open_sampled_review(session, change_id, ReviewPolicy(items=8, max_items=8, picks=3))
    assert review.strata is not None
    items = _vote_all(session, review.id, disagree=set())
    sample = [i for i in items if i.strategy == "sample"]
    picks = [i for i in items if i.strategy != "sample"]
    assert sample and picks and all(i.stratum is None for i in picks)
    # a disagreement on a sampled R item (the judge passed it, people fail it): κ below 1
    r_item = next(i for i in sample if i.stratum == "R")
    vote(session, r_item, "omar", "fail")

    labels = collect_labels(session)[sample_judge_id()]
    assert {p.item_id for p in labels.pairs} == {i.item_id for i in sample}
    assert {p.item_id for p in labels.picks} == {i.item_id for i in picks}
    assert labels.picks_left_out == len(picks) and all(p.weight == 0 for p in labels.picks)
    for pair in labels.pairs:
        m_h = sum(i.stratum == pair.stratum for i in sample)
        assert pair.weight == pytest.approx(len(review.strata[pair.stratum or ""]) / m_h)
    assert len({p.weight for p in labels.pairs}) > 1  # Neyman: the strata weigh differently

    calibrate_judges(session, trigger="test", now=NOW)
    session.commit()
    record = latest_record(session, judge_id=sample_judge_id())
    assert record is not None
    assert record.n == record.from_votes == len(sample)
    assert record.metrics["picks_left_out"] == len(picks)
    assert record.metrics["n_effective"] < len(sample)
    expected = cohen_kappa_score(
        [p.human_fail for p in labels.pairs],
        [p.judge_fail for p in labels.pairs],
        sample_weight=[p.weight for p in labels.pairs],
    )
    assert record.kappa == pytest.approx(expected)


def test_a_review_opened_before_strata_counts_its_control_items_only(session: Session) -> None:
    change_id = _in_review(session)
    picks = [
        Pick("b01", "control", "a random control item"),
        Pick("t01", "control", "a random control item"),
        Pick("b02", "failure", "failed correct"),
        Pick("b03", "judge_unsure", "judge_correct scored 0.5"),
    ]
    review = open_review(
        session, change_id=change_id, picks=picks, policy=ReviewPolicy(), now=NOW, seed=1
    )
    session.commit()
    _vote_all(session, review.id, disagree={"t01"})
    labels = collect_labels(session)[sample_judge_id()]
    assert sorted((p.item_id, p.weight) for p in labels.pairs) == [("b01", 1.0), ("t01", 1.0)]
    assert sorted(p.item_id for p in labels.picks) == ["b02", "b03"]
