"""What a deployment row says to the outside world: the deploy webhook's event.

    event = deployment_event(session, deployment_id=12)
    event["type"], event["to_version"]   # ("deployed", {"id": 4, "number": 2})

Plain data from the ledger; the integration adds where it comes from (the ledger's tag)
and the delivery id, serialises it once and signs it when it sends it.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from roles.approval.override import override_of
from roles.clock import iso
from roles.errors import NotFoundError
from roles.ledger import Deployment, Member, Prompt, PromptVersion

# A hand move of production (an admin's) is announced as a deploy, with ``manual`` set.
EVENT_TYPES = {"deploy": "deployed", "rollback": "rolled_back", "manual": "deployed"}


def deployment_event(session: Session, *, deployment_id: int) -> dict[str, Any]:
    """The event of one deploy or rollback: what moved, from where to where, who, when."""
    deployment = session.get(Deployment, deployment_id)
    if deployment is None:
        raise NotFoundError(f"no deployment {deployment_id}")
    prompt = session.get(Prompt, deployment.prompt_id)
    actor = session.get(Member, deployment.actor_id)
    assert prompt is not None and actor is not None
    event: dict[str, Any] = {
        "type": EVENT_TYPES[deployment.kind],
        "deployment_id": deployment.id,
        "at": iso(deployment.created_at),
        "prompt": prompt.name,
        "label": "production",
        "from_version": _version(session, deployment.from_version_id),
        "to_version": _version(session, deployment.to_version_id),
        "change_id": deployment.change_id,
        "actor": {"handle": actor.handle, "slack_user_id": actor.slack_user_id},
        "note": deployment.note,
        "override": None,
        "manual": deployment.kind == "manual",
    }
    if deployment.kind == "deploy" and deployment.change_id is not None:
        found = override_of(session, change_id=deployment.change_id)
        event["override"] = {"by": found[0], "reason": found[1]} if found else None
    return event


def _version(session: Session, version_id: int | None) -> dict[str, int] | None:
    version = session.get(PromptVersion, version_id) if version_id else None
    if version is None or version.id is None:
        return None
    return {"id": version.id, "number": version.number}
