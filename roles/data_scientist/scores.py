"""What a scorer sees (``Sample``) and what it returns (``Score``).

A score is never a bare float, and "could not score" is explicit::

    Score.from_check(True, "matched 'Paris'")          # binary: value 1.0, passed True
    Score(value=0.75, passed=True, explanation="...")  # continuous
    Score.could_not_score("expected answer missing")   # unscored: no value, a reason

Statistics pair items by ``item_id`` and use ``Score.value`` only (binary metrics hold
1.0 or 0.0); unscored items are left out and counted, never turned into a zero.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roles.calls import ChatResult
from roles.errors import InputError

MetricKind = Literal["binary", "continuous"]


class Score(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    value: float | None = None
    passed: bool | None = None
    explanation: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    unscored: bool = False
    reason: str | None = None  # why it could not be scored
    raw_answer: str | None = None  # a judge's raw text, kept whether or not it parsed

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.unscored:
            if self.value is not None or self.passed is not None:
                raise ValueError("an unscored Score has neither value nor passed")
            if not self.reason:
                raise ValueError("an unscored Score needs a reason")
        elif self.value is None and self.passed is None:
            raise ValueError("a Score needs a value or passed; else use Score.could_not_score")
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError(f"a Score value must be finite, got {self.value}")
        return self

    @property
    def scored(self) -> bool:
        return not self.unscored

    @classmethod
    def from_check(
        cls, passed: bool, explanation: str | None = None, metadata: dict[str, Any] | None = None
    ) -> Score:
        """A pass/fail result: value 1.0 or 0.0."""
        return cls(
            value=1.0 if passed else 0.0,
            passed=passed,
            explanation=explanation,
            metadata=metadata or {},
        )

    @classmethod
    def could_not_score(
        cls, reason: str, raw_answer: str | None = None, metadata: dict[str, Any] | None = None
    ) -> Score:
        return cls(unscored=True, reason=reason, raw_answer=raw_answer, metadata=metadata or {})


class Sample(BaseModel):
    """One dataset item and one model answer to it. Exactly one of output and error is set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    item_id: str
    input: dict[str, Any] = Field(default_factory=dict)  # the template variables
    expected: Any = None
    output: str | None = None
    error: str | None = None  # the model call failed
    outage: bool = False  # ... and the endpoint, not the item, was at fault
    latency_s: float = 0.0
    cost_usd: float | None = None  # None = unknown, never a silent 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    tags: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_outcome(self) -> Self:
        if (self.output is None) == (self.error is None):
            raise ValueError(f"sample {self.item_id!r}: set exactly one of output and error")
        problem = measurement_problem(self.latency_s, self.cost_usd)
        if problem:
            raise ValueError(f"sample {self.item_id!r}: {problem}")
        return self

    @classmethod
    def from_result(
        cls,
        result: ChatResult,
        *,
        item_id: str,
        input: dict[str, Any],
        expected: Any = None,
        tags: list[str] | None = None,
    ) -> Sample:
        problem = measurement_problem(result.latency_s, result.cost_usd)
        if problem:
            raise InputError(f"item {item_id!r}: {problem}")
        output = result.text if result.error is None else None
        error = result.error
        if output is None and error is None:
            error = "the model returned no text"
        return cls(
            item_id=item_id,
            input=input,
            expected=expected,
            output=output,
            error=error,
            outage=result.outage,
            latency_s=result.latency_s,
            cost_usd=result.cost_usd,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            tags=tags or [],
        )


def measurement_problem(latency_s: float, cost_usd: float | None) -> str | None:
    """Why a latency or cost cannot be true (NaN, infinite, negative), or None."""
    for name, value in (("latency_s", latency_s), ("cost_usd", cost_usd)):
        if value is not None and (not math.isfinite(value) or value < 0):
            return f"{name} must be a finite number >= 0, got {value}"
    return None


class MetricInfo(BaseModel):
    """A metric's name (a scorer's label or a built-in), its kind, and which way is better."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: MetricKind
    higher_is_better: bool = True


class ItemResult(BaseModel):
    """One sample with its scores, keyed by metric name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sample: Sample
    scores: dict[str, Score] = Field(default_factory=dict)
