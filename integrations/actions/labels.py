"""Moving a label by hand. A hand move of ``production`` (an admin's) is a deployment of
kind ``manual``: the deploy webhook's event is queued with it and the deploy channel told,
in the same transaction.

    moved = move_label(Door.cli("lee"), prompt="support-triage", label="production", version=1)
"""

from __future__ import annotations

from integrations.actions.door import Door, acting
from roles.approval.manual import HandMove, move_label_by_hand


def move_label(
    door: Door, *, prompt: str, label: str, version: int, note: str | None = None
) -> HandMove:
    with acting(door) as session:
        actor = door.handle(session)
        moved = move_label_by_hand(
            session, prompt=prompt, label=label, version=version, actor=actor, note=note,
            who=door.who,
        )
        if moved.deployment_id is not None:
            from integrations.slack.notices import moved_by_hand

            moved_by_hand(session, moved, actor=actor)
    return moved
