"""Read views of change requests: who holds what, the history, and time spent per state.

These are queries over the handoff rows; nothing here writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from roles.clock import iso, utcnow
from roles.errors import InputError
from roles.ledger import ChangeRequest, Handoff, Member, Prompt, PromptVersion
from roles.registry import find_prompt
from roles.states import State, holder
from roles.transitions import get_change


class HandoffView(BaseModel):
    """One handoff as people and scripts read it."""

    model_config = ConfigDict(frozen=True)

    from_state: str | None
    to_state: str
    actor: str
    role: str
    at: str
    note: str | None
    payload: dict[str, Any]


class ChangeView(BaseModel):
    """A change request as `change show`/`list` (and their ``--json``) present it: the
    read model of ``ChangeRequest`` with names instead of ids."""

    model_config = ConfigDict(frozen=True)

    id: int
    prompt: str
    state: str
    author: str
    holder: str
    base_version: int | None
    candidate_version: int | None
    note: str | None
    flow_run_id: str | None  # its pipeline run
    not_evaluated: str | None
    evaluate_flow_run_id: str | None
    evaluation_error: dict[str, Any] | None
    decisions: list[dict[str, Any]]
    created_at: str
    updated_at: str
    age_s: float
    history: list[HandoffView] | None = None  # with the history only
    seconds_in_state: dict[str, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON document (no history keys when it was read without history)."""
        return self.model_dump(
            mode="json", exclude={"history", "seconds_in_state"} if self.history is None else None
        )


def holder_of(change: ChangeRequest) -> str:
    """Who must act next: the state's holder, or ``nobody`` for a submitted change that
    nothing will evaluate until someone runs ``promptloop change evaluate``."""
    state = State(change.state)
    if state is State.SUBMITTED and change.not_evaluated:
        return "nobody"
    return holder(state)


def evaluation_error(change: ChangeRequest) -> dict[str, Any] | None:
    """Why the change's last evaluation could not conclude, if it could not."""
    if change.evaluation_error is None:
        return None
    return {
        "message": change.evaluation_error,
        "kind": change.evaluation_error_kind,
        "at": iso(change.evaluation_error_at) if change.evaluation_error_at else None,
        "log": change.evaluation_log,
    }


def _decisions(session: Session, change_id: int) -> list[dict[str, Any]]:
    from roles.approval.policy import decisions_of  # only `change show` pays for it

    return decisions_of(session, change_id=change_id)


def _handles(session: Session) -> dict[int, str]:
    return {i: h for i, h in session.exec(select(Member.id, Member.handle)).all() if i is not None}


def _numbers(session: Session, ids: set[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.exec(
        select(PromptVersion.id, PromptVersion.number).where(col(PromptVersion.id).in_(ids))
    ).all()
    return {i: n for i, n in rows if i is not None}


def history(session: Session, *, change_id: int) -> list[Handoff]:
    return list(
        session.exec(
            select(Handoff).where(Handoff.change_id == change_id).order_by(col(Handoff.id))
        ).all()
    )


def seconds_in_states(handoffs: list[Handoff], now: datetime | None = None) -> dict[str, float]:
    """Total seconds spent in each state, the current one counted up to ``now``."""
    now = now or utcnow()
    spent: dict[str, float] = {}
    for current, following in zip(handoffs, [*handoffs[1:], None], strict=True):
        end = following.at if following else now
        spent[current.to_state] = (
            spent.get(current.to_state, 0.0) + (end - current.at).total_seconds()
        )
    return spent


def current_verdict(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The handoff that concluded the current candidate's evaluation, if it has concluded:
    a verdict from before the last revision (back to submitted) no longer applies."""
    for handoff in reversed(history):
        if handoff["from_state"] == State.EVALUATING.value:
            return dict(handoff)
        if handoff["to_state"] == State.SUBMITTED.value:
            return None
    return None


def verdict_of(session: Session, *, change_id: int) -> dict[str, Any] | None:
    """``current_verdict`` of the change, read from its handoffs."""
    from roles.ledger import Handoff

    handoffs = session.exec(
        select(Handoff).where(Handoff.change_id == change_id).order_by(col(Handoff.id))
    ).all()
    return current_verdict(
        [
            {"from_state": h.from_state, "to_state": h.to_state, "payload": h.payload}
            for h in handoffs
        ]
    )


def change_view(session: Session, *, change_id: int, with_history: bool = True) -> dict[str, Any]:
    change = get_change(session, change_id)
    views = _views(session, [change], with_history=with_history)
    return views[0]


def list_changes(
    session: Session, *, state: str | None = None, prompt: str | None = None
) -> list[dict[str, Any]]:
    query = select(ChangeRequest).order_by(col(ChangeRequest.id))
    if state is not None:
        if state not in {s.value for s in State}:
            known = ", ".join(s.value for s in State)
            raise InputError(f"'{state}' is not a state (one of: {known})")
        query = query.where(ChangeRequest.state == state)
    if prompt is not None:
        query = query.where(ChangeRequest.prompt_id == find_prompt(session, name=prompt).id)
    return _views(session, list(session.exec(query).all()), with_history=False)


def _views(
    session: Session, changes: list[ChangeRequest], *, with_history: bool
) -> list[dict[str, Any]]:
    handles = _handles(session)
    version_ids = {c.candidate_version_id for c in changes} | {
        c.base_version_id for c in changes if c.base_version_id
    }
    numbers = _numbers(session, version_ids)
    prompt_names = dict(session.exec(select(Prompt.id, Prompt.name)).all())
    now = utcnow()
    out = []
    for change in changes:
        assert change.id is not None
        state = State(change.state)
        handoffs = history(session, change_id=change.id) if with_history else []
        view = ChangeView(
            id=change.id,
            prompt=prompt_names.get(change.prompt_id, "?"),
            state=state.value,
            author=handles.get(change.author_id, "?"),
            holder=holder_of(change),
            base_version=numbers.get(change.base_version_id) if change.base_version_id else None,
            candidate_version=numbers.get(change.candidate_version_id),
            note=change.note,
            flow_run_id=change.flow_run_id,
            not_evaluated=change.not_evaluated,
            evaluate_flow_run_id=change.evaluate_flow_run_id,
            evaluation_error=evaluation_error(change),
            decisions=_decisions(session, change.id) if with_history else [],
            created_at=iso(change.created_at),
            updated_at=iso(change.updated_at),
            age_s=round((now - change.created_at).total_seconds(), 1),
            history=[
                HandoffView(
                    from_state=h.from_state,
                    to_state=h.to_state,
                    actor=handles.get(h.actor_id, "?"),
                    role=h.role,
                    at=iso(h.at),
                    note=h.note,
                    payload=h.payload,
                )
                for h in handoffs
            ]
            if with_history
            else None,
            seconds_in_state={
                k: round(v, 3) for k, v in seconds_in_states(handoffs, now).items()
            }
            if with_history
            else None,
        )
        out.append(view.as_dict())
    return out
