"""What `change submit --wait` ends with: who acts next and how, for every state that waits
for a person (SQLite and PostgreSQL)."""

from __future__ import annotations

from review_support import change_in_review, open_sampled_review
from sqlmodel import Session

from roles.evaluation.change import conclude_evaluation
from roles.next_hint import next_hints
from roles.pm import submit_change, withdraw_change
from roles.prompt_file import parse_prompt_file
from roles.review.policy import ReviewPolicy
from roles.sample import sample_path
from roles.states import State
from roles.transitions import transition


def test_in_review_names_the_experts_and_how_they_vote(session: Session) -> None:
    change_id = change_in_review(session)
    review = open_sampled_review(session, change_id, ReviewPolicy(items=2))
    [hint] = next_hints(session, change_id=change_id)
    assert hint.startswith(f"the experts vote on review {review.id} (ines, omar; not maya,")
    assert "`promptloop review list --as ines`" in hint
    assert "`promptloop review vote ITEM pass --as ines`" in hint and "Slack thread" in hint


def test_the_author_is_never_named_among_the_voters(session: Session) -> None:
    change_id = change_in_review(session, author="omar")
    open_sampled_review(session, change_id, ReviewPolicy(items=2))
    [hint] = next_hints(session, change_id=change_id)
    assert "(ines; not omar, the author)" in hint  # an author never votes on their change


def test_awaiting_approval_names_the_engineers_but_the_author(session: Session) -> None:
    change_id = change_in_review(session)
    transition(session, change_id=change_id, target=State.AWAITING_APPROVAL, actor="promptloop")
    [hint] = next_hints(session, change_id=change_id)
    # maya is an engineer too, and the author: she is not offered her own approval
    assert hint.startswith("an engineer approves or rejects it (lee, sam; not maya, the author)")
    assert f"`promptloop change approve {change_id} --as lee`" in hint


def test_changes_requested_and_eval_failed_say_how_to_revise(session: Session) -> None:
    change_id = change_in_review(session)
    transition(
        session, change_id=change_id, target=State.CHANGES_REQUESTED, actor="omar", note="tone"
    )
    [hint] = next_hints(session, change_id=change_id)
    assert hint.startswith(
        f"maya revises it: `promptloop change revise {change_id} --file FILE --as maya` "
        f"(the experts' reasons: `promptloop change show {change_id}`)"
    )
    assert f"`promptloop change withdraw {change_id} --as maya`" in hint

    spec = parse_prompt_file(sample_path("support-triage-change.yaml"))
    spec = spec.model_copy(update={"description": "another"})
    failed = submit_change(session, spec=spec, author="maya").id
    assert failed is not None
    transition(session, change_id=failed, target=State.EVALUATING, actor="promptloop")
    conclude_evaluation(
        session, change_id=failed, passed=False, reasons=["accuracy fell"], payload={}
    )
    [hint] = next_hints(session, change_id=failed)
    assert f"`promptloop change revise {failed} --file FILE --as maya`" in hint
    assert "the gate's reasons" in hint


def test_an_ended_change_has_no_next_step(session: Session) -> None:
    change_id = change_in_review(session)
    withdraw_change(session, change_id=change_id, author="maya")
    assert next_hints(session, change_id=change_id) == []
