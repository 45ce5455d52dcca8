"""The one function that moves a change request and writes its handoff::

    transition(session, change_id=7, target=State.APPROVED, actor="sam", note="ship it")

The state change and the handoff row are written in the caller's transaction. The
UPDATE is conditional on the revision that was read, so when two actors move the
same change at the same moment exactly one row matches; the other gets a
``ConflictError`` and its transaction writes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col

from roles.clock import utcnow
from roles.errors import ConflictError, InputError, NotFoundError, RoleError, TransitionError
from roles.ledger import ChangeRequest, Handoff
from roles.roster import SYSTEM_HANDLE, find_member, require_member, roles_of
from roles.states import Role, Rule, State, rule_for


def get_change(session: Session, change_id: int) -> ChangeRequest:
    change = session.get(ChangeRequest, change_id)
    if change is None:
        raise NotFoundError(f"there is no change {change_id}")
    return change


def transition(
    session: Session,
    *,
    change_id: int,
    target: State,
    actor: str,
    note: str | None = None,
    payload: dict[str, Any] | None = None,
    expected: State | None = None,
) -> Handoff:
    """Move change ``change_id`` to ``target`` as ``actor`` (a handle); return the handoff.

    Raises:
        NotFoundError: no such change.
        TransitionError: the state machine has no arrow from the current state to ``target``.
        RoleError: the actor is unknown, deactivated, lacks the role, or is (not) the author.
        InputError: an admin makes an author's move on someone else's change without a note.
        ConflictError: someone else moved the change between our read and our write, or
            (with ``expected``, the state the actor saw when deciding) before our read.
    """
    change = get_change(session, change_id)
    session.refresh(change)
    if actor != SYSTEM_HANDLE:
        find_member(session, handle=actor)  # an unknown name is said first, whatever the state
    source = State(change.state)
    if expected is not None and source != expected:
        raise ConflictError(
            f"change {change_id} is now {source.value}, not {expected.value}: someone else "
            "moved it first; nothing was written"
        )
    rule = rule_for(source, target)
    if rule is None:
        raise TransitionError(
            f"change {change_id} is {source.value}; it cannot move to {target.value}"
        )
    if rule.roles == (Role.SYSTEM,) and actor != SYSTEM_HANDLE:
        raise RoleError(
            f"moving change {change_id} to {target.value} is done by promptloop itself, "
            "not by a person"
        )
    roles = rule.roles
    if rule.author_only and find_member(session, handle=actor).id != change.author_id:
        roles = _admin_instead_of_author(session, rule=rule, change_id=change_id, actor=actor)
        if not (note and note.strip()):
            raise InputError(
                f"'{actor}' closes change {change_id} as an admin, not as its author: give a "
                "reason (--reason), it is kept with the handoff"
            )
    member, role = require_member(session, handle=actor, roles=roles)
    if rule.not_author and member.id == change.author_id:
        raise RoleError(
            f"'{actor}' wrote change {change_id} and cannot move it to {target.value} "
            "(separation of duties)"
        )
    now = utcnow()
    statement = (
        update(ChangeRequest)
        .where(col(ChangeRequest.id) == change_id)
        .where(col(ChangeRequest.revision) == change.revision)
        .where(col(ChangeRequest.state) == source.value)
        .values(state=target.value, revision=change.revision + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    try:
        result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
        moved = result.rowcount
    except OperationalError as exc:
        if "locked" in str(exc).lower():
            raise _conflict(change_id, source, target) from None
        raise
    if moved != 1:
        raise _conflict(change_id, source, target)
    assert member.id is not None
    handoff = Handoff(
        change_id=change_id,
        from_state=source.value,
        to_state=target.value,
        actor_id=member.id,
        role=role.value,
        note=note,
        payload=payload or {},
        at=now,
    )
    session.add(handoff)
    session.flush()
    session.expire(change)
    return handoff


def _admin_instead_of_author(
    session: Session, *, rule: Rule, change_id: int, actor: str
) -> tuple[Role, ...]:
    """The roles that let ``actor``, who is not the author, make an author-only move."""
    member = find_member(session, handle=actor)
    assert member.id is not None
    if rule.admin_with_reason and Role.ADMIN in roles_of(session, member_id=member.id):
        return (Role.ADMIN,)
    others = " (or an admin, with a reason)" if rule.admin_with_reason else ""
    raise RoleError(
        f"only the author of change {change_id}{others} may move it to {rule.target.value}"
    )


def _conflict(change_id: int, source: State, target: State) -> ConflictError:
    return ConflictError(
        f"change {change_id} was moved by someone else while you moved it from "
        f"{source.value} to {target.value}; nothing was written — look again with "
        f"`promptloop change show {change_id}`"
    )


def first_handoff(
    session: Session, *, change: ChangeRequest, actor_id: int, role: str, note: str | None
) -> Handoff:
    """The handoff that opens a change's history (nothing → submitted)."""
    assert change.id is not None
    handoff = Handoff(
        change_id=change.id,
        from_state=None,
        to_state=State.SUBMITTED.value,
        actor_id=actor_id,
        role=role,
        note=note,
        at=change.created_at,
    )
    session.add(handoff)
    session.flush()
    return handoff
