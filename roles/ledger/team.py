"""The roster's history and the team's settings.

Every change of who is on the team, which roles they hold, which Slack user is theirs,
and of the team's identity policy is a ``RosterChange`` row: who made it (none for the
first sync of an empty ledger, which makes its admins), to whom, what, the old and new
value, and from where (the CLI's OS user and host). ``TeamSetting`` holds the team's
policy as named values (``identity``: ``slack`` or ``cli``; ``slack_serve``: the last
``serve`` with Slack on this ledger), read by every door from the ledger, never from the
caller's environment.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from roles.clock import utcnow
from roles.ledger.types import UTCDateTime
from roles.roster_what import ROSTER_WHATS, RosterWhat

__all__ = ["RosterChange", "RosterWhat", "TeamSetting"]


class RosterChange(SQLModel, table=True):
    __tablename__ = "roster_change"
    __table_args__ = (
        CheckConstraint(
            "what IN (" + ", ".join(f"'{w}'" for w in ROSTER_WHATS) + ")",
            name="roster_change_what",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # None: the first sync of an empty ledger (it makes the admins), or the sample's load.
    actor_id: int | None = Field(default=None, foreign_key="member.id", ondelete="RESTRICT")
    member_id: int | None = Field(
        default=None, foreign_key="member.id", index=True, ondelete="RESTRICT"
    )
    what: str = Field(max_length=32)
    old_value: str | None = Field(default=None, max_length=400)
    new_value: str | None = Field(default=None, max_length=400)
    source: str = Field(default="cli", max_length=16)  # cli | slack | sample (a door's name)
    os_user: str | None = Field(default=None, max_length=64)  # the CLI's --as is trusted:
    host: str | None = Field(default=None, max_length=255)  # who typed it, and where
    created_at: datetime = Field(default_factory=utcnow, index=True, sa_type=UTCDateTime)


class TeamSetting(SQLModel, table=True):
    __tablename__ = "team_setting"

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=400)
    set_by_id: int | None = Field(default=None, foreign_key="member.id", ondelete="RESTRICT")
    set_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
