"""The engineers' CLI twins: ``change approve``, ``change reject``, ``prompt rollback``.

They translate the command line into the one door of each act (``integrations.actions``),
the same the Slack buttons use. The CLI's ``--as`` proves nothing beyond the OS user, so
each decision also records the OS user and host that typed it; the team's identity policy
(``promptloop team policy``) may refuse the CLI, and the refusal is recorded.
"""

from __future__ import annotations

from typing import Annotated

import typer

from promptloop.cli.common import ActorOpt, JsonOpt
from promptloop.cli.output import emit_json, say
from roles.errors import PolicyError

IdArg = Annotated[int, typer.Argument(metavar="ID")]


def approve(
    change_id: IdArg,
    actor: ActorOpt,
    override_reason: Annotated[
        str | None,
        typer.Option("--override-reason", help="Approve over an inconclusive gate, saying why."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve a change's deploy (engineer; never its author); the last needed approval deploys."""
    from integrations.actions.deploys import approve
    from integrations.actions.door import Door

    _report(
        approve(Door.cli(actor), change_id=change_id, override_reason=override_reason),
        as_json=as_json,
    )


def reject(
    change_id: IdArg,
    actor: ActorOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why: the author reads it.")],
    as_json: JsonOpt = False,
) -> None:
    """Reject a change's deploy (engineer; never its author), with the reason."""
    from integrations.actions.deploys import reject
    from integrations.actions.door import Door

    _report(reject(Door.cli(actor), change_id=change_id, reason=reason), as_json=as_json)


def _report(outcome: object, *, as_json: bool) -> None:
    from roles.engineer import ApprovalOutcome

    assert isinstance(outcome, ApprovalOutcome)
    if as_json:
        emit_json(outcome.model_dump(mode="json"))
    elif outcome.decision != "refused":
        say(outcome.message)
    if outcome.decision == "refused":  # recorded (committed), and still a refusal: exit 1
        raise PolicyError(f"refused: {outcome.message} (the attempt is recorded)")


def rollback(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    actor: ActorOpt,
    to: Annotated[
        int | None,
        typer.Option("--to", help="The version (default: what the last deploy replaced)."),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the record.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Move production back (engineer): a deployment row, the change rolled back, Slack told."""
    from dataclasses import asdict

    from integrations.actions.deploys import roll_back
    from integrations.actions.door import Door

    result = roll_back(Door.cli(actor), prompt=name, to_version=to, reason=reason)
    if result.refused is not None:  # recorded (committed), and still a refusal: exit 1
        raise PolicyError(f"refused: {result.refused} (the attempt is recorded)")
    if as_json:
        emit_json(asdict(result))
    else:
        changed = f" (change {result.change_id} rolled back)" if result.change_id else ""
        say(f"production of {name}: v{result.from_version} → v{result.to_version}{changed}")
