"""The team roster: who is on the team, what roles they hold, and ``team.yaml`` sync.

A ``team.yaml`` lists people::

    people:
      - handle: maya
        name: Maya Chen
        roles: [pm]
        slack_user_id: U01MAYA
        email: maya@example.com

Sync adds and updates; a person no longer listed is deactivated, never deleted,
so their history keeps its names. Only an active admin changes the roster (the first
sync of a ledger without one makes its admins); every change (a member added,
deactivated or back, a role added or removed, a Slack id, a name, an email) is a
``roster_change`` row naming who made it, from where. One Slack user is one member,
deactivated members included, and the team always keeps an active admin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, select

from roles.clock import iso, utcnow
from roles.errors import InputError, PolicyError, RoleError
from roles.ledger import Member, MemberRole
from roles.roster_what import RosterWhat
from roles.states import PERSON_ROLES, Role
from roles.who import Who

if TYPE_CHECKING:
    from roles.ledger.team import RosterChange
    from roles.team_policy import Identity

SYSTEM_HANDLE = "promptloop"
HANDLE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    handle: str
    name: str = Field(min_length=1, max_length=200)
    roles: list[Role] = Field(min_length=1)
    slack_user_id: str | None = None
    email: str | None = None

    @field_validator("handle")
    @classmethod
    def _handle_shape(cls, value: str) -> str:
        if not HANDLE_PATTERN.match(value):
            raise ValueError("a handle is lowercase letters, digits, '.', '_' or '-'")
        if value == SYSTEM_HANDLE:
            raise ValueError(f"'{SYSTEM_HANDLE}' is reserved for the automation")
        return value

    @field_validator("roles")
    @classmethod
    def _person_roles(cls, value: list[Role]) -> list[Role]:
        if Role.SYSTEM in value:
            raise ValueError("'system' is reserved for the automation")
        return list(dict.fromkeys(value))


class TeamFile(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    people: list[Person]


def read_team_file(path: Path | str) -> list[Person]:
    """Parse and validate a team file; errors name the file and line."""
    from roles.yamlfile import load_yaml  # PyYAML: only when a team file is read

    doc = load_yaml(path)
    if not isinstance(doc.data, dict):
        raise InputError(f"{doc.source}: a team file is a mapping with a 'people' list")
    team = doc.validate(TeamFile)
    seen: dict[str, int] = {}
    slack_ids: dict[str, str] = {}
    for index, person in enumerate(team.people):
        if person.handle in seen:
            raise InputError(
                f"{doc.where(('people', index))}: handle '{person.handle}' is listed twice"
            )
        seen[person.handle] = index
        if person.slack_user_id:
            other = slack_ids.setdefault(person.slack_user_id, person.handle)
            if other != person.handle:
                raise InputError(
                    f"{doc.where(('people', index, 'slack_user_id'))}: slack_user_id "
                    f"{person.slack_user_id} is already that of '{other}'; one Slack user is one person"
                )
    return team.people


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    changes: int = 0  # roster_change rows written


@dataclass(frozen=True)
class _Step:
    handle: str
    what: RosterWhat
    old: str | None = None
    new: str | None = None


@dataclass
class _Final:
    """A member as they would be after the sync."""

    active: bool
    roles: set[Role]
    slack_user_id: str | None


class DeactivatedError(RoleError):
    """The actor is on the team but deactivated: they are told so, not that they lack a role."""


def sync_team(
    session: Session,
    *,
    people: list[Person],
    who: Who | None = None,
    deactivate_missing: bool = True,
    add_only: bool = False,
    now: datetime | None = None,
) -> SyncReport:
    """Add and update ``people``; deactivate active members not listed (unless told not to).

    Every change is a ``roster_change`` row naming ``who`` (an active admin: needed unless
    the ledger has no people yet, whose first sync makes its admins). With ``add_only``
    (the sample, ``who`` None), people already on the team are left exactly as they are,
    and nobody is added to a team that has people already.

    Raises:
        InputError: a file listing nobody, a first sync without an admin, a Slack user id
            another member holds (a deactivated one too: reactivating would collide).
        RoleError: ``who`` is not an active admin, or nobody is named on a team with people.
        PolicyError: the team's identity policy is slack and ``who`` is not a Slack user;
            the sync would leave no active admin.
    """
    from roles.ledger.team import RosterChange

    now = now or utcnow()
    members = {
        m.handle: m for m in session.exec(select(Member)).all() if m.handle != SYSTEM_HANDLE
    }
    held: dict[int, set[Role]] = {}
    for row in session.exec(select(MemberRole)).all():  # one query, not one per member
        held.setdefault(row.member_id, set()).add(Role(row.role))
    final = {
        h: _Final(m.active, held.get(_id(m), set()), m.slack_user_id) for h, m in members.items()
    }
    # No active admin: an empty ledger, or one from before admins were required. Its sync
    # makes the admins (and from then on the team never has none).
    first = not any(f.active and Role.ADMIN in f.roles for f in final.values())
    if not people:
        active = sum(m.active for m in members.values())
        if not members or (deactivate_missing and active):
            raise InputError(
                f"the team file lists nobody; refusing to deactivate all {active} members"
                if members
                else "the team file lists nobody; a first sync makes the team's admins: "
                "list at least one person with the admin role"
            )
        return SyncReport()
    _refuse_shared_slack_ids(people)
    steps, report = _plan(people, members, final, deactivate_missing, add_only)
    actor = _roster_actor(session, who=who, first=first, steps=steps, add_only=add_only)
    _refuse_slack_collisions(people, final)
    _refuse_no_admin(steps, final, first=first)
    _apply(session, people=people, members=members, steps=steps, now=now)
    by_handle = {m.handle: m for m in session.exec(select(Member)).all()}
    for step in steps:
        session.add(
            RosterChange(
                actor_id=actor.id if actor else None,
                member_id=by_handle[step.handle].id,
                what=step.what.value,
                old_value=step.old,
                new_value=step.new,
                source=who.source if who else "sample",
                os_user=who.os_user if who else None,
                host=who.host if who else None,
                created_at=now,
            )
        )
    session.flush()
    report.changes = len(steps)
    return report


def _plan(
    people: list[Person],
    members: dict[str, Member],
    final: dict[str, _Final],
    deactivate_missing: bool,
    add_only: bool,
) -> tuple[list[_Step], SyncReport]:
    """What the sync would change, step by step, and ``final`` updated to match."""
    steps: list[_Step] = []
    report = SyncReport()
    order = {role: i for i, role in enumerate(Role)}
    for person in people:
        member = members.get(person.handle)
        if member is not None and add_only:
            report.unchanged.append(person.handle)
            continue
        wanted = set(person.roles)
        mine: list[_Step] = []
        if member is None:
            mine.append(_Step(person.handle, RosterWhat.MEMBER_ADDED, None, person.name))
            held: set[Role] = set()
            was_name = was_email = was_slack = None
        else:
            held = final[person.handle].roles
            was_name, was_email, was_slack = member.name, member.email, member.slack_user_id
            if not member.active:
                mine.append(_Step(person.handle, RosterWhat.REACTIVATED))
        if member is not None and was_name != person.name:
            mine.append(_Step(person.handle, RosterWhat.NAME, was_name, person.name))
        if was_email != person.email:
            mine.append(_Step(person.handle, RosterWhat.EMAIL, was_email, person.email))
        if was_slack != person.slack_user_id:
            mine.append(
                _Step(person.handle, RosterWhat.SLACK_USER_ID, was_slack, person.slack_user_id)
            )
        for role in sorted(wanted - held, key=order.__getitem__):
            mine.append(_Step(person.handle, RosterWhat.ROLE_ADDED, None, role.value))
        for role in sorted(held - wanted, key=order.__getitem__):
            mine.append(_Step(person.handle, RosterWhat.ROLE_REMOVED, role.value, None))
        final[person.handle] = _Final(True, wanted, person.slack_user_id)
        if member is None:
            report.added.append(person.handle)
        elif mine:
            report.updated.append(person.handle)
        else:
            report.unchanged.append(person.handle)
        steps += mine
    listed = {p.handle for p in people}
    if deactivate_missing:
        for handle, member in members.items():
            if handle not in listed and member.active:
                steps.append(_Step(handle, RosterWhat.DEACTIVATED))
                final[handle].active = False
                report.deactivated.append(handle)
    return steps, report


def _roster_actor(
    session: Session, *, who: Who | None, first: bool, steps: list[_Step], add_only: bool
) -> Member | None:
    """The admin making the change (None: the first sync, or nothing changes)."""
    from roles.team_policy import cli_refusal

    named = who is not None and (who.handle is not None or who.slack_user_id is not None)
    if first or (not steps and not named):
        return None
    if who is None or not named:
        adds = sorted({s.handle for s in steps if s.what is RosterWhat.MEMBER_ADDED})
        if add_only and adds:
            raise RoleError(
                f"the sample team would add {', '.join(adds)} to a team that has people "
                "already, and only an admin changes the roster: load the sample on a new "
                "ledger, or `promptloop team sync FILE --as ADMIN`"
            )
        raise RoleError(
            "the team has people already: changing the roster needs an active admin "
            "(`promptloop team sync FILE --as ADMIN`)"
        )
    member = member_of(session, who=who)
    if Role.ADMIN not in roles_of(session, member_id=_id(member)):
        raise RoleError(f"'{member.handle}' needs the admin role to change the roster")
    refusal = cli_refusal(session, who=who, act="change the roster")
    if refusal is not None:
        raise PolicyError(
            f"{refusal}: an admin first runs `promptloop team policy --identity cli --as "
            "ADMIN` (recorded), syncs, and sets it back to slack"
        )
    return member


def _refuse_slack_collisions(people: list[Person], final: dict[str, _Final]) -> None:
    """One Slack user is one member, deactivated ones included (reactivating them would
    give two members one Slack identity)."""
    holders: dict[str, list[str]] = {}
    for handle, state in final.items():
        if state.slack_user_id:
            holders.setdefault(state.slack_user_id, []).append(handle)
    for person in people:
        slack_id = person.slack_user_id
        others = [h for h in holders.get(slack_id or "", []) if h != person.handle]
        if slack_id and others:
            holder = others[0]
            gone = "" if final[holder].active else " (deactivated: reactivating them would collide)"
            raise InputError(
                f"slack_user_id {slack_id} of '{person.handle}' already belongs to "
                f"'{holder}'{gone}; one Slack user is one person"
            )


def _refuse_no_admin(steps: list[_Step], final: dict[str, _Final], *, first: bool) -> None:
    if not steps or any(s.active and Role.ADMIN in s.roles for s in final.values()):
        return
    if first:
        raise InputError(
            "a first sync makes the team's admins: give at least one person the admin role"
        )
    lost = [
        f"{s.handle} deactivated" if s.what is RosterWhat.DEACTIVATED else f"{s.handle}'s "
        "admin role removed"
        for s in steps
        if s.what is RosterWhat.DEACTIVATED
        or (s.what is RosterWhat.ROLE_REMOVED and s.old == Role.ADMIN.value)
    ]
    raise PolicyError(
        "refusing to leave the team with no active admin"
        + (f" ({', '.join(lost)})" if lost else "")
        + ": keep at least one person with the admin role"
    )


def _apply(
    session: Session,
    *,
    people: list[Person],
    members: dict[str, Member],
    steps: list[_Step],
    now: datetime,
) -> None:
    touched = {s.handle for s in steps}
    for person in people:
        if person.handle not in touched:
            continue
        member = members.get(person.handle)
        if member is None:
            member = Member(handle=person.handle, name=person.name, created_at=now)
            session.add(member)
            session.flush()
        member.name, member.email = person.name, person.email
        member.slack_user_id, member.active = person.slack_user_id, True
        member.updated_at = now
        _set_roles(session, member_id=_id(member), roles=person.roles)
    for step in steps:
        if step.what is RosterWhat.DEACTIVATED:
            gone = members[step.handle]
            gone.active, gone.updated_at = False, now
    session.flush()


def _refuse_shared_slack_ids(people: list[Person]) -> None:
    """One Slack identity is one person: otherwise a click could act as someone else."""
    owners: dict[str, str] = {}
    for person in people:
        if person.slack_user_id:
            other = owners.setdefault(person.slack_user_id, person.handle)
            if other != person.handle:
                raise InputError(
                    f"slack_user_id {person.slack_user_id} is given to both '{other}' and "
                    f"'{person.handle}'; one Slack user is one person"
                )


def set_identity(
    session: Session, *, identity: Identity, who: Who, now: datetime | None = None
) -> RosterChange | None:
    """Set the team's identity policy as ``who`` (an active admin); the change is recorded
    with its old and new value. None: it was set to that already.

    From the CLI this is allowed under ``identity: slack`` too: it is how an admin opens
    the roster to the CLI, and the row (with the OS user and host) says who did.
    """
    from roles.ledger.team import RosterChange
    from roles.team_policy import set_identity_setting, team_policy

    now = now or utcnow()
    member = member_of(session, who=who)
    if Role.ADMIN not in roles_of(session, member_id=_id(member)):
        raise RoleError(f"'{member.handle}' needs the admin role to set the identity policy")
    before = team_policy(session)
    if before.explicit and before.identity is identity:
        return None
    set_identity_setting(session, identity=identity, by=member, now=now)
    row = RosterChange(
        actor_id=member.id,
        member_id=None,
        what=RosterWhat.IDENTITY_POLICY.value,
        old_value=before.identity.value + ("" if before.explicit else " (default)"),
        new_value=identity.value,
        source=who.source,
        os_user=who.os_user,
        host=who.host,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def roster_log(session: Session, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Every roster and policy change, oldest first (the last ``limit`` of them)."""
    from roles.ledger.team import RosterChange

    query = select(RosterChange).order_by(col(RosterChange.id).desc())
    if limit is not None:
        query = query.limit(limit)
    rows = list(reversed(session.exec(query).all()))
    ids = {r.actor_id for r in rows} | {r.member_id for r in rows}
    handles = {
        m.id: m.handle for m in session.exec(select(Member).where(col(Member.id).in_(ids)))
    }
    return [
        {
            "id": r.id,
            "at": iso(r.created_at),
            "by": handles.get(r.actor_id) if r.actor_id else None,
            "member": handles.get(r.member_id) if r.member_id else None,
            "what": r.what,
            "old": r.old_value,
            "new": r.new_value,
            "source": r.source,
            "os_user": r.os_user,
            "host": r.host,
        }
        for r in rows
    ]


