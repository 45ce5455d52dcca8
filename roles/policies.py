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

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

DEFAULT_FAIL_CATEGORIES = ("wrong", "incomplete", "unsafe", "tone", "format", "other")


class ReviewPolicy(BaseModel):
    """How the experts' review estimates the candidate's failure rate and decides on it.

    The review labels a stratified probability sample of ``items`` (plus ``picks`` chosen on
    purpose, for learning only), and while the bound on the failure rate straddles
    ``max_failure_rate`` adds ``batch`` more, up to ``max_items``; at the cap ``decider`` (a
    handle; unset: any data scientist who did not write the change) decides.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    items: int = Field(default=20, ge=1, le=500)  # the first look's probability sample
    batch: int = Field(default=10, ge=1, le=500)
    max_items: int = Field(default=60, ge=1, le=2000)
    max_failure_rate: float = Field(default=0.2, ge=0.0, lt=1.0)
    confidence: float = Field(default=0.95, ge=0.5, lt=1.0)  # each side, over every look
    min_per_stratum: int = Field(default=3, ge=1, le=50)
    picks: int = Field(default=3, ge=0, le=50)  # purposeful picks: shown, never counted
    decider: str | None = Field(default=None, min_length=1, max_length=64)
    votes_per_item: int = Field(default=1, ge=1, le=20)
    min_experts: int = Field(default=2, ge=1, le=50)
    deadline_hours: float = Field(default=48.0, gt=0.0)
    near_threshold: float = Field(default=0.15, ge=0.0, le=1.0)  # "the judge was unsure"
    # A change whose gate names an untrusted LLM judge (its say is taken away): this much
    # more of the picks (0.5: +50 %), led by the items its judge got wrong or was unsure of.
    untrusted_judge_extra: float = Field(default=0.5, ge=0.0, le=5.0)
    fail_categories: tuple[str, ...] = Field(default=DEFAULT_FAIL_CATEGORIES, min_length=1)

    # Replaced settings: refused with what replaced them, at their own line of the file.
    max_fail_share: Any = Field(default=None, exclude=True)
    control_share: Any = Field(default=None, exclude=True)

    @field_validator("max_fail_share", "control_share")
    @classmethod
    def _replaced(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None:
            raise ValueError(
                f"`{info.field_name}` is replaced: {REPLACED_REVIEW_KEYS[str(info.field_name)]}"
            )
        return value

    @model_validator(mode="after")
    def _cap(self) -> ReviewPolicy:
        if self.max_items < self.items:
            raise ValueError(f"max_items ({self.max_items}) is below items ({self.items})")
        return self


REPLACED_REVIEW_KEYS = {
    "max_fail_share": (
        "the review now estimates the candidate's failure rate and bounds it: set "
        "`max_failure_rate` (the tolerable rate, default 0.2)"
    ),
    "control_share": (
        "every counted item is now a random draw within its stratum; `picks` sets how many "
        "items are added on purpose, for learning only"
    ),
}


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
