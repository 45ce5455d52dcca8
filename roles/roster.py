"""The team roster: who is on the team, what roles they hold, and ``team.yaml`` sync.

A ``team.yaml`` lists people::

    people:
      - handle: maya
        name: Maya Chen
        roles: [pm]
        slack_user_id: U01MAYA
        email: maya@example.com

Sync adds and updates; a person no longer listed is deactivated, never deleted,
so their history keeps its names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, select

from roles.clock import utcnow
from roles.errors import InputError, RoleError
from roles.ledger import Member, MemberRole
from roles.states import PERSON_ROLES, Role

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
                    f"{person.slack_user_id} is already '{other}''s; one Slack user is one person"
                )
    return team.people


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def sync_team(
    session: Session,
    *,
    people: list[Person],
    deactivate_missing: bool = True,
    add_only: bool = False,
) -> SyncReport:
    """Add and update ``people``; deactivate active members not listed (unless told not to).

    With ``add_only`` (the sample), people already on the team are left exactly as they are.
    """
    report = SyncReport()
    listed = {p.handle for p in people}
    _refuse_shared_slack_ids(session, people=people)
    for person in people:
        member = session.exec(select(Member).where(Member.handle == person.handle)).first()
        if member is not None and add_only:
            report.unchanged.append(person.handle)
            continue
        if member is None:
            member = Member(handle=person.handle, name=person.name)
            session.add(member)
            session.flush()
            report.added.append(person.handle)
            changed = False
        else:
            changed = (
                member.name != person.name
                or member.email != person.email
                or member.slack_user_id != person.slack_user_id
                or not member.active
                or set(roles_of(session, member_id=_id(member))) != set(person.roles)
            )
        member.name, member.email = person.name, person.email
        member.slack_user_id, member.active = person.slack_user_id, True
        if changed:
            member.updated_at = utcnow()
            report.updated.append(person.handle)
        elif person.handle not in report.added:
            report.unchanged.append(person.handle)
        _set_roles(session, member_id=_id(member), roles=person.roles)
    missing = (
        session.exec(select(Member).where(col(Member.active))).all() if deactivate_missing else []
    )
    for member in missing:
        if member.handle not in listed and member.handle != SYSTEM_HANDLE:
            member.active = False
            member.updated_at = utcnow()
            report.deactivated.append(member.handle)
    session.flush()
    return report


def _refuse_shared_slack_ids(session: Session, *, people: list[Person]) -> None:
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
    for person in people:
        if not person.slack_user_id:
            continue
        holder = session.exec(
            select(Member)
            .where(Member.slack_user_id == person.slack_user_id)
            .where(Member.handle != person.handle)
            .where(col(Member.active))
        ).first()
        if holder is not None and holder.handle not in {p.handle for p in people}:
            raise InputError(
                f"slack_user_id {person.slack_user_id} of '{person.handle}' already belongs to "
                f"'{holder.handle}'"
            )


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
    member = session.exec(select(Member).where(Member.slack_user_id == slack_user_id)).first()
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
        raise RoleError(f"'{handle}' is deactivated and cannot act")
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
    "Person",
    "SyncReport",
    "find_member",
    "list_members",
    "member_for_slack_user",
    "read_team_file",
    "require_member",
    "roles_of",
    "sync_team",
    "system_member",
]
