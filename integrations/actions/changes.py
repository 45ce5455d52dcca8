"""The author's acts: submit a change, revise it, withdraw it (an admin may close anyone's).

    change = submit(Door.cli("maya"), doc=doc, note="few-shot examples")
    withdraw(Door.cli("maya"), change_id=change.id)

Submitting writes the change and its first handoff; its pipeline run is created by the
door that submitted (the CLI through serve, the gateway after its ack). Withdrawing ends
the change everywhere it shows: its open review is closed (the items leave the experts'
queues, the Slack messages lose their buttons and say why), and its run ends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from integrations.actions.door import Door, acting
from integrations.actions.outcomes import retell
from roles.clock import utcnow
from roles.ledger import ChangeRequest
from roles.pm import revise_change, submit_doc, withdraw_change
from roles.prompt_file import PromptSpec

if TYPE_CHECKING:
    from roles.yamlfile import YamlDoc


def submit(
    door: Door, *, doc: YamlDoc, note: str | None = None, not_evaluated: str | None = None
) -> ChangeRequest:
    """Propose the document's prompt as the next production version."""
    with acting(door) as session:
        return submit_doc(
            session, doc=doc, author=door.handle(session), note=note, not_evaluated=not_evaluated
        )


def revise(
    door: Door,
    *,
    change_id: int,
    spec: PromptSpec,
    note: str | None = None,
    not_evaluated: str | None = None,
) -> ChangeRequest:
    """A new candidate for a change the loop sent back; it runs the loop again."""
    with acting(door) as session:
        return revise_change(
            session, change_id=change_id, spec=spec, author=door.handle(session), note=note,
            not_evaluated=not_evaluated,
        )  # fmt: skip


def withdraw(door: Door, *, change_id: int, reason: str | None = None) -> ChangeRequest:
    """Close an open change (its author; an admin giving ``reason``), and its review: the
    items leave every queue, and the Slack messages lose their buttons and say why."""
    from integrations.slack.review import close_ended_review

    with acting(door) as session:
        change = withdraw_change(
            session, change_id=change_id, author=door.handle(session), note=reason
        )
        close_ended_review(session, change_id=change_id, now=utcnow())
    door.wake(change_id, reason="the change was withdrawn")
    retell(change_id)
    return change
