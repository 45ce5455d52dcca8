"""The handoff metrics report: queries over the ledger's handoffs, votes and deploys.

Nothing here writes. Times are seconds. A duration counts when it *ended* inside the
window (a stay left, a change deployed, a vote cast, a decision taken); what waits now
is counted as of now, whatever ``since`` says.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from itertools import groupby
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func
from sqlmodel import Session, col, select

from roles.changes import holder_of
from roles.clock import iso, utcnow
from roles.ledger import ChangeRequest, Deployment, Handoff, Member, Review, ReviewItem, Vote
from roles.metrics.failures import failed_deploys
from roles.metrics.sendbacks import SENT_BACK, reasons_of
from roles.metrics.stays import Durations, Stay, durations, stays_of
from roles.metrics.window import Window
from roles.registry import find_prompt
from roles.roster import SYSTEM_HANDLE
from roles.states import State, holder

# The states a change waits in for someone (terminal ones have no holder).
WAITING_STATES: tuple[str, ...] = tuple(s.value for s in State if holder(s) != "-")
EXAMPLES = 3  # what was said, per send-back reason: the latest few


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class StateMetrics(_Frozen):
    state: str
    holder: str  # the role that must act (roles.states.holder)
    waiting_now: int
    oldest_wait_s: float | None  # the change waiting longest there now
    time_in_state: Durations  # over stays that ended in the window


class HolderMetrics(_Frozen):
    role: str  # author, expert, engineer, system; nobody: a change nothing will evaluate
    person: str | None  # the author's handle, promptloop for system; None: any of the role
    holding_now: int
    longest_wait_s: float | None
    held_s: float  # all the time changes waited on them inside the window


class ExpertTurnaround(_Frozen):
    expert: str
    turnaround: Durations  # review opened → the expert's last vote on it


class FailedDeploy(_Frozen):
    change_id: int
    deployment_id: int
    why: str


class ChangeFailure(_Frozen):
    deploys: int
    failed: int
    rate: float | None
    failures: list[FailedDeploy]


class SendBackReason(_Frozen):
    kind: str  # changes_requested, eval_failed, rejected
    category: str
    count: int  # send-backs that gave it
    examples: list[str]  # what was said, latest first


class SentBack(_Frozen):
    changes: int  # changes with a handoff in the window
    sent_back: int  # of them, sent back at least once in the window
    share: float | None
    by_kind: dict[str, int]  # send-backs (events) by the state they went to
    reasons: list[SendBackReason]


class ChangeCounts(_Frozen):
    total: int
    active: int  # with a handoff in the window
    by_state: dict[str, int]  # now


class HandoffMetrics(_Frozen):
    """The ``promptloop metrics --json`` document (see the README's "Handoff metrics")."""

    since: str | None
    until: str
    prompt: str | None
    changes: ChangeCounts
    states: list[StateMetrics]
    holders: list[HolderMetrics]
    lead_time: Durations  # submitted → deployed, for changes deployed in the window
    approval_wait: Durations  # awaiting_approval → approved or rejected
    review_turnaround: list[ExpertTurnaround]
    change_failure: ChangeFailure
    sent_back: SentBack

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def handoff_metrics(
    session: Session,
    *,
    since: datetime | None = None,
    prompt: str | None = None,
    now: datetime | None = None,
) -> HandoffMetrics:
    """The report for changes to ``prompt`` (every prompt by default) over [since, now]."""
    window = Window(since=since, until=now or utcnow())
    prompt_id = find_prompt(session, name=prompt).id if prompt is not None else None
    query = select(ChangeRequest).order_by(col(ChangeRequest.id))
    if prompt_id is not None:
        query = query.where(ChangeRequest.prompt_id == prompt_id)
    changes = {c.id: c for c in session.exec(query).all() if c.id is not None}
    handoffs = _handoffs(session, prompt_id)
    stays = {cid: stays_of(list(rows)) for cid, rows in groupby(handoffs, lambda h: h.change_id)}
    handles = {i: h for i, h in session.exec(select(Member.id, Member.handle)).all() if i}
    in_window = [h for h in handoffs if window.contains(h.at)]
    counts = Counter(c.state for c in changes.values())
    return HandoffMetrics(
        since=iso(since) if since else None,
        until=iso(window.until),
        prompt=prompt,
        changes=ChangeCounts(
            total=len(changes),
            active=len({h.change_id for h in in_window}),
            by_state={s.value: counts[s.value] for s in State},
        ),
        states=[_state(state, stays, window) for state in WAITING_STATES],
        holders=_holders(changes, stays, handles, window),
        lead_time=_lead_time(handoffs, window),
        approval_wait=durations(
            s.seconds(window.until)
            for s in _all(stays)
            if s.state == State.AWAITING_APPROVAL.value
            and s.next_state in (State.APPROVED.value, State.REJECTED.value)
            and s.end is not None
            and window.contains(s.end)
        ),
        review_turnaround=_turnaround(session, prompt_id, handles, window),
        change_failure=_failure(session, prompt_id, window),
        sent_back=_sent_back(in_window),
    )


def _handoffs(session: Session, prompt_id: int | None) -> list[Handoff]:
    query = select(Handoff).order_by(col(Handoff.change_id), col(Handoff.id))
    if prompt_id is not None:
        query = query.join(ChangeRequest, col(ChangeRequest.id) == col(Handoff.change_id)).where(
            ChangeRequest.prompt_id == prompt_id
        )
    return list(session.exec(query).all())


def _all(stays: dict[int, list[Stay]]) -> list[Stay]:
    return [s for per_change in stays.values() for s in per_change]


def _state(state: str, stays: dict[int, list[Stay]], window: Window) -> StateMetrics:
    here = [s for s in _all(stays) if s.state == state]
    waiting = [s.seconds(window.until) for s in here if s.end is None]
    done = [s.seconds(window.until) for s in here if s.end is not None and window.contains(s.end)]
    return StateMetrics(
        state=state,
        holder=holder(State(state)),
        waiting_now=len(waiting),
        oldest_wait_s=round(max(waiting), 3) if waiting else None,
        time_in_state=durations(done),
    )


def _holders(
    changes: dict[int, ChangeRequest],
    stays: dict[int, list[Stay]],
    handles: dict[int, str],
    window: Window,
) -> list[HolderMetrics]:
    """Who held the changes: the state's holder, as ``change show`` names it, and the person
    when the role is one person here (the change's author; promptloop itself)."""
    held: dict[tuple[str, str | None], float] = defaultdict(float)
    waits: dict[tuple[str, str | None], list[float]] = defaultdict(list)
    for change_id, per_change in stays.items():
        change = changes[change_id]
        for stay in per_change:
            role = holder_of(change) if stay.end is None else holder(State(stay.state))
            if role == "-":
                continue
            person = {"author": handles.get(change.author_id), "system": SYSTEM_HANDLE}.get(role)
            key = (role, person)
            held[key] += window.clip(stay.start, stay.end or window.until)
            if stay.end is None:
                waits[key].append(stay.seconds(window.until))
    rows = [
        HolderMetrics(
            role=role,
            person=person,
            holding_now=len(waits[(role, person)]),
            longest_wait_s=round(max(waits[(role, person)]), 3) if waits[(role, person)] else None,
            held_s=round(seconds, 3),
        )
        for (role, person), seconds in held.items()
        if seconds > 0 or waits[(role, person)]
    ]
    return sorted(rows, key=lambda r: (-r.holding_now, -r.held_s, r.role, r.person or ""))


def _lead_time(handoffs: list[Handoff], window: Window) -> Durations:
    submitted = {h.change_id: h.at for h in handoffs if h.from_state is None}
    return durations(
        (h.at - submitted[h.change_id]).total_seconds()
        for h in handoffs
        if h.to_state == State.DEPLOYED.value and h.change_id in submitted and window.contains(h.at)
    )


def _turnaround(
    session: Session, prompt_id: int | None, handles: dict[int, str], window: Window
) -> list[ExpertTurnaround]:
    last_vote = func.max(Vote.created_at)
    query = (
        select(Review.created_at, Vote.member_id, last_vote)
        .join(ReviewItem, col(ReviewItem.review_id) == col(Review.id))
        .join(Vote, col(Vote.review_item_id) == col(ReviewItem.id))
        .group_by(col(Review.id), col(Review.created_at), col(Vote.member_id))
    )
    if prompt_id is not None:
        query = query.join(ChangeRequest, col(ChangeRequest.id) == col(Review.change_id)).where(
            ChangeRequest.prompt_id == prompt_id
        )
    per_expert: dict[str, list[float]] = defaultdict(list)
    for opened, member_id, voted in session.exec(query).all():
        if window.contains(voted):
            per_expert[handles.get(member_id, "?")].append((voted - opened).total_seconds())
    return [
        ExpertTurnaround(expert=expert, turnaround=durations(seconds))
        for expert, seconds in sorted(per_expert.items())
    ]


def _failure(session: Session, prompt_id: int | None, window: Window) -> ChangeFailure:
    query = (
        select(Deployment)
        .where(Deployment.kind == "deploy")
        .where(col(Deployment.change_id).is_not(None))
        .order_by(col(Deployment.id))
    )
    if prompt_id is not None:
        query = query.where(Deployment.prompt_id == prompt_id)
    deploys = [d for d in session.exec(query).all() if window.contains(d.created_at)]
    failed = failed_deploys(session, deploys)
    failures = [
        FailedDeploy(change_id=d.change_id or 0, deployment_id=d.id, why=failed[d.id])
        for d in deploys
        if d.id is not None and d.id in failed
    ]
    return ChangeFailure(
        deploys=len(deploys),
        failed=len(failures),
        rate=round(len(failures) / len(deploys), 4) if deploys else None,
        failures=failures,
    )


def _sent_back(in_window: list[Handoff]) -> SentBack:
    events = sorted(
        (h for h in in_window if h.to_state in SENT_BACK), key=lambda h: h.at, reverse=True
    )
    counts: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], list[str]] = defaultdict(list)
    for handoff in events:
        for category, said in reasons_of(handoff):
            key = (handoff.to_state, category)
            counts[key] += 1
            if said and len(examples[key]) < EXAMPLES and said not in examples[key]:
                examples[key].append(said)
    active = len({h.change_id for h in in_window})
    sent = len({h.change_id for h in events})
    return SentBack(
        changes=active,
        sent_back=sent,
        share=round(sent / active, 4) if active else None,
        by_kind=dict(Counter(h.to_state for h in events)),
        reasons=[
            SendBackReason(
                kind=kind, category=category, count=n, examples=examples[(kind, category)]
            )
            for (kind, category), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
    )
