"""Judge calibration records: one row per judge per calibration run, only ever inserted.

What is queried is a typed column (the judge, when, n, the confusion counts, κ and its
interval, recall's lower bound, trusted); the rest of the metrics, the expert agreement
and the per-slice figures are one JSON document each, validated by ``CalibrationMetrics``
and ``ExpertAgreementDoc`` on the way in. Trust over time is a query::

    select(CalibrationRecord.created_at, CalibrationRecord.trusted)
        .where(CalibrationRecord.judge_id == "3f9c2a71d0b4").order_by(CalibrationRecord.id)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from roles.clock import utcnow
from roles.ledger.types import UTCDateTime


class Interval(BaseModel):
    """A point estimate with its interval; None where it is undefined."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    value: float | None
    low: float | None
    high: float | None


class CalibrationMetrics(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    precision: Interval
    recall: Interval
    f1: Interval
    accuracy: Interval
    kappa: Interval
    resamples: int
    seed: int
    confidence: float
    interval: str  # how the intervals were made: "Jeffreys posterior" ("BCa bootstrap" before)
    # Weighted pairs (a review's stratified sample): Kish's effective n and the weighted
    # cells tp, fp, fn, tn; None when every pair weighs 1 (and in records made before).
    n_effective: float | None = None
    weighted_counts: list[float] | None = None
    picks_left_out: int = 0  # reviewed purposeful picks: labelled, never in the metrics


class ExpertAgreementDoc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    method: str
    value: float | None
    n_items: int
    n_raters: int


class CalibrationRecord(SQLModel, table=True):
    __tablename__ = "calibration_record"
    __table_args__ = (Index("ix_calibration_record_judge_created", "judge_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    judge_id: str = Field(max_length=32)
    label: str = Field(max_length=200)  # the judge's metric name where it was found
    spec: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    trigger: str = Field(max_length=64)  # "review:12", "daily", "cli"
    flow_run_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    n: int
    tp: int
    fp: int
    fn: int
    tn: int
    unscored: int  # items the judge left unscored: counted apart, never a pair
    ties: int  # items the experts split on evenly: excluded from the pairs
    from_votes: int
    from_dataset: int
    kappa: float | None = None
    kappa_low: float | None = None
    kappa_high: float | None = None
    recall_low: float | None = None
    trusted: bool = Field(index=True)
    reasons: list[str] = Field(default_factory=list, sa_type=JSON)
    metrics: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # CalibrationMetrics
    expert_agreement: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    slices: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)  # tag → metrics doc