def member_of(session: Session, *, who: Who) -> Member:
    """The active member ``who`` names (a handle, or a verified Slack user)."""
    if who.slack_user_id is not None:
        member = member_for_slack_user(session, slack_user_id=who.slack_user_id)
    elif who.handle is not None:
        member = find_member(session, handle=who.handle)
    else:
        raise RoleError("who is acting? give --as HANDLE")
    if not member.active:
        raise DeactivatedError(f"'{member.handle}' is deactivated and cannot act")
    return member


def _set_roles(session: Session, *, member_id: int, roles: list[Role]) -> None:
    current = {
        r.role: r
        for r in session.exec(select(MemberRole).where(MemberRole.member_id == member_id)).all()
    }
    for name, row in current.items():
        if name not in roles:
            session.delete(row)
    for role in roles:
        if role.value not in current:
            session.add(MemberRole(member_id=member_id, role=role.value))
    session.flush()


def roles_of(session: Session, *, member_id: int) -> list[Role]:
    rows = session.exec(select(MemberRole.role).where(MemberRole.member_id == member_id)).all()
    order = {role: i for i, role in enumerate(Role)}
    return sorted((Role(r) for r in rows), key=order.__getitem__)


def find_member(session: Session, *, handle: str) -> Member:
    member = session.exec(select(Member).where(Member.handle == handle)).first()
    if member is None:
        raise RoleError(f"'{handle}' is not on the team (see `promptloop team list`)")
    return member


