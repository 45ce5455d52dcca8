"""Prompts, their immutable numbered versions, and labels with the history of every move."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

# The tables our foreign keys name: a flush sorts tables by them, so they must be known.
import roles.ledger.changes
import roles.ledger.members  # noqa: F401
from roles.clock import utcnow
from roles.ledger.types import UTCDateTime


class Prompt(SQLModel, table=True):
    __tablename__ = "prompt"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PromptVersion(SQLModel, table=True):
    """One immutable version. ``content_hash`` covers everything but the name."""

    __tablename__ = "prompt_version"
    __table_args__ = (
        UniqueConstraint("prompt_id", "number"),
        UniqueConstraint("prompt_id", "content_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True, ondelete="RESTRICT")
    number: int
    content_hash: str = Field(max_length=64)
    description: str | None = Field(default=None, sa_type=Text)
    model: str = Field(max_length=200)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    system: str | None = Field(default=None, sa_type=Text)
    template: str = Field(sa_type=Text)
    examples: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    dataset: str | None = Field(default=None, max_length=200)
    suite: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    author_id: int | None = Field(default=None, foreign_key="member.id", ondelete="RESTRICT")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Label(SQLModel, table=True):
    """Where a label (``production``, ``staging``, any name) points now."""

    __tablename__ = "label"
    __table_args__ = (UniqueConstraint("prompt_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True, ondelete="RESTRICT")
    name: str = Field(max_length=100)
    version_id: int = Field(foreign_key="prompt_version.id", ondelete="RESTRICT")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LabelMove(SQLModel, table=True):
    """Every move of a label: who, when, from which version to which (append-only)."""

    __tablename__ = "label_move"

    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True, ondelete="RESTRICT")
    label: str = Field(max_length=100)
    from_version_id: int | None = Field(
        default=None, foreign_key="prompt_version.id", ondelete="RESTRICT"
    )
    to_version_id: int = Field(foreign_key="prompt_version.id", ondelete="RESTRICT")
    actor_id: int | None = Field(default=None, foreign_key="member.id", ondelete="RESTRICT")
    change_id: int | None = Field(
        default=None, foreign_key="change_request.id", ondelete="RESTRICT"
    )
    note: str | None = Field(default=None, sa_type=Text)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
