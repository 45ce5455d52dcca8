"""``promptloop team``: load the roster from team.yaml and show it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from integrations.db import session_scope
from promptloop.cli.common import JsonOpt
from promptloop.cli.output import emit_json, say, table
from roles.roster import list_members, read_team_file, sync_team

app = typer.Typer(help="The team roster: who holds which role.", no_args_is_help=True)


@app.command("sync")
def sync(
    file: Annotated[Path, typer.Argument(help="A team.yaml with a 'people' list.")],
    as_json: JsonOpt = False,
) -> None:
    """Add and update people from FILE; anyone no longer listed is deactivated, not deleted."""
    people = read_team_file(file)
    with session_scope() as session:
        report = sync_team(session, people=people)
    data = {
        "added": report.added,
        "updated": report.updated,
        "deactivated": report.deactivated,
        "unchanged": report.unchanged,
    }
    if as_json:
        emit_json(data)
        return
    for key, handles in data.items():
        if handles:
            say(f"{key}: {', '.join(handles)}")
    if not any(data.values()):
        say("the team file lists nobody")


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
            "nobody on the team yet: `promptloop team sync team.yaml` or `promptloop init --sample`"
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
