"""``promptloop outbox``: the Slack messages promptloop has written, and where each stands.

promptloop outbox list --pending     # waiting to be delivered (or being sent)
promptloop outbox list --failed      # stopped by a permanent error (channel_not_found, ...)
promptloop outbox retry 12 14        # once fixed (the bot invited, the webhook up): send again
promptloop outbox retry --all-failed
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from promptloop.cli.common import JsonOpt
from promptloop.cli.output import ago, emit_json, out, say, table

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
        blocking: dict[str, int] = {}  # channel -> its first failed message: later ones wait
        for r in list_messages(session, statuses=("failed",)):
            if r.id is not None:
                blocking.setdefault(r.channel, r.id)
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
                _waits(r, blocking) or _summary(r.error, r.text),
            ]
            for r in rows
        ],
    )


@app.command("retry")
def retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Ids of failed messages.")] = None,
    all_failed: Annotated[
        bool, typer.Option("--all-failed", help="Every message that failed.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Send failed messages again, once what stopped them is fixed (serve delivers them)."""
    from integrations.db import session_scope
    from roles.clock import utcnow
    from roles.errors import InputError
    from roles.outbox import get_message, list_messages, requeue

    if bool(ids) == all_failed:
        raise InputError("give the ids of failed messages, or --all-failed (not both)")
    with session_scope() as session:
        if all_failed:
            ids = [m.id for m in list_messages(session, statuses=("failed",)) if m.id]
        wanted = list(dict.fromkeys(ids or []))
        for message_id in wanted:  # every id checked before any is requeued
            status = get_message(session, message_id=message_id).status
            if status != "failed":
                raise InputError(f"outbox message {message_id} is {status}, not failed")
        now = utcnow()
        requeued = [m for m in wanted if requeue(session, message_id=m, now=now)]
    if as_json:
        emit_json({"requeued": requeued})
    elif not requeued:
        say("no failed messages")
    else:
        out.print(f"pending again: {', '.join(map(str, requeued))} (serve delivers them)")


def _waits(row: Any, blocking: dict[str, int]) -> str | None:
    """Why a pending message does not go: a failed one before it on its channel."""
    head = blocking.get(row.channel)
    if row.status == "pending" and head is not None and row.id is not None and head < row.id:
        return f"waits behind failed message {head} (`promptloop outbox retry {head}`)"
    return None


def _summary(error: str | None, text: str) -> str:
    first = error or (text.splitlines()[0] if text else "")
    return first if len(first) <= 60 else first[:59] + "…"
