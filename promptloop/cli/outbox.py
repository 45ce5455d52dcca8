"""``promptloop outbox``: the Slack messages promptloop has written, and where each stands.

promptloop outbox list --pending     # waiting to be delivered (or being sent)
promptloop outbox list --failed      # stopped by a permanent error (channel_not_found, ...)
"""

from __future__ import annotations

from typing import Annotated

import typer

from promptloop.cli.common import JsonOpt
from promptloop.cli.output import ago, emit_json, say, table

app = typer.Typer(help="The Slack outbox: every message, delivered or not.", no_args_is_help=True)


@app.command("list")
def list_(
    pending: Annotated[
        bool, typer.Option("--pending", help="Only messages not delivered yet.")
    ] = False,
    failed: Annotated[bool, typer.Option("--failed", help="Only messages that failed.")] = False,
    change: Annotated[
        int | None, typer.Option("--change", help="Only the messages of this change.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Messages in the order they were written: status, channel, Slack ts, the error."""
    from integrations.db import session_scope
    from roles.clock import utcnow
    from roles.outbox import list_messages

    statuses: tuple[str, ...] = ()
    if pending:
        statuses += ("pending", "sending")
    if failed:
        statuses += ("failed",)
    with session_scope() as session:
        rows = list_messages(session, statuses=statuses or None, change_id=change)
    if as_json:
        emit_json([r.model_dump(mode="json", exclude={"blocks"}) for r in rows])
        return
    if not rows:
        say("no messages match")
        return
    now = utcnow()
    table(
        None,
        ["id", "change", "kind", "channel", "status", "ts", "age", "text / error"],
        [
            [
                r.id,
                r.change_id or "-",
                r.kind,
                r.posted_channel or r.channel,
                r.status + (" (local)" if r.delivered_locally else ""),
                r.ts or "-",
                ago((now - r.created_at).total_seconds()),
                _summary(r.error, r.text),
            ]
            for r in rows
        ],
    )


def _summary(error: str | None, text: str) -> str:
    first = error or (text.splitlines()[0] if text else "")
    return first if len(first) <= 60 else first[:59] + "…"
