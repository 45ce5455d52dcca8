"""Votes: who may vote, one counted vote per expert per item with history kept, blind views."""

from __future__ import annotations

from datetime import timedelta

import pytest
from review_support import NOW, change_in_review, open_sampled_review
from sqlmodel import Session, select

from roles.errors import InputError, PolicyError, RoleError
from roles.expert import cast_vote, current_review, open_review, review_progress, start_review
from roles.ledger import ReviewItem, Vote
from roles.review.policy import ReviewPolicy
from roles.review.tally import review_items
from roles.review.views import item_view, waiting_items


def votes(session: Session) -> list[Vote]:
    session.expire_all()
    return list(session.exec(select(Vote).order_by(Vote.id)))


def first_item(session: Session, review_id: int) -> ReviewItem:
    return review_items(session, review_id=review_id)[0]


def test_a_review_opens_once_per_evaluation_with_the_policy_snapshot(session: Session) -> None:
    change_id = change_in_review(session, wrong={"t01", "t02"})
    review = open_sampled_review(session, change_id, ReviewPolicy(items=6, min_experts=1))
    again = open_sampled_review(session, change_id, ReviewPolicy(items=3), seed=99)
    assert again.id == review.id and again.items_needed == 6 and again.min_experts == 1
    items = review_items(session, review_id=review.id)
    assert [i.position for i in items] == [1, 2, 3, 4, 5, 6]
    assert review.deadline_at == NOW + timedelta(hours=48)
    # every item a random draw within its stratum: the failed ones and the rest alike
    assert {(i.strategy, i.stratum) for i in items} == {("sample", "S"), ("sample", "R")}
    with pytest.raises(PolicyError, match="no items"):
        open_review(
            session,
            change_id=change_in_review(session, variant="empty"),
            picks=[],
            policy=ReviewPolicy(),
            now=NOW,
        )


@pytest.mark.parametrize(
    ("actor", "author", "words"),
    [
        ("sam", "maya", "needs the expert role"),
        ("omar", "omar", "wrote change"),
        ("nobody", "maya", "not on the team"),
    ],
)
def test_a_non_expert_and_the_author_are_refused_with_nothing_written(
    session: Session, actor: str, author: str, words: str
) -> None:
    review = open_sampled_review(session, change_in_review(session, author=author))
    item = first_item(session, review.id)
    with pytest.raises(RoleError, match=words):
        cast_vote(session, review_item_id=item.id, actor=actor, verdict="pass", now=NOW)
    session.rollback()
    assert votes(session) == []
    assert review_progress(session, review_id=review.id).votes == 0


def test_a_bad_verdict_or_category_is_refused(session: Session) -> None:
    review = open_sampled_review(session, change_in_review(session))
    item = first_item(session, review.id)
    with pytest.raises(InputError, match="pass or fail"):
        cast_vote(session, review_item_id=item.id, actor="omar", verdict="maybe", now=NOW)
    with pytest.raises(InputError, match="not one of this review's"):
        cast_vote(
            session, review_item_id=item.id, actor="omar", verdict="fail", category="meh", now=NOW
        )
    session.rollback()
    assert votes(session) == []


def test_a_changed_vote_counts_once_and_the_history_stays(session: Session) -> None:
    review = open_sampled_review(session, change_in_review(session))
    item = first_item(session, review.id)
    cast_vote(
        session,
        review_item_id=item.id,
        actor="omar",
        verdict="fail",
        category="wrong",
        reason="no",
        now=NOW,
    )
    receipt = cast_vote(
        session,
        review_item_id=item.id,
        actor="omar",
        verdict="pass",
        now=NOW + timedelta(minutes=1),
    )
    session.commit()
    assert [v.verdict for v in votes(session)] == ["fail", "pass"]
    progress = receipt.progress
    assert (progress.votes, progress.experts, progress.items_voted, progress.failed_items) == (
        1,
        1,
        1,
        0,
    )
    assert receipt.vote.verdict == "pass" and receipt.vote.source == "cli"


def test_votes_are_append_only_in_the_database(session: Session) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    review = open_sampled_review(session, change_in_review(session))
    item = first_item(session, review.id)
    cast_vote(
        session, review_item_id=item.id, actor="omar", verdict="fail", category="wrong", now=NOW
    )
    session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("UPDATE vote SET verdict = 'pass'"))
    session.rollback()


def test_a_review_past_its_deadline_takes_no_votes(session: Session) -> None:
    review = open_sampled_review(session, change_in_review(session))
    item = first_item(session, review.id)
    with pytest.raises(PolicyError, match="deadline"):
        cast_vote(
            session,
            review_item_id=item.id,
            actor="omar",
            verdict="pass",
            now=NOW + timedelta(hours=48),
        )


def test_views_are_blind_until_the_expert_has_voted(session: Session) -> None:
    review = open_sampled_review(session, change_in_review(session, wrong={"t01", "t02", "t03"}))
    item = first_item(session, review.id)
    before = item_view(session, review_item_id=item.id, viewer="omar")
    assert before.revealed is None and before.votes == 0
    assert before.output and before.input and before.expected is not None
    dumped = before.model_dump_json()
    for word in ("judge", "correct", "strategy", item.reason):
        assert word not in dumped, word
    cast_vote(
        session, review_item_id=item.id, actor="omar", verdict="fail", category="wrong", now=NOW
    )
    session.commit()
    other = item_view(session, review_item_id=item.id, viewer="ines")
    assert other.revealed is None and other.votes == 1 and "verdict" not in other.model_dump_json()
    after = item_view(session, review_item_id=item.id, viewer="omar")
    assert after.revealed is not None and after.your_vote is not None
    assert set(after.revealed.scores) == {"correct", "judge_correct"}
    assert after.revealed.votes == [
        {"expert": "omar", "verdict": "fail", "category": "wrong", "reason": None}
    ]


