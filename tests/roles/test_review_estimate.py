"""Issue 18: the review estimates the candidate's failure rate from a stratified random
sample and decides on its bound: more labels in batches while it cannot, a named person's
recorded call at the cap; purposeful picks shown and never counted."""

from __future__ import annotations

import pytest
from review_support import NOW, change_in_review, open_sampled_review
from sqlmodel import Session, col, select

from roles.errors import InputError, PolicyError, RoleError
from roles.expert import vote_and_conclude
from roles.ledger import ChangeRequest, Handoff, Review, ReviewItem
from roles.review.decision import decide_review, deciders
from roles.review.looks import judge_review
from roles.review.policy import ReviewPolicy, policy_from_suite
from roles.review.views import waiting_items
from roles.states import State

# The sample dataset's 30 items; the candidate answers these wrong (its scorer fails them).
WRONG = ("t01", "t02")


def play(session: Session, review: Review, wrong: set[str]) -> list[int]:
    """Both experts vote the truth on every item waiting for them until the review stops
    asking; returns how many items each look showed."""
    shown = []
    while True:
        session.refresh(review)
        if review.status != "open":
            return shown
        shown.append(
            len(session.exec(select(ReviewItem).where(ReviewItem.review_id == review.id)).all())
        )
        for expert in ("omar", "ines"):
            for view in waiting_items(session, actor=expert, now=NOW):
                if view.review_id != review.id:
                    continue
                bad = view.item_id in wrong
                vote_and_conclude(
                    session, review_item_id=view.review_item_id, actor=expert,
                    verdict="fail" if bad else "pass", category="wrong" if bad else None,
                    now=NOW,
                )  # fmt: skip
        session.commit()


def items_of(session: Session, review: Review) -> list[ReviewItem]:
    return list(session.exec(select(ReviewItem).where(ReviewItem.review_id == review.id)))


def last_move(session: Session, change_id: int) -> Handoff:
    return session.exec(
        select(Handoff).where(Handoff.change_id == change_id).order_by(col(Handoff.id).desc())
    ).first()


def test_strata_are_fixed_from_the_candidates_results_and_picks_are_never_counted(
    session: Session,
) -> None:
    wrong = {item for item in ("t01", "t02", "t03", "t04")}
    change_id = change_in_review(session, wrong=wrong)
    review = open_sampled_review(session, change_id, ReviewPolicy(items=10, picks=2))
    assert sorted(review.strata["S"]) == sorted(wrong)  # a deterministic scorer failed them
    assert len(review.strata["R"]) == 26
    rows = items_of(session, review)
    sample = [r for r in rows if r.strategy == "sample"]
    assert len(sample) == review.items_needed == 10
    assert {r.stratum for r in sample} == {"S", "R"}
    assert sum(r.stratum == "S" for r in sample) >= 3  # the minimum per stratum
    picks = [r for r in rows if r.strategy != "sample"]
    assert all(r.stratum is None for r in picks)
    assert all(p.position > max(s.position for s in sample) for p in picks)  # after the sample
    [view] = [
        v for v in waiting_items(session, actor="omar", now=NOW) if v.item_id == picks[0].item_id
    ]
    assert view.pick and view.revealed is None  # marked, and still blind


def test_a_review_that_cannot_decide_adds_labels_in_batches_then_passes(session: Session) -> None:
    change_id = change_in_review(session, wrong=WRONG)
    policy = ReviewPolicy(items=10, batch=10, max_items=30, picks=0)
    review = open_sampled_review(session, change_id, policy)
    shown = play(session, review, set(WRONG))
    assert shown[0] == 10 and len(shown) >= 2 and shown == sorted(shown)  # it asked for more
    session.refresh(review)
    assert (review.status, review.outcome) == ("complete", "passed")
    handoff = last_move(session, change_id)
    assert handoff.to_state == State.AWAITING_APPROVAL.value
    estimate = handoff.payload["estimate"]
    assert estimate["upper"] <= 0.2 and estimate["labels"] == shown[-1]
    assert estimate["rate"] == pytest.approx(2 / 30, abs=0.05)
    assert "failure rate" in handoff.note and "labels of 30 items" in handoff.note
    assert {b for b in (r.batch for r in items_of(session, review))} == set(range(len(shown)))


