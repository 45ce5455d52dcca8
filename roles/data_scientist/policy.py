"""The gate policy: what a change must show, as data validated when a suite is read.

::

    GatePolicy(
        target="helpful",                          # must improve; or {metric, must: not_regress, margin}
        guardrails=["exact_match", {"metric": "latency_s", "margin": 0.5}],
        max_unscored_share=0.1,                    # per side, per gated metric
        on_inconclusive="review",                  # or "fail"; unset: fail on a guardrail
        attempts="spend",                          # or "ignore": alpha over repeated attempts
        max_error_rate=0.05, max_p95_latency_s=8.0, max_cost_per_item_usd=0.01,
        thresholds=[{"metric": "exact_match", "min": 0.8},          # over every item
                    {"metric": "exact_match", "min": 0.6, "slice": "negative"}],  # a tag's
    )

Margins are in the metric's units: how much worse the candidate may be and still count as
not worse (a non-inferiority claim). With margin 0 such a check holds only when the
candidate is shown better; an unchanged candidate is then inconclusive, not a pass.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from roles.data_scientist.attempts import AttemptRule


class Target(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    metric: str
    must: Literal["improve", "not_regress"] = "improve"
    margin: float = Field(0.0, ge=0)  # not_regress: how much worse is still not a regression

    @model_validator(mode="after")
    def _margin_for_not_regress(self) -> Self:
        if self.must == "improve" and self.margin:
            raise ValueError(
                f"target {self.metric!r}: margin applies to must: not_regress (how much worse "
                "is acceptable); must: improve needs a significant gain and takes no margin"
            )
        return self


class Guardrail(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    metric: str
    margin: float = Field(0.0, ge=0)


class Threshold(BaseModel):
    """A floor (``min``) or ceiling (``max``) on the candidate's mean of ``metric``, over
    every item or, with ``slice``, over the items carrying that dataset tag."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    metric: str
    min: float | None = None
    max: float | None = None
    slice: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError(f"threshold on {self.metric!r} needs min, max or both")
        return self

    @model_serializer(mode="wrap")
    def _without_unset_slice(self, handler: SerializerFunctionWrapHandler) -> Any:
        """No ``slice`` in a dump of an all-items floor: a suite's hash (which decides which
        finished runs are reused) stays what it was before floors took a slice."""
        data = handler(self)
        if isinstance(data, dict) and data.get("slice") is None:
            data.pop("slice", None)
        return data


class GatePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    target: Target | None = None
    guardrails: list[Guardrail] = Field(default_factory=list)
    thresholds: list[Threshold] = Field(default_factory=list)
    max_error_rate: float | None = Field(0.1, ge=0, le=1)
    max_p95_latency_s: float | None = Field(None, gt=0)
    max_cost_per_item_usd: float | None = Field(None, ge=0)
    flag_regressions: Literal["off", "guardrails", "all"] = "guardrails"
    max_unscored_share: float = Field(0.1, ge=0, le=1)
    # Unset: an inconclusive not_regress target or guardrail fails, anything else inconclusive
    # goes to review (see roles.data_scientist.gate).
    on_inconclusive: Literal["review", "fail"] | None = None
    # spend: the k-th change judged against one production version on one dataset version
    # tests its target at alpha * 6 / (pi^2 k^2); ignore: every one at alpha (see
    # roles.data_scientist.attempts).
    attempts: AttemptRule = "spend"

    @model_serializer(mode="wrap")
    def _without_default_attempts(self, handler: SerializerFunctionWrapHandler) -> Any:
        """The default ``attempts`` is left out of dumps, so a suite's hash (which decides
        which finished runs are reused) is what it was before the option existed."""
        data = handler(self)
        if isinstance(data, dict) and data.get("attempts") == "spend":
            del data["attempts"]
        return data

    @field_validator("target", mode="before")
    @classmethod
    def _target_shorthand(cls, value: Any) -> Any:
        return {"metric": value} if isinstance(value, str) else value

    @field_validator("guardrails", mode="before")
    @classmethod
    def _guardrail_shorthand(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"metric": v} if isinstance(v, str) else v for v in value]
        return value

    def metric_refs(self) -> list[tuple[str, str]]:
        """(field, metric name) for every metric the policy names."""
        refs = [("target.metric", self.target.metric)] if self.target else []
        refs += [(f"guardrails[{i}].metric", g.metric) for i, g in enumerate(self.guardrails)]
        refs += [(f"thresholds[{i}].metric", t.metric) for i, t in enumerate(self.thresholds)]
        return refs
