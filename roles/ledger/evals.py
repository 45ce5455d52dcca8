"""Eval runs and their per-item results and per-scorer scores.

A run is ``running`` until every item is recorded and its totals are written in the
same transaction that marks it ``finished``; a run whose process died stays
``running`` with ``finished_at`` empty, so partial rows never look complete.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

# The tables our foreign keys name: a flush sorts tables by them, so they must be known.
import roles.ledger.changes
import roles.ledger.datasets
import roles.ledger.prompts  # noqa: F401
from roles.clock import utcnow
from roles.ledger.types import UTCDateTime


class EvalRun(SQLModel, table=True):
    __tablename__ = "eval_run"

    id: int | None = Field(default=None, primary_key=True)
    prompt_version_id: int = Field(foreign_key="prompt_version.id", index=True, ondelete="RESTRICT")
    dataset_id: int = Field(foreign_key="dataset.id", index=True, ondelete="RESTRICT")
    change_id: int | None = Field(
        default=None, foreign_key="change_request.id", index=True, ondelete="RESTRICT"
    )
    purpose: str = Field(default="adhoc", max_length=32)  # adhoc | baseline | candidate | sweep
    model: str = Field(max_length=200)
    suite_hash: str = Field(max_length=64)
    suite: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    settings: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    # running | finished | failed | outage (the endpoint failed too many items: never reused)
    status: str = Field(default="running", index=True, max_length=16)
    flow_run_id: str | None = Field(default=None, max_length=64)
    items: int = 0
    errors: int = 0
    outage_items: int = 0  # items whose answer or judge call failed through the endpoint
    cache_hits: int = 0
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    cost_known: bool = True
    wall_s: float | None = None
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    failure: str | None = Field(default=None, sa_type=Text)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Who runs it, and when it last wrote: a running run whose process is gone is abandoned.
    pid: int | None = None
    host: str | None = Field(default=None, max_length=255)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EvalResult(SQLModel, table=True):
    """One dataset item's answer in one run."""

    __tablename__ = "eval_result"
    __table_args__ = (UniqueConstraint("run_id", "item_id"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="eval_run.id", index=True, ondelete="CASCADE")
    item_id: str = Field(max_length=200)
    output: str | None = Field(default=None, sa_type=Text)
    error: str | None = Field(default=None, sa_type=Text)
    outage: bool = False  # the error was the endpoint's (or the judge's endpoint's)
    latency_s: float = 0.0
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    cached: bool = False


class EvalScore(SQLModel, table=True):
    """One scorer's verdict on one result; ``unscored`` rows say why, never a silent zero."""

    __tablename__ = "eval_score"
    __table_args__ = (UniqueConstraint("result_id", "metric"),)

    id: int | None = Field(default=None, primary_key=True)
    result_id: int = Field(foreign_key="eval_result.id", index=True, ondelete="CASCADE")
    metric: str = Field(max_length=200)
    value: float | None = None
    passed: bool | None = None
    unscored: bool = False
    reason: str | None = Field(default=None, sa_type=Text)
    explanation: str | None = Field(default=None, sa_type=Text)
    raw_answer: str | None = Field(default=None, sa_type=Text)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
