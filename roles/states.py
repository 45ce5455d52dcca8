"""The change-request state machine as data: states, roles and the one transition table.

``TRANSITIONS`` is the single place that says which move is legal and who may make it;
``roles.transitions.transition`` is the single function that performs a move.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    SUBMITTED = "submitted"
    EVALUATING = "evaluating"
    EVAL_FAILED = "eval_failed"
    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    AWAITING_APPROVAL = "awaiting_approval"
    REJECTED = "rejected"
    APPROVED = "approved"
    DEPLOYED = "deployed"
    ROLLED_BACK = "rolled_back"
    WITHDRAWN = "withdrawn"


class Role(StrEnum):
    PM = "pm"
    EXPERT = "expert"
    ENGINEER = "engineer"
    DATA_SCIENTIST = "data_scientist"
    ADMIN = "admin"
    # The automation itself (eval flows, review quorum, deploys); held only by the
    # built-in member ``promptloop``.
    SYSTEM = "system"


PERSON_ROLES: tuple[Role, ...] = tuple(r for r in Role if r is not Role.SYSTEM)

# States in which a change still waits for something; its author (or an admin) may withdraw it.
OPEN_STATES: frozenset[State] = frozenset(
    {
        State.SUBMITTED,
        State.EVALUATING,
        State.EVAL_FAILED,
        State.IN_REVIEW,
        State.CHANGES_REQUESTED,
        State.AWAITING_APPROVAL,
    }
)


@dataclass(frozen=True)
class Rule:
    """Who may move a change from ``source`` to ``target``.

    Attributes:
        roles: the actor must hold one of these (the first one held is recorded).
        author_only: only the change's author may make this move.
        not_author: the change's author may never make this move (separation of duties).
        admin_with_reason: an admin may also make this move on anyone's change, giving a
            reason (a change whose author left the team must not stay open for ever).
    """

    source: State
    target: State
    roles: tuple[Role, ...]
    author_only: bool = False
    not_author: bool = False
    admin_with_reason: bool = False


S, R = State, Role
AUTHORS = (R.PM, R.EXPERT)

TRANSITIONS: tuple[Rule, ...] = (
    Rule(S.SUBMITTED, S.EVALUATING, (R.SYSTEM,)),
    Rule(S.EVALUATING, S.IN_REVIEW, (R.SYSTEM,)),
    Rule(S.EVALUATING, S.EVAL_FAILED, (R.SYSTEM,)),
    # A data scientist (or admin) out of review: the call on a review undecided at its cap.
    Rule(S.IN_REVIEW, S.AWAITING_APPROVAL, (R.SYSTEM, R.DATA_SCIENTIST, R.ADMIN), not_author=True),
    Rule(
        S.IN_REVIEW,
        S.CHANGES_REQUESTED,
        (R.SYSTEM, R.EXPERT, R.DATA_SCIENTIST, R.ADMIN),
        not_author=True,
    ),
    Rule(S.AWAITING_APPROVAL, S.APPROVED, (R.ENGINEER,), not_author=True),
    Rule(S.AWAITING_APPROVAL, S.REJECTED, (R.ENGINEER,), not_author=True),
    # Production moved since the evaluation: the evidence is stale, evaluate it again.
    Rule(S.AWAITING_APPROVAL, S.SUBMITTED, (R.SYSTEM,)),
    Rule(S.APPROVED, S.DEPLOYED, (R.SYSTEM, R.ENGINEER)),
    Rule(S.DEPLOYED, S.ROLLED_BACK, (R.ENGINEER, R.SYSTEM)),
    Rule(S.EVAL_FAILED, S.SUBMITTED, AUTHORS, author_only=True),
    Rule(S.CHANGES_REQUESTED, S.SUBMITTED, AUTHORS, author_only=True),
    *(
        Rule(s, S.WITHDRAWN, AUTHORS, author_only=True, admin_with_reason=True)
        for s in sorted(OPEN_STATES)
    ),
)

RULES: dict[tuple[State, State], Rule] = {(r.source, r.target): r for r in TRANSITIONS}


def rule_for(source: State, target: State) -> Rule | None:
    return RULES.get((source, target))


def holder(state: State) -> str:
    """Which role holds a change in this state now (who must act next)."""
    return _HOLDERS.get(state, "-")


_HOLDERS: dict[State, str] = {
    S.SUBMITTED: "system",
    S.EVALUATING: "system",
    S.EVAL_FAILED: "author",
    S.IN_REVIEW: "expert",
    S.CHANGES_REQUESTED: "author",
    S.AWAITING_APPROVAL: "engineer",
    S.APPROVED: "system",
    S.DEPLOYED: "-",
    S.REJECTED: "-",
    S.ROLLED_BACK: "-",
    S.WITHDRAWN: "-",
}