def test_a_clearly_bad_candidate_fails_on_its_first_look(session: Session) -> None:
    wrong = {f"{k}{i:02d}" for k in "bt" for i in range(1, 9)}  # over half the items
    change_id = change_in_review(session, wrong=wrong)
    review = open_sampled_review(session, change_id, ReviewPolicy(items=10, picks=0))
    assert play(session, review, wrong) == [10]
    session.refresh(review)
    assert review.outcome == "failed"
    handoff = last_move(session, change_id)
    assert handoff.to_state == State.CHANGES_REQUESTED.value
    assert handoff.payload["estimate"]["lower"] > 0.2


def test_at_the_cap_the_named_decider_calls_it_and_that_is_the_handoff(session: Session) -> None:
    wrong = {"t01", "t02", "t03", "t04", "t05", "t06"}  # a fifth: the bound straddles 0.2
    change_id = change_in_review(session, wrong=wrong)
    review = open_sampled_review(session, change_id, ReviewPolicy(items=10, max_items=10, picks=0))
    play(session, review, wrong)
    session.refresh(review)
    assert review.status == "undecided" and review.outcome is None
    judged = judge_review(session, review)
    assert judged.decision == "undecided"
    assert judged.estimate.lower <= 0.2 < judged.estimate.upper
    change = session.get(ChangeRequest, change_id)
    assert change.state == State.IN_REVIEW.value  # nobody has moved it
    assert waiting_items(session, actor="omar", now=NOW) == []  # it takes no more votes
    assert deciders(session, review) == ["dana"]  # the sample's data scientist
    with pytest.raises(RoleError, match="data_scientist or admin"):
        decide_review(session, review_id=review.id, actor="omar", decision="pass",
                      reason="looks fine", now=NOW)  # fmt: skip
    with pytest.raises(InputError, match="reason"):
        decide_review(session, review_id=review.id, actor="dana", decision="pass", reason=" ",
                      now=NOW)  # fmt: skip
    conclusion = decide_review(session, review_id=review.id, actor="dana", decision="fail",
                               reason="six wrong of thirty is too many for billing", now=NOW)  # fmt: skip
    session.commit()
    assert conclusion.outcome == "failed" and conclusion.state == State.CHANGES_REQUESTED.value
    handoff = last_move(session, change_id)
    assert handoff.payload["decided_by"] == "dana"
    assert "decided by dana at the cap: six wrong" in handoff.note
    with pytest.raises(PolicyError, match="only an undecided review"):
        decide_review(session, review_id=review.id, actor="dana", decision="pass",
                      reason="again", now=NOW)  # fmt: skip


def test_an_open_review_is_not_the_deciders_to_call(session: Session) -> None:
    change_id = change_in_review(session)
    review = open_sampled_review(session, change_id, ReviewPolicy(items=4, picks=0))
    with pytest.raises(PolicyError, match="open: its experts' votes decide it"):
        decide_review(session, review_id=review.id, actor="dana", decision="pass",
                      reason="hurry", now=NOW)  # fmt: skip


def test_the_replaced_settings_are_refused_with_what_replaces_them() -> None:
    with pytest.raises(ValueError, match="max_failure_rate"):
        ReviewPolicy.model_validate({"max_fail_share": 0.5})
    with pytest.raises(ValueError, match="picks"):
        ReviewPolicy.model_validate({"control_share": 0.2})
    with pytest.raises(ValueError, match="below items"):
        ReviewPolicy(items=30, max_items=20)
    # a suite stored before: read without them, never refused
    assert policy_from_suite({"review": {"max_fail_share": 0.5, "items": 12}}).items == 12


def test_the_next_step_of_an_undecided_review_names_its_decider(session: Session) -> None:
    from roles.next_hint import next_hints

    wrong = {"t01", "t02", "t03", "t04", "t05", "t06"}
    change_id = change_in_review(session, wrong=wrong)
    review = open_sampled_review(session, change_id, ReviewPolicy(items=10, max_items=10, picks=0))
    play(session, review, wrong)
    [hint] = next_hints(session, change_id=change_id)
    assert hint.startswith(f"dana decides review {review.id}")
    assert f"promptloop review decide {review.id} pass --reason TEXT --as dana" in hint


def test_a_replaced_setting_in_a_prompt_file_is_refused_at_its_own_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from roles.prompt_file import parse_prompt_file
    from roles.sample import sample_path

    text = sample_path("support-triage-change.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("    max_failure_rate: 0.5", "    max_fail_share: 0.3"))
    line = 1 + bad.read_text().splitlines().index("    max_fail_share: 0.3")
    with pytest.raises(InputError, match=rf"bad.yaml, line {line}: suite.review.max_fail_share"):
        parse_prompt_file(bad)