def test_the_baseline_output_is_shown_only_when_it_differs(session: Session) -> None:
    review = open_sampled_review(session, change_in_review(session, wrong={"t01", "t02", "t03"}))
    views = {v.item_id: v for v in waiting_items(session, actor="omar", now=NOW)}
    for item_id, view in views.items():
        if item_id in {"t01", "t02", "t03"}:
            assert view.output == "account" and view.baseline_output == view.expected
        else:
            assert view.baseline_output is None
    assert len(views) == review.items_needed


def test_the_waiting_list_is_what_the_expert_has_not_voted_on(session: Session) -> None:
    review = open_sampled_review(session, change_in_review(session))
    items = review_items(session, review_id=review.id)
    cast_vote(session, review_item_id=items[0].id, actor="omar", verdict="pass", now=NOW)
    session.commit()
    assert [v.review_item_id for v in waiting_items(session, actor="omar", now=NOW)] == [
        i.id for i in items[1:]
    ]
    # omar's vote is all item 1 asks for (one vote per item): nobody else is offered it
    assert [v.review_item_id for v in waiting_items(session, actor="ines", now=NOW)] == [
        i.id for i in items[1:]
    ]
    assert waiting_items(session, actor="omar", now=NOW + timedelta(days=3)) == []
    with pytest.raises(RoleError):
        waiting_items(session, actor="sam", now=NOW)
    own = change_in_review(session, author="omar", variant="own")
    open_sampled_review(session, own)
    assert all(v.change_id != own for v in waiting_items(session, actor="omar", now=NOW))


def test_start_review_reads_the_prompts_policy_and_opens_once(session: Session) -> None:
    # five: the two failed items (stratum S, all of it) and three of the rest (R's minimum)
    policy = {"items": 5, "min_experts": 1, "deadline_hours": 24}
    change_id = change_in_review(session, wrong={"t01", "t02"}, review_policy=policy)
    assert current_review(session, change_id=change_id) is None
    review = start_review(session, change_id=change_id, now=NOW)
    session.commit()
    assert (review.items_needed, review.min_experts) == (5, 1)
    assert review.deadline_at == NOW + timedelta(hours=24)
    assert start_review(session, change_id=change_id, now=NOW + timedelta(hours=1)).id == review.id
    strata = {i.item_id: i.stratum for i in review_items(session, review_id=review.id)}
    assert (strata["t01"], strata["t02"]) == ("S", "S")
    assert sorted(strata.values()) == ["R", "R", "R", "S", "S"]
    message = review_progress(session, review_id=review.id).waiting_message()
    assert message == (
        "awaiting expert review: 0/5 items have their votes, 0/1 experts, "
        f"deadline {(NOW + timedelta(hours=24)).strftime('%Y-%m-%d %H:%M UTC')}"
    )
    assert current_review(session, change_id=change_id).id == review.id


def test_a_bad_review_policy_is_refused_when_the_prompt_is_pushed() -> None:
    from roles.data_scientist import parse_suite

    with pytest.raises(InputError, match=r"suite\.review\.items"):
        parse_suite({"review": {"items": 0}}, "prompt.yaml")
    with pytest.raises(InputError, match=r"suite\.review\.quorum"):
        parse_suite({"review": {"quorum": 3}}, "prompt.yaml")
    assert parse_suite({"review": {"items": 4}}, "x").to_dict() == parse_suite({}, "x").to_dict()


def test_a_deactivated_expert_and_a_withdrawn_change_take_no_votes(session: Session) -> None:
    from roles.roster import read_team_file, sync_team
    from roles.sample import sample_path
    from roles.states import State
    from roles.transitions import transition
    from roles.who import Who

    change_id = change_in_review(session)
    review = open_sampled_review(session, change_id)
    item = first_item(session, review.id)
    team = [p for p in read_team_file(sample_path("team.yaml")) if p.handle != "ines"]
    sync_team(session, people=team, who=Who(handle="lee"))
    session.commit()
    with pytest.raises(RoleError, match="deactivated"):
        cast_vote(session, review_item_id=item.id, actor="ines", verdict="pass", now=NOW)
    transition(session, change_id=change_id, target=State.WITHDRAWN, actor="maya")
    session.commit()
    with pytest.raises(PolicyError, match="withdrawn"):
        cast_vote(session, review_item_id=item.id, actor="omar", verdict="pass", now=NOW)
    session.rollback()
    assert votes(session) == []


def test_the_candidate_cannot_shrink_its_own_review(session: Session) -> None:
    """The review policy is production's: a candidate asking for one item, one expert and
    any failure rate gets the review production's suite asks for."""
    from roles.expert import start_review
    from roles.ledger import PromptVersion
    from roles.transitions import get_change

    change_id = change_in_review(session, wrong={"t01"})
    candidate = session.get(PromptVersion, get_change(session, change_id).candidate_version_id)
    assert candidate is not None
    lax = {"items": 1, "min_experts": 1, "max_failure_rate": 0.99}
    candidate.suite = {**(candidate.suite or {}), "review": lax}
    session.add(candidate)
    session.commit()
    review = start_review(session, change_id=change_id, now=NOW)
    assert (review.items_needed, review.min_experts, review.max_failure_rate) == (15, 2, 0.5)


def test_a_fail_needs_its_category(session: Session) -> None:
    review = open_sampled_review(session, change_in_review(session))
    item = first_item(session, review.id)
    with pytest.raises(InputError, match="a fail needs its category"):
        cast_vote(session, review_item_id=item.id, actor="omar", verdict="fail", now=NOW)
