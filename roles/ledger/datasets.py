"""Eval datasets: named, versioned, with items that keep a stable id across versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

# The tables our foreign keys name: a flush sorts tables by them, so they must be known.
import roles.ledger.members  # noqa: F401
from roles.clock import utcnow
from roles.ledger.types import UTCDateTime


class Dataset(SQLModel, table=True):
    __tablename__ = "dataset"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        UniqueConstraint("name", "content_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, max_length=200)
    version: int
    content_hash: str = Field(max_length=64)
    source: str | None = Field(default=None, max_length=500)
    author_id: int | None = Field(default=None, foreign_key="member.id", ondelete="RESTRICT")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DatasetItem(SQLModel, table=True):
    __tablename__ = "dataset_item"
    __table_args__ = (UniqueConstraint("dataset_id", "item_id"),)

    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = Field(foreign_key="dataset.id", index=True, ondelete="CASCADE")
    position: int
    item_id: str = Field(max_length=200)
    input: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    expected: Any = Field(default=None, sa_type=JSON)
    tags: list[str] = Field(default_factory=list, sa_type=JSON)
    # What people said of the item's answer, per scorer label: {"judge_correct": "fail"}.
    human: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
