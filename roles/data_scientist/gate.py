"""The gate: a policy turns a scorecard into a verdict that lists every reason.

::

    policy = GatePolicy(
        target="helpful",                                   # must improve (or "not_regress")
        guardrails=["exact_match", {"metric": "latency_s", "margin": 0.5}],
        max_error_rate=0.05, max_p95_latency_s=8.0, max_cost_per_item_usd=0.01,
        thresholds=[{"metric": "exact_match", "min": 0.8}],
    )
    verdict = evaluate_gate(policy, scorecard)   # Verdict(passed, reasons, failures)

Rules, all checked, none hiding another:

- target: on the ``all`` slice, ``improve`` needs a significant improvement; ``not_regress``
  fails on a significant regression or when there are too few pairs to tell.
- guardrails (non-inferiority): the candidate may be worse by at most ``margin`` (in the
  metric's units), judged on the CI bound on the worse side, not the point estimate.
- significant regressions: with ``flag_regressions="guardrails"`` (default) a guardrail
  metric that significantly regressed in any tag slice fails the gate; ``"all"`` does so
  for every metric and slice (its ``all`` slice too, unless a guardrail already judged it).
- hard limits and ``thresholds`` apply to the candidate alone; with no baseline (a new
  prompt) they are all that is judged, and the notes say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from roles.data_scientist.comparison import ALL, Comparison
from roles.data_scientist.scorecard import Scorecard


class Target(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    metric: str
    must: Literal["improve", "not_regress"] = "improve"


class Guardrail(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    metric: str
    margin: float = Field(0.0, ge=0)


class Threshold(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    metric: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError(f"threshold on {self.metric!r} needs min, max or both")
        return self


class GatePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    target: Target | None = None
    guardrails: list[Guardrail] = Field(default_factory=list)
    thresholds: list[Threshold] = Field(default_factory=list)
    max_error_rate: float | None = Field(0.1, ge=0, le=1)
    max_p95_latency_s: float | None = Field(None, gt=0)
    max_cost_per_item_usd: float | None = Field(None, ge=0)
    flag_regressions: Literal["off", "guardrails", "all"] = "guardrails"

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


class Verdict(BaseModel):
    passed: bool
    reasons: list[str]  # every judgment, failures first: "FAIL: …", then "ok: …", "note: …"
    failures: list[str]  # the failing judgments alone; empty when passed


@dataclass
class _Record:
    """Collects judgments while the gate runs."""

    level: float  # the CI confidence level, for messages
    failures: list[str] = field(default_factory=list)
    passes: list[str] = field(default_factory=list)

    def judge(self, ok: bool, text: str) -> None:
        (self.passes if ok else self.failures).append(text if not ok else f"ok: {text}")

    def describe(self, row: Comparison) -> str:
        if row.diff is None:
            return f"no pairs to compare ({row.n_excluded} excluded)"
        ci = "no CI" if row.ci_low is None else f"CI [{row.ci_low:+.4g}, {row.ci_high:+.4g}]"
        p = "untested" if row.p_adjusted is None else f"p_adj {row.p_adjusted:.3g}"
        return f"diff {row.diff:+.4g}, {self.level:.0%} {ci}, {p}, n={row.n_pairs}"


def evaluate_gate(policy: GatePolicy, card: Scorecard) -> Verdict:
    record = _Record(level=card.settings.confidence_level)
    if card.baseline is None:
        record.passes.append(
            "note: no baseline (new prompt): judged hard limits and thresholds only"
        )
    else:
        _target(policy, card, record)
        _guardrails(policy, card, record)
        _regressions(policy, card, record)
    _limits(policy, card, record)
    _thresholds(policy, card, record)
    return Verdict(
        passed=not record.failures,
        reasons=[f"FAIL: {f}" for f in record.failures] + record.passes,
        failures=record.failures,
    )


def _target(policy: GatePolicy, card: Scorecard, record: _Record) -> None:
    if policy.target is None:
        return
    name, must = policy.target.metric, policy.target.must
    row = card.row(name)
    if row is None:
        record.judge(False, f"target {name}: not in the scorecard")
        return
    wanted = ("improved",) if must == "improve" else ("improved", "unchanged")
    record.judge(
        row.verdict in wanted,
        f"target {name} must {must.replace('_', ' ')}: {row.verdict} ({record.describe(row)})",
    )


def _guardrails(policy: GatePolicy, card: Scorecard, record: _Record) -> None:
    for guard in policy.guardrails:
        row = card.row(guard.metric)
        if row is None or row.ci_low is None or row.ci_high is None:
            why = "not in the scorecard" if row is None else f"too few pairs ({row.n_pairs})"
            record.judge(False, f"guardrail {guard.metric}: cannot show non-inferiority, {why}")
            continue
        worse_by = -row.ci_low if row.higher_is_better else row.ci_high
        ok = worse_by <= guard.margin
        record.judge(
            ok,
            f"guardrail {guard.metric} {'held' if ok else 'broken'}: may be worse by at most "
            f"{guard.margin:g}, CI bound is {max(worse_by, 0.0):.4g} worse ({record.describe(row)})",
        )


def _regressions(policy: GatePolicy, card: Scorecard, record: _Record) -> None:
    if policy.flag_regressions == "off":
        return
    guarded = {g.metric for g in policy.guardrails}
    for row in card.comparisons:
        if row.verdict != "regressed" or (row.metric in guarded and row.slice == ALL):
            continue  # a guardrail's "all" slice is judged by its margin above
        if policy.flag_regressions == "all" or row.metric in guarded:
            record.judge(
                False,
                f"{row.metric} regressed significantly in slice {row.slice!r} "
                f"({record.describe(row)})",
            )


def _limits(policy: GatePolicy, card: Scorecard, record: _Record) -> None:
    run = card.candidate
    checks = [
        ("error rate", run.error_rate, policy.max_error_rate, "max_error_rate"),
        ("p95 latency (s)", run.latency_p95_s, policy.max_p95_latency_s, "max_p95_latency_s"),
        ("cost per item (USD)", run.cost_per_item_usd, policy.max_cost_per_item_usd,
         "max_cost_per_item_usd"),
    ]  # fmt: skip
    for what, value, limit, name in checks:
        if limit is None:
            continue
        if value is None:
            record.judge(False, f"{what} unknown, so {name} {limit:g} cannot be checked")
        else:
            verb = "within" if value <= limit else "exceeds"
            record.judge(value <= limit, f"{what} {value:.4g} {verb} {name} {limit:g}")


def _thresholds(policy: GatePolicy, card: Scorecard, record: _Record) -> None:
    for bound in policy.thresholds:
        summary = card.candidate.metrics.get(bound.metric)
        mean = summary.mean if summary else None
        if mean is None:
            record.judge(False, f"threshold on {bound.metric}: nothing scored")
            continue
        ok = (bound.min is None or mean >= bound.min) and (bound.max is None or mean <= bound.max)
        record.judge(ok, f"{bound.metric} mean {mean:.4g} (min {bound.min}, max {bound.max})")
