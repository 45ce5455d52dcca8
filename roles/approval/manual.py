"""Moving a label by hand (``prompt label NAME LABEL --version N --as HANDLE``).

Any person on the team may point a working label (``staging``, ``canary``) at a version.
``production`` is the loop's: it moves when an engineer approves a change, and by hand
only by an admin (a prompt's first production version, or a repair), and then it is a
deployment like a deploy or a rollback: a ``Deployment`` row of kind ``manual``, with the
same webhook event, so CI/CD and the metrics see every move of production.

    moved = move_label_by_hand(session, prompt="support-triage", label="production",
                               version=1, actor="lee", note="first production version")
    moved.deployment_id   # set for production
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from roles.clock import utcnow
from roles.errors import InputError, PolicyError, RoleError
from roles.ledger import Deployment
from roles.registry import PRODUCTION, find_prompt, label_target, move_label, resolve
from roles.roster import require_member, roles_of
from roles.states import PERSON_ROLES, Role
from roles.team_policy import cli_refusal
from roles.who import Who


@dataclass(frozen=True)
class HandMove:
    prompt: str
    label: str
    version: int
    from_version: int | None
    deployment_id: int | None  # production's move is a deployment of kind "manual"


def move_label_by_hand(
    session: Session,
    *,
    prompt: str,
    label: str,
    version: int,
    actor: str,
    note: str | None,
    who: Who | None = None,
) -> HandMove:
    """Point ``label`` at ``version`` as ``actor``; production needs an admin, and, under
    the team's identity policy ``slack``, a verified Slack user (``who``: the door's).

    Raises:
        RoleError: ``actor`` may not move this label (deactivated, or not an admin for
            production).
        PolicyError: production, from the CLI, where the identity policy wants Slack.
        InputError: the label points at that version already, or no such version.
    """
    member, _ = require_member(session, handle=actor, roles=PERSON_ROLES)  # active, on the team
    if label == PRODUCTION and Role.ADMIN not in roles_of(session, member_id=member.id or 0):
        raise RoleError(
            f"only an admin moves production by hand; '{actor}' is not one "
            "(production moves when an engineer approves a change)"
        )
    if label == PRODUCTION and who is not None:
        refused = cli_refusal(session, who=who, act="move production by hand")
        if refused is not None:
            raise PolicyError(refused)
    found = find_prompt(session, name=prompt)
    target = resolve(session, name=prompt, version=version)
    current = label_target(session, prompt=found, label=label)
    if current is not None and current.id == target.id:
        raise InputError(f"label '{label}' already points at version {version}")
    move_label(
        session, prompt=found, label=label, version=target, actor=member,
        expected_from=current.id if current else None,
        note=note or ("by hand (a manual deployment)" if label == PRODUCTION else None),
    )  # fmt: skip
    deployment_id = None
    if label == PRODUCTION:
        assert found.id is not None and target.id is not None and member.id is not None
        deployment = Deployment(
            prompt_id=found.id,
            kind="manual",
            from_version_id=current.id if current else None,
            to_version_id=target.id,
            actor_id=member.id,
            note=note,
            created_at=utcnow(),
        )
        session.add(deployment)
        session.flush()
        deployment_id = deployment.id
    return HandMove(
        prompt=prompt,
        label=label,
        version=target.number,
        from_version=current.number if current else None,
        deployment_id=deployment_id,
    )
