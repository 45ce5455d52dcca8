"""The engineers' gate: every approval decision (and every refused attempt), and every
move of a prompt's ``production`` label that a deploy or a rollback made.

``Approval`` rows are only ever inserted. A refused attempt (the author approving their
own change, a non-engineer, an unknown Slack user) is a row too: separation of duties is
seen in the ledger, not only enforced. One counted approval per engineer per candidate
(a partial unique index): twenty clicks by one engineer are one approval.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import CheckConstraint, Index, Text, text
from sqlmodel import Field, SQLModel

# The tables these rows point at (a flush sorts by foreign keys, so they must be built).
import roles.ledger.changes
import roles.ledger.members
import roles.ledger.prompts  # noqa: F401
from roles.clock import utcnow
from roles.ledger.types import UTCDateTime

Decision = Literal["approve", "reject", "refused"]
DECISIONS: tuple[Decision, ...] = ("approve", "reject", "refused")
DeploymentKind = Literal["deploy", "rollback", "manual"]  # manual: an admin's hand move
ONE_APPROVAL_INDEX = "uq_approval_one_per_engineer"


class Approval(SQLModel, table=True):
    __tablename__ = "approval"
    __table_args__ = (
        CheckConstraint("decision IN ('approve', 'reject', 'refused')", name="approval_decision"),
        Index(
            ONE_APPROVAL_INDEX,
            "change_id",
            "candidate_version_id",
            "member_id",
            unique=True,
            sqlite_where=text("decision = 'approve'"),
            postgresql_where=text("decision = 'approve'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    change_id: int = Field(foreign_key="change_request.id", index=True, ondelete="RESTRICT")
    candidate_version_id: int = Field(foreign_key="prompt_version.id", ondelete="RESTRICT")
    member_id: int | None = Field(default=None, foreign_key="member.id", ondelete="RESTRICT")
    slack_user_id: str | None = Field(default=None, max_length=32)  # who clicked, if Slack
    decision: str = Field(max_length=16)
    reason: str | None = Field(default=None, sa_type=Text)  # a rejection's, a refusal's why
    override: bool = False  # approved over an inconclusive gate, with a reason
    source: str = Field(default="cli", max_length=16)  # cli | slack
    os_user: str | None = Field(default=None, max_length=64)  # the CLI's --as is trusted:
    host: str | None = Field(default=None, max_length=255)  # who typed it, and where
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Deployment(SQLModel, table=True):
    __tablename__ = "deployment"
    __table_args__ = (
        CheckConstraint("kind IN ('deploy', 'rollback', 'manual')", name="deployment_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True, ondelete="RESTRICT")
    change_id: int | None = Field(
        default=None, foreign_key="change_request.id", index=True, ondelete="RESTRICT"
    )
    kind: str = Field(max_length=16)
    from_version_id: int | None = Field(
        default=None, foreign_key="prompt_version.id", ondelete="RESTRICT"
    )
    to_version_id: int = Field(foreign_key="prompt_version.id", ondelete="RESTRICT")
    actor_id: int = Field(foreign_key="member.id", ondelete="RESTRICT")
    note: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
