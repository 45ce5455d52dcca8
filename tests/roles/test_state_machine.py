"""The state machine: every allowed move, forbidden ones, and two actors racing."""

from __future__ import annotations

import pytest
from helpers import AUTHOR, actor_for, all_at_once, load, submit, walk, while_uncommitted
from sqlalchemy import delete, func, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from integrations.db import get_engine
from roles.errors import ConflictError, InputError, RoleError, TransitionError
from roles.ledger import ChangeRequest, Handoff, Member
from roles.states import OPEN_STATES, TRANSITIONS, State, holder
from roles.transitions import transition


def handoffs(session: Session, change_id: int) -> list[Handoff]:
    return list(
        session.exec(select(Handoff).where(Handoff.change_id == change_id).order_by(Handoff.id))
    )


@pytest.mark.parametrize("rule", TRANSITIONS, ids=lambda r: f"{r.source}->{r.target}")
def test_every_allowed_transition(session: Session, rule) -> None:  # type: ignore[no-untyped-def]
    load(session)
    change = submit(session)
    walk(session, change.id, rule.source)
    before = len(handoffs(session, change.id))
    actor = actor_for(rule)

    handoff = transition(session, change_id=change.id, target=rule.target, actor=actor, note="why")
    session.commit()

    session.expire_all()
    assert session.get(ChangeRequest, change.id).state == rule.target.value
    rows = handoffs(session, change.id)
    assert len(rows) == before + 1
    last = rows[-1]
    assert (last.from_state, last.to_state, last.note) == (
        rule.source.value,
        rule.target.value,
        "why",
    )
    assert last.role in {r.value for r in rule.roles}
    assert session.get(Member, last.actor_id).handle == actor
    assert last.id == handoff.id


def test_someone_holds_a_change_exactly_while_it_waits_for_someone() -> None:
    waiting = OPEN_STATES | {State.APPROVED}  # approved waits for the deploy
    for state in State:
        assert (holder(state) != "-") == (state in waiting), state


@pytest.mark.parametrize(
    ("state", "target", "actor", "error", "words"),
    [
        (State.SUBMITTED, State.APPROVED, "sam", TransitionError, "cannot move to approved"),
        (State.DEPLOYED, State.WITHDRAWN, AUTHOR, TransitionError, "cannot move to withdrawn"),
        (State.REJECTED, State.SUBMITTED, AUTHOR, TransitionError, "cannot move"),
        (State.AWAITING_APPROVAL, State.APPROVED, "omar", RoleError, "needs the engineer role"),
        (State.AWAITING_APPROVAL, State.APPROVED, "nobody", RoleError, "not on the team"),
        (State.SUBMITTED, State.EVALUATING, "sam", RoleError, "done by promptloop itself"),
        (State.SUBMITTED, State.WITHDRAWN, "omar", RoleError, "only the author"),
        (State.EVAL_FAILED, State.SUBMITTED, "ines", RoleError, "only the author"),
    ],
)
def test_forbidden_transitions_write_nothing(session, state, target, actor, error, words) -> None:  # type: ignore[no-untyped-def]
    load(session)
    change = submit(session)
    walk(session, change.id, state)
    before = len(handoffs(session, change.id))

    with pytest.raises(error, match=words):
        transition(session, change_id=change.id, target=target, actor=actor)
    session.rollback()

    assert session.get(ChangeRequest, change.id).state == state.value
    assert len(handoffs(session, change.id)) == before


def test_author_never_approves_own_change(session: Session) -> None:
    load(session)
    # lee is engineer and admin; make him an expert too so he may author a change.
    lee = session.exec(select(Member).where(Member.handle == "lee")).one()
    from roles.ledger import MemberRole

    session.add(MemberRole(member_id=lee.id, role="expert"))
    session.commit()
    change = submit(session, author="lee")
    walk(session, change.id, State.AWAITING_APPROVAL)
    with pytest.raises(RoleError, match="separation of duties"):
        transition(session, change_id=change.id, target=State.APPROVED, actor="lee")
    session.rollback()
    transition(session, change_id=change.id, target=State.APPROVED, actor="sam")
    session.commit()


