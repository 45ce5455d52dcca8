"""The admins' acts: sync the roster from a team file, set the team's identity policy.

    report = sync(Door.cli("lee"), people=read_team_file("team.yaml"))
    set_identity(Door.cli("lee"), identity=Identity.SLACK)

Every change is a ``roster_change`` row (``roles.roster``); the door also announces it in
the engineers' channel, in the same transaction, so a role granted from a shell is seen
by the team in Slack, not only in ``team log``: the CLI's ``--as`` proves only the OS user.
"""

from __future__ import annotations

from sqlmodel import Session

from integrations.actions.door import Door, acting
from roles.ledger import RosterChange
from roles.roster import Person, SyncReport, roster_log, sync_team
from roles.roster import set_identity as set_identity_in_ledger
from roles.team_policy import Identity


def sync(door: Door, *, people: list[Person]) -> SyncReport:
    """Add and update ``people``; deactivate those no longer listed (an admin)."""
    with acting(door) as session:
        report = sync_team(session, people=people, who=door.who)
        _announce(session, door, changes=report.changes)
    return report


def set_identity(door: Door, *, identity: Identity) -> RosterChange | None:
    """Set the team's identity policy (an admin); None: it was that already."""
    with acting(door) as session:
        changed = set_identity_in_ledger(session, identity=identity, who=door.who)
        _announce(session, door, changes=1 if changed is not None else 0)
    return changed


def _announce(session: Session, door: Door, *, changes: int) -> None:
    """The last ``changes`` roster rows, said in the engineers' channel (one notice)."""
    if changes == 0:
        return
    from integrations.slack.blocks import notice
    from integrations.slack.post import channel_for, post_message
    from roles.ledger import OutboxKind

    rows = roster_log(session, limit=changes)
    by = rows[-1]["by"] or "the first sync"
    where = door.who.source + (
        f" ({door.who.os_user}@{door.who.host})" if door.who.source == "cli" else ""
    )
    lines = [
        f"{r['member'] or 'team'}: {r['what']} {r['old'] or ''} → {r['new'] or ''}".strip()
        for r in rows[:12]
    ]
    post_message(
        session,
        kind=OutboxKind.NOTICE,
        message=notice(f"Roster changed by {by} from {where}: {changes} change(s)", lines),
        key=f"notice:roster:{rows[-1]['id']}",
        channel=channel_for(OutboxKind.DEPLOY_REQUEST),
    )
