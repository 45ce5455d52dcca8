"""The review policy of a prompt: the defaults live here, a prompt's suite may override them.

::

    suite:
      review: {items: 6, min_experts: 1, deadline_hours: 24}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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


def policy_from_suite(suite: Mapping[str, Any] | None) -> ReviewPolicy:
    """The policy a stored suite asks for under ``review`` (checked at push), else the defaults."""
    return ReviewPolicy.model_validate((suite or {}).get("review") or {})
