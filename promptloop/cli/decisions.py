"""The engineers' CLI twins: ``change approve``, ``change reject``, ``prompt rollback``.

Same rules and ledger as the Slack buttons. The CLI's ``--as`` is trusted, so each
decision also records the OS user and host that typed it; a prompt whose policy wants
approvals from Slack only refuses them here (and the refusal is recorded).
"""

from __future__ import annotations

import getpass
import socket
from typing import Annotated, Any

import typer

from integrations.db import session_scope
from promptloop.cli.common import ActorOpt, JsonOpt
from promptloop.cli.output import emit_json, say
from roles.errors import PolicyError

IdArg = Annotated[int, typer.Argument(metavar="ID")]


def who(actor: str) -> object:
    from roles.engineer import Who

    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container): still say something
        os_user = "?"
    return Who(handle=actor, source="cli", os_user=os_user, host=socket.gethostname())


def _slack_configured() -> bool:
    from integrations.settings import get_settings

    return get_settings().slack_bot_token is not None


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
    from roles.engineer import approve

    _decide(approve, change_id, actor, as_json=as_json, override_reason=override_reason)


def reject(
    change_id: IdArg,
    actor: ActorOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why: the author reads it.")],
    as_json: JsonOpt = False,
) -> None:
    """Reject a change's deploy (engineer; never its author), with the reason."""
    from roles.engineer import reject

    _decide(reject, change_id, actor, as_json=as_json, reason=reason)


def _decide(decide: Any, change_id: int, actor: str, *, as_json: bool, **options: Any) -> None:
    """One decision in one transaction, with Slack's messages following it."""
    from integrations.slack.notices import after_decision
    from roles.clock import utcnow

    with session_scope() as session:
        outcome = decide(
            session,
            change_id=change_id,
            who=who(actor),
            now=utcnow(),
            slack_configured=_slack_configured(),
            **options,
        )
        after_decision(session, outcome)
    _report(outcome, as_json=as_json)


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

    from integrations.slack.notices import rolled_back
    from roles.clock import utcnow
    from roles.engineer import rollback

    with session_scope() as session:
        result = rollback(
            session, prompt=name, actor=actor, now=utcnow(), to_version=to, reason=reason
        )
        rolled_back(session, result, actor=actor, reason=reason)
    if as_json:
        emit_json(asdict(result))
    else:
        changed = f" (change {result.change_id} rolled back)" if result.change_id else ""
        say(f"production of {name}: v{result.from_version} → v{result.to_version}{changed}")
