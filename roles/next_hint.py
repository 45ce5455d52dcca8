"""Who acts next on a change and how, in words a person can follow from a terminal.

    >>> next_hints(session, change_id=2)  # doctest: +SKIP
    ['the experts vote on review 3 (ines, omar; not maya, the author): `promptloop review
      list --as ines`, then `promptloop review vote ITEM pass --as ines` (or `fail
      --category …`), or the Pass/Fail buttons in the review's Slack thread']

What ``change submit --wait`` ends with once the run waits for people or the change came
back to its author: the hint is in the terminal, not only in a Slack message (which, with
no Slack, is in serve's log).
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from roles.approval.override import gate_override
from roles.ledger import Member, MemberRole
from roles.review.current import current_review
from roles.states import Role, State
from roles.transitions import get_change

NO_OVERRIDE = (
    "the gate was inconclusive and production's suite allows no approval over it "
    "(`approval: {allow_override: false}`, the default)"
)


def next_hints(session: Session, *, change_id: int) -> list[str]:
    """One line per thing someone may do next (none once the change has ended)."""
    change = get_change(session, change_id)
    author = session.get(Member, change.author_id)
    by = author.handle if author else "AUTHOR"
    state = State(change.state)
    waits = state in (State.IN_REVIEW, State.AWAITING_APPROVAL)
    override = gate_override(session, change_id=change_id) if waits else None
    if state == State.IN_REVIEW:
        vote = _vote_hint(session, change_id=change_id, author=by)
        if override != "forbidden":
            return [vote]
        return [
            vote,
            f"whatever the review says, no engineer can approve it after: {NO_OVERRIDE}; "
            f"{by} may withdraw it now: `promptloop change withdraw {change_id} --as {by}`",
        ]
    if state == State.AWAITING_APPROVAL:
        engineers = _holders(session, Role.ENGINEER, but=change.author_id)
        first = engineers[0] if engineers else "ENGINEER"
        named = _named(engineers, by, "engineer")
        reject = f"`promptloop change reject {change_id} --as {first} --reason …`"
        if override == "forbidden":
            return [
                f"no engineer can approve it: {NO_OVERRIDE}; an engineer rejects it ({named}): "
                f"{reject}, or the deploy request in Slack; or {by} withdraws it: "
                f"`promptloop change withdraw {change_id} --as {by}`; a new change with more "
                "items, or production's suite with `approval: {allow_override: true}`, can "
                "decide it"
            ]
        approve = f"`promptloop change approve {change_id} --as {first}`"
        if override == "needs_reason":
            approve = (
                f"`promptloop change approve {change_id} --as {first} --override-reason …` "
                "(the gate was inconclusive: approving overrides it, with a reason)"
            )
        return [
            f"an engineer approves or rejects it ({named}): {approve} (or {reject}), or the "
            "deploy request in Slack"
        ]
    if state in (State.EVAL_FAILED, State.CHANGES_REQUESTED):
        why = "the gate's reasons" if state == State.EVAL_FAILED else "the experts' reasons"
        return [
            f"{by} revises it: `promptloop change revise {change_id} --file FILE --as {by}` "
            f"({why}: `promptloop change show {change_id}`), or withdraws it: "
            f"`promptloop change withdraw {change_id} --as {by}`"
        ]
    return []


def _vote_hint(session: Session, *, change_id: int, author: str) -> str:
    review = current_review(session, change_id=change_id)
    change = get_change(session, change_id)
    experts = _holders(session, Role.EXPERT, but=change.author_id)
    which = f"review {review.id}" if review is not None else "its review"
    first = experts[0] if experts else "EXPERT"
    if review is not None and review.status == "undecided":
        from roles.review.decision import deciders

        who = deciders(session, review) or ["a data scientist (none on the team: `team sync`)"]
        return (
            f"{', '.join(who)} decide{'s' if len(who) == 1 else ''} {which}: its sample reached "
            f"its cap undecided (`promptloop review estimate {review.id}` shows the numbers): "
            f"`promptloop review decide {review.id} pass --reason TEXT --as {who[0]}` (or fail)"
        )
    return (
        f"the experts vote on {which} ({_named(experts, author, 'expert')}): "
        f"`promptloop review list --as {first}`, then `promptloop review vote ITEM pass "
        f"--as {first}` (or `fail --category …`), or the Pass/Fail buttons in the review's "
        "Slack thread"
    )


def _holders(session: Session, role: Role, *, but: int) -> list[str]:
    """Active members holding ``role``, the author (``but``) excepted, by handle."""
    return list(
        session.exec(
            select(Member.handle)
            .join(MemberRole, col(MemberRole.member_id) == col(Member.id))
            .where(MemberRole.role == role.value)
            .where(col(Member.active))
            .where(Member.id != but)
            .order_by(col(Member.handle))
        ).all()
    )


def _named(handles: list[str], author: str, role: str) -> str:
    if not handles:
        return f"no active {role} but the author, {author}: add one with `promptloop team sync`"
    shown = ", ".join(handles[:8]) + (f" and {len(handles) - 8} more" if len(handles) > 8 else "")
    return f"{shown}; not {author}, the author"
