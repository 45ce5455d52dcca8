"""Regression sweeps: one row per prompt per sweep, saying how production compared with
the baseline it was accepted on.

A row is only ever inserted. ``verdict`` is ``ok``, ``regression``, ``recovered`` (ok
again after a regression), ``outage`` (the endpoint failed the run: no evidence either
way) or ``no_baseline`` (nothing to compare with yet: this run becomes the reference).
``alert_id`` names the outbox message the row announced, if it announced one: a
regression is announced once, by the first row that saw it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import JSON, CheckConstraint
from sqlmodel import Field, SQLModel

# The tables our foreign keys name: a flush sorts tables by them, so they must be known.
import roles.ledger.evals
import roles.ledger.outbox
import roles.ledger.prompts  # noqa: F401
from roles.clock import utcnow
from roles.ledger.types import UTCDateTime

SweepVerdict = Literal["ok", "regression", "recovered", "outage", "no_baseline"]
SWEEP_VERDICTS: tuple[SweepVerdict, ...] = (
    "ok",
    "regression",
    "recovered",
    "outage",
    "no_baseline",
)


class Sweep(SQLModel, table=True):
    __tablename__ = "sweep"
    __table_args__ = (
        CheckConstraint(
            "verdict IN ('ok', 'regression', 'recovered', 'outage', 'no_baseline')",
            name="sweep_verdict",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True, ondelete="RESTRICT")
    version_id: int = Field(foreign_key="prompt_version.id", ondelete="RESTRICT")
    eval_run_id: int = Field(foreign_key="eval_run.id", ondelete="RESTRICT")
    baseline_run_id: int | None = Field(
        default=None, foreign_key="eval_run.id", ondelete="RESTRICT"
    )
    baseline_source: str | None = Field(default=None, max_length=16)  # deploy | sweep
    verdict: str = Field(max_length=16)
    reasons: list[str] = Field(default_factory=list, sa_type=JSON)
    alert_id: int | None = Field(default=None, foreign_key="outbox.id", ondelete="RESTRICT")
    flow_run_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
