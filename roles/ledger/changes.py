"""Change requests and their append-only handoffs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Text, text
from sqlmodel import Field, SQLModel

# The tables our foreign keys name: a flush sorts tables by them, so they must be known.
import roles.ledger.members
import roles.ledger.prompts  # noqa: F401
from roles.clock import utcnow
from roles.ledger.types import UTCDateTime
from roles.states import OPEN_STATES

# One open change per candidate version, kept by the database itself: two submits of the
# same file at the same moment cannot both open a change (migration 0004).
OPEN_CANDIDATE_INDEX = "uq_change_request_open_candidate"
OPEN_STATE_SQL = "state IN ({})".format(", ".join(f"'{s.value}'" for s in sorted(OPEN_STATES)))


class ChangeRequest(SQLModel, table=True):
    """A proposed new version of a prompt travelling through the loop.

    ``revision`` increases with every transition; a move is written only if the
    revision it read is still current, so two simultaneous moves cannot both land.
    """

    __tablename__ = "change_request"
    __table_args__ = (
        Index(
            OPEN_CANDIDATE_INDEX,
            "candidate_version_id",
            unique=True,
            sqlite_where=text(OPEN_STATE_SQL),
            postgresql_where=text(OPEN_STATE_SQL),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True, ondelete="RESTRICT")
    base_version_id: int | None = Field(
        default=None, foreign_key="prompt_version.id", ondelete="RESTRICT"
    )
    candidate_version_id: int = Field(foreign_key="prompt_version.id", ondelete="RESTRICT")
    author_id: int = Field(foreign_key="member.id", ondelete="RESTRICT")
    state: str = Field(index=True, max_length=32)
    revision: int = 0
    note: str | None = Field(default=None, sa_type=Text)
    flow_run_id: str | None = Field(default=None, max_length=64)  # its pipeline run
    # Why nothing evaluates it ("--no-eval"), until someone runs `change evaluate`.
    not_evaluated: str | None = Field(default=None, sa_type=Text)
    evaluate_flow_run_id: str | None = Field(default=None, max_length=64)
    # Why the last evaluation could not conclude (no verdict); the next attempt clears it.
    evaluation_error: str | None = Field(default=None, sa_type=Text)
    evaluation_error_kind: str | None = Field(default=None, max_length=16)  # outage|input|bug
    evaluation_error_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    evaluation_log: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Handoff(SQLModel, table=True):
    """One arrow of the loop. Rows are only ever inserted (the database refuses updates)."""

    __tablename__ = "handoff"

    id: int | None = Field(default=None, primary_key=True)
    change_id: int = Field(foreign_key="change_request.id", index=True, ondelete="RESTRICT")
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str = Field(max_length=32)
    actor_id: int = Field(foreign_key="member.id", ondelete="RESTRICT")
    role: str = Field(max_length=32)
    note: str | None = Field(default=None, sa_type=Text)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