def test_deactivated_member_cannot_act(session: Session) -> None:
    load(session)
    change = submit(session)
    walk(session, change.id, State.AWAITING_APPROVAL)
    sam = session.exec(select(Member).where(Member.handle == "sam")).one()
    sam.active = False
    session.add(sam)
    session.commit()
    with pytest.raises(RoleError, match="deactivated"):
        transition(session, change_id=change.id, target=State.APPROVED, actor="sam")


def test_handoffs_are_append_only_in_the_database(session: Session) -> None:
    load(session)
    change = submit(session)
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(update(Handoff).where(Handoff.change_id == change.id).values(note="edited"))
    session.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(delete(Handoff).where(Handoff.change_id == change.id))
    session.rollback()
    assert [h.note for h in handoffs(session, change.id)] == ["few-shot examples"]


def _count(change_id: int) -> int:
    with Session(get_engine()) as s:
        return s.exec(
            select(func.count()).select_from(Handoff).where(Handoff.change_id == change_id)
        ).one()


def test_concurrent_moves_one_wins_the_other_conflicts(session: Session) -> None:
    """A holds its move uncommitted; B reads the same state and writes; A commits; B conflicts."""
    load(session)
    change = submit(session)
    walk(session, change.id, State.AWAITING_APPROVAL)
    before = _count(change.id)
    engine = get_engine()

    first = Session(engine)
    transition(first, change_id=change.id, target=State.APPROVED, actor="sam")
    second = while_uncommitted(
        first,
        lambda second: transition(
            second,
            change_id=change.id,
            target=State.REJECTED,
            actor="lee",
            expected=State.AWAITING_APPROVAL,
        ),
    )

    assert isinstance(second, ConflictError), second
    assert "nothing was written" in str(second)
    with Session(engine) as s:
        assert s.get(ChangeRequest, change.id).state == State.APPROVED.value
    assert _count(change.id) == before + 1


def test_simultaneous_moves_exactly_one_lands(session: Session) -> None:
    """Two threads released together, many times: never two handoffs for one move."""
    load(session)
    for _ in range(5):
        change = submit(session)
        walk(session, change.id, State.AWAITING_APPROVAL)
        before = _count(change.id)
        results = all_at_once(
            *(
                lambda s, actor=actor, target=target, change_id=change.id: (
                    transition(
                        s,
                        change_id=change_id,
                        target=target,
                        actor=actor,
                        expected=State.AWAITING_APPROVAL,
                    ).id
                )
                for actor, target in (("sam", State.APPROVED), ("lee", State.REJECTED))
            )
        )
        moved = [r for r in results if isinstance(r, int)]
        assert len(moved) == 1, results
        assert isinstance(next(r for r in results if not isinstance(r, int)), ConflictError)
        assert _count(change.id) == before + 1


@pytest.mark.parametrize("state", [State.SUBMITTED, State.IN_REVIEW, State.AWAITING_APPROVAL])
def test_an_admin_closes_the_open_change_of_an_author_who_left(session: Session, state) -> None:  # type: ignore[no-untyped-def]
    load(session)
    change = submit(session)
    walk(session, change.id, state)
    maya = session.exec(select(Member).where(Member.handle == AUTHOR)).one()
    maya.active = False
    session.add(maya)
    session.commit()
    before = len(handoffs(session, change.id))

    for actor, note, error, words in (
        (AUTHOR, "bye", RoleError, "'maya' is deactivated"),
        (
            "omar",
            "stale",
            RoleError,
            r"only the author of change \d+ \(or an admin, with a reason\)",
        ),
        ("lee", None, InputError, "give a reason"),
        ("lee", "  ", InputError, "give a reason"),
    ):
        with pytest.raises(error, match=words):
            transition(session, change_id=change.id, target=State.WITHDRAWN, actor=actor, note=note)
        session.rollback()
    assert len(handoffs(session, change.id)) == before

    transition(session, change_id=change.id, target=State.WITHDRAWN, actor="lee", note="maya left")
    session.commit()
    last = handoffs(session, change.id)[-1]
    assert (last.from_state, last.to_state, last.role, last.note) == (
        state.value,
        "withdrawn",
        "admin",
        "maya left",
    )
    assert session.get(Member, last.actor_id).handle == "lee"
    with pytest.raises(TransitionError):  # closed is closed, for an admin too
        transition(session, change_id=change.id, target=State.WITHDRAWN, actor="lee", note="x")
