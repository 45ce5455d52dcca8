"""``promptloop team``: the roster from team.yaml (changed by admins, every change
recorded), its history, and the team's identity policy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from integrations.db import session_scope
from promptloop.cli.common import JsonOpt
from promptloop.cli.output import emit_json, out, say, table
from roles.errors import InputError
from roles.roster import list_members, read_team_file

app = typer.Typer(
    help="The team roster (changed by admins, every change in team log) and its identity policy.",
    no_args_is_help=True,
)


AdminOpt = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Your handle: an active admin (not needed for the first sync of an empty ledger).",
    ),
]


@app.command("sync")
def sync(
    file: Annotated[Path, typer.Argument(help="A team.yaml with a 'people' list.")],
    actor: AdminOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add and update people from FILE (an admin; every change recorded, see `team log`);
    anyone no longer listed is deactivated, not deleted."""
    from integrations.actions.door import Door
    from integrations.actions.roster import sync as sync_roster

    people = read_team_file(file)
    try:
        report = sync_roster(Door.cli(actor), people=people)
    except InputError as exc:  # the file's fault: say which file
        raise InputError(f"{file}: {exc.message}") from None
    lists = {
        "added": report.added,
        "updated": report.updated,
        "deactivated": report.deactivated,
        "unchanged": report.unchanged,
    }
    if as_json:
        emit_json({**lists, "changes": report.changes})
        return
    for key, handles in lists.items():
        if handles:
            say(f"{key}: {', '.join(handles)}")
    if report.changes:
        say(f"{report.changes} roster change(s) recorded: `promptloop team log`")


@app.command("log")
def log(
    last: Annotated[int | None, typer.Option("--last", help="Only the last N changes.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every roster and policy change: who made it, to whom, what, old and new, from where."""
    from roles.roster import roster_log

    with session_scope() as session:
        rows = roster_log(session, limit=last)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        say("no roster changes recorded yet")
        return
    table(
        None,
        ["at", "by", "member", "what", "old", "new", "from"],
        [
            [
                r["at"],
                r["by"] or "(first sync)" if r["source"] != "sample" else "(sample)",
                r["member"],
                r["what"],
                r["old"],
                r["new"],
                _where(r),
            ]
            for r in rows
        ],
    )


def _where(row: dict[str, Any]) -> str:
    if row["source"] == "cli" and (row["os_user"] or row["host"]):
        return f"cli: {row['os_user'] or '?'}@{row['host'] or '?'}"
    return str(row["source"])


@app.command("policy")
def policy(
    identity: Annotated[
        str | None,
        typer.Option(
            "--identity",
            help="Set it: 'slack' (decisions and roster changes from verified Slack users "
            "only) or 'cli' (the CLI's --as is trusted, the OS user recorded). Admin only.",
        ),
    ] = None,
    actor: AdminOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What the CLI's --as proves and what the team's identity policy enforces; set it."""
    from roles.team_policy import describe, parse_identity, policy_json, team_policy

    changed = None
    if identity is not None:
        wanted = parse_identity(identity)
        if actor is None:
            raise InputError("setting the identity policy needs --as ADMIN")
        from integrations.actions.door import Door
        from integrations.actions.roster import set_identity

        changed = set_identity(Door.cli(actor), identity=wanted)
    with session_scope() as session:
        current = team_policy(session)
    if as_json:
        emit_json({**policy_json(current), "changed": changed is not None})
        return
    if identity is not None:
        say(
            f"identity policy is now {current.identity.value} (recorded: `promptloop team log`)"
            if changed is not None
            else f"identity policy was {current.identity.value} already; nothing changed"
        )
    for line in describe(current):  # the policy itself is the command's output: stdout
        out.print(line)


@app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Include deactivated members.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show the team: handle, name, roles, Slack id, email, active."""
    with session_scope() as session:
        members = list_members(session)
    rows: list[dict[str, Any]] = [
        {
            "handle": m.handle,
            "name": m.name,
            "roles": [r.value for r in roles],
            "slack_user_id": m.slack_user_id,
            "email": m.email,
            "active": m.active,
        }
        for m, roles in members
        if all_ or m.active or as_json
    ]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        say(
            "nobody on the team yet: `promptloop team sync team.yaml` (its first sync makes "
            "the admins) or `promptloop init --sample`"
        )
        return
    table(
        None,
        ["handle", "name", "roles", "slack", "email", "active"],
        [
            [
                r["handle"],
                r["name"],
                ", ".join(r["roles"]),
                r["slack_user_id"],
                r["email"],
                "yes" if r["active"] else "no",
            ]
            for r in rows
        ],
    )
