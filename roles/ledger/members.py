"""Team members and the roles they hold."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from roles.clock import utcnow
from roles.ledger.types import UTCDateTime


class Member(SQLModel, table=True):
    __tablename__ = "member"

    id: int | None = Field(default=None, primary_key=True)
    handle: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)
    slack_user_id: str | None = Field(default=None, index=True, max_length=64)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MemberRole(SQLModel, table=True):
    __tablename__ = "member_role"

    member_id: int = Field(foreign_key="member.id", primary_key=True, ondelete="CASCADE")
    role: str = Field(primary_key=True, max_length=32)