def member_for_slack_user(session: Session, *, slack_user_id: str) -> Member:
    """The member whose ``slack_user_id`` it is: how a click in Slack names its actor."""
    member = session.exec(
        select(Member)
        .where(Member.slack_user_id == slack_user_id)
        .order_by(col(Member.active).desc())  # a ledger from before ids were kept unique
    ).first()
    if member is None:
        raise RoleError(
            f"Slack user {slack_user_id} is not on the team: add their slack_user_id "
            "to the team file (`promptloop team sync`)"
        )
    return member


def require_member(
    session: Session, *, handle: str, roles: tuple[Role, ...]
) -> tuple[Member, Role]:
    """The active member ``handle`` and the first of ``roles`` they hold, or a RoleError."""
    member = find_member(session, handle=handle)
    if not member.active:
        raise DeactivatedError(f"'{handle}' is deactivated and cannot act")
    held = roles_of(session, member_id=_id(member))
    for role in roles:
        if role in held:
            return member, role
    wanted = " or ".join(r.value for r in roles)
    raise RoleError(f"'{handle}' needs the {wanted} role for this")


def system_member(session: Session) -> Member:
    return find_member(session, handle=SYSTEM_HANDLE)


def list_members(
    session: Session, *, include_system: bool = False
) -> list[tuple[Member, list[Role]]]:
    members = session.exec(select(Member).order_by(col(Member.handle))).all()
    return [
        (m, roles_of(session, member_id=_id(m)))
        for m in members
        if include_system or m.handle != SYSTEM_HANDLE
    ]


def _id(row: Member) -> int:
    assert row.id is not None, "flush before reading ids"
    return row.id


__all__ = [
    "PERSON_ROLES",
    "SYSTEM_HANDLE",
    "DeactivatedError",
    "Person",
    "SyncReport",
    "find_member",
    "list_members",
    "member_for_slack_user",
    "member_of",
    "read_team_file",
    "require_member",
    "roles_of",
    "roster_log",
    "set_identity",
    "sync_team",
    "system_member",
]
