"""The policies a prompt's suite sets for the roles that act on a change: review,
approval and sweep. Plain models with their defaults, below every role package, so that
the data scientist's suite (``roles.data_scientist.suite``) checks these sections at push
without importing the roles that apply them (``roles.review.policy``,
``roles.approval.policy``, ``roles.sweep.policy`` read them from a stored suite).

::

    suite:
      review: {items: 6, min_experts: 1, deadline_hours: 24}
      approval: {approvals: 2, allow_override: true, slack_only: true}
      sweep: {enabled: false}
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_FAIL_CATEGORIES = ("wrong", "incomplete", "unsafe", "tone", "format", "other")


class ReviewPolicy(BaseModel):
    """How many items the experts see, how many votes close a review, and how many fails
    send the change back to its author."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    items: int = Field(default=10, ge=1, le=200)
    votes_per_item: int = Field(default=1, ge=1, le=20)
    min_experts: int = Field(default=2, ge=1, le=50)
    max_fail_share: float = Field(default=0.2, ge=0.0, le=1.0)
    deadline_hours: float = Field(default=48.0, gt=0.0)
    control_share: float = Field(default=0.2, ge=0.0, le=1.0)
    near_threshold: float = Field(default=0.15, ge=0.0, le=1.0)  # "the judge was unsure"
    # A change whose gate names an untrusted LLM judge (its say is taken away): this much
    # more of a sample (0.5: +50 %), led by the items its judge got wrong or was unsure of.
    untrusted_judge_extra: float = Field(default=0.5, ge=0.0, le=5.0)
    fail_categories: tuple[str, ...] = Field(default=DEFAULT_FAIL_CATEGORIES, min_length=1)


class ApprovalPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    approvals: int = Field(default=1, ge=1, le=6)  # distinct engineers
    # An inconclusive (flagged) gate may be approved over, with a reason, flagged itself.
    allow_override: bool = False
    # true: approvals, rejections and rollbacks of this prompt from Slack only (the verified
    # user). false or unset: as the team's identity policy says (`promptloop team policy`);
    # false never lets the CLI decide when that policy is slack.
    slack_only: bool | None = None


class SweepPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True  # swept by the scheduled (and the all-prompts) sweep

    @model_validator(mode="before")
    @classmethod
    def _no_cron_here(cls, data: Any) -> Any:
        # The prompts share one scheduled run (and one model concurrency): when it runs is
        # the ledger's setting, not a prompt's.
        if isinstance(data, dict) and "cron" in data:
            raise ValueError(
                "a prompt has no schedule of its own: PROMPTLOOP_SWEEP_CRON sets when every "
                "prompt is swept; here only `enabled: false` (left out of scheduled sweeps)"
            )
        return data
