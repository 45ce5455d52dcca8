"""An eval suite: the scorers, the gate and the statistics settings of one prompt.

The ``suite:`` section of a prompt file (all keys optional)::

    suite:
      judge_model: openai/gpt-4o-mini        # default model for llm_judge scorers
      scorers:
        - exact_match                        # a bare name: default arguments
        - name: contains
          label: mentions_refund             # metric name; default the scorer's name
          args: {text: [refund], ignore_case: true}
        - name: llm_judge
          label: helpful
          args:
            rubric: Does the answer solve the customer's problem?
            choices: {"yes": 1.0, "partly": 0.5, "no": 0.0}
            pass_threshold: 0.5
      gate:
        target: helpful                      # or {metric: helpful, must: not_regress}
        guardrails: [exact_match, {metric: latency_s, margin: 0.5}]
        thresholds: [{metric: mentions_refund, min: 0.9}]
        max_error_rate: 0.05
        max_p95_latency_s: 8
        max_cost_per_item_usd: 0.01
      statistics: {n_resamples: 9999, confidence_level: 0.95, alpha: 0.05, seed: 0}
      calibration: {trust: {min_pairs: 30}}  # when a judge is trusted: roles/data_scientist/trust.py

Gate metrics name a scorer's label or a built-in metric (``error_rate``, ``latency_s``,
``cost_per_item``). ``Suite.to_dict()`` is the plain JSON stored with the prompt version;
``parse_suite`` rebuilds the same suite from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from roles.calls import ModelCaller
from roles.data_scientist.gate import GatePolicy, Guardrail
from roles.data_scientist.metrics import BUILTIN_METRICS
from roles.data_scientist.registry import ScoreContext, Scorer, build_scorer
from roles.data_scientist.scores import ItemResult, MetricInfo, Sample
from roles.data_scientist.statistics import StatsSettings
from roles.data_scientist.trust import CalibrationPolicy
from roles.errors import InputError
from roles.policies import ApprovalPolicy, ReviewPolicy, SweepPolicy

M = TypeVar("M", bound=BaseModel)
SUITE_KEYS = (
    "judge_model", "scorers", "gate", "statistics", "review", "approval", "calibration", "sweep",
)  # fmt: skip


@dataclass(frozen=True)
class Suite:
    scorers: tuple[Scorer, ...] = ()
    gate: GatePolicy = field(default_factory=GatePolicy)
    judge_model: str | None = None
    statistics: StatsSettings = field(default_factory=StatsSettings)

    def metrics(self) -> list[MetricInfo]:
        """The scorers' metrics (the scorecard adds the built-in ones)."""
        return [s.metric for s in self.scorers]

    def gated_metrics(self) -> set[str]:
        """The metrics the gate decides on: one family for Holm's correction."""
        return {metric for _, metric in self.gate.metric_refs()}

    def judge_models(self) -> list[str]:
        """The models the suite's LLM judges call (each once, in order)."""
        models = [
            str(s.args.get("model") or self.judge_model)
            for s in self.scorers
            if s.name == "llm_judge" and (s.args.get("model") or self.judge_model)
        ]
        return list(dict.fromkeys(models))

    def context(self, model_caller: ModelCaller | None = None) -> ScoreContext:
        return ScoreContext(model_caller=model_caller, judge_model=self.judge_model)

    async def score(self, sample: Sample, ctx: ScoreContext) -> ItemResult:
        return ItemResult(
            sample=sample, scores={s.label: await s(sample, ctx) for s in self.scorers}
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "judge_model": self.judge_model,
            "scorers": [s.spec() for s in self.scorers],
            "gate": self.gate.model_dump(mode="json"),
            "statistics": self.statistics.model_dump(mode="json"),
        }


def parse_suite(data: Any, source: str) -> Suite:
    """Validate a ``suite:`` mapping; ``InputError`` names the source and the bad field."""
    if not isinstance(data, Mapping):
        raise InputError(f"{source}: suite must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - set(SUITE_KEYS))
    if unknown:
        raise InputError(f"{source}: suite: unknown keys {unknown} (allowed: {list(SUITE_KEYS)})")
    judge_model = data.get("judge_model")
    if judge_model is not None and (not isinstance(judge_model, str) or not judge_model.strip()):
        raise InputError(f"{source}: suite.judge_model must be a model name")
    specs = data.get("scorers") or []
    if not isinstance(specs, list):
        raise InputError(f"{source}: suite.scorers must be a list")
    scorers = tuple(_scorer(spec, i, source, judge_model) for i, spec in enumerate(specs))
    labels = [s.label for s in scorers]
    for i, label in enumerate(labels):
        if label in BUILTIN_METRICS:
            raise InputError(
                f"{source}: suite.scorers[{i}]: label {label!r} clashes with the built-in "
                "metric of that name; give this scorer another 'label'"
            )
        if label in labels[:i]:
            first = labels.index(label)
            raise InputError(
                f"{source}: suite.scorers[{first}] and suite.scorers[{i}]: label {label!r} "
                "is used twice; give one of them another 'label'"
            )
    gate = _model(GatePolicy, data.get("gate"), "suite.gate", source)
    known = [*labels, *BUILTIN_METRICS]
    for where, metric in gate.metric_refs():
        if metric not in known:
            raise InputError(
                f"{source}: suite.gate.{where}: unknown metric {metric!r}; known: {known}"
            )
    stats = _model(StatsSettings, data.get("statistics"), "suite.statistics", source)
    # The review, approval, calibration and sweep policies are checked here and read from the
    # stored suite when used; they change no eval result, so they stay out of its hash.
    _model(ReviewPolicy, data.get("review"), "suite.review", source)
    _model(ApprovalPolicy, data.get("approval"), "suite.approval", source)
    _model(CalibrationPolicy, data.get("calibration"), "suite.calibration", source)
    _model(SweepPolicy, data.get("sweep"), "suite.sweep", source)
    return Suite(scorers=scorers, gate=gate, judge_model=judge_model, statistics=stats)


def default_suite(*, has_expected: bool) -> Suite:
    """For a prompt without a suite: exact match when items have expected answers, and
    guardrails on exact match (margin 0.05) and error rate (margin 0.05)."""
    scorers = (build_scorer("exact_match"),) if has_expected else ()
    guards = [Guardrail(metric="error_rate", margin=0.05)]
    if has_expected:
        guards.insert(0, Guardrail(metric="exact_match", margin=0.05))
    return Suite(scorers=scorers, gate=GatePolicy(guardrails=guards))


def _scorer(spec: Any, index: int, source: str, judge_model: str | None) -> Scorer:
    try:
        built = build_scorer(spec)
    except InputError as exc:
        raise InputError(f"{source}: suite.scorers[{index}]: {exc.message}") from None
    if built.name == "llm_judge" and built.args.get("model") is None and judge_model is None:
        raise InputError(
            f"{source}: suite.scorers[{index}]: scorer 'llm_judge' ({built.label}) has no "
            "model: set args.model or suite.judge_model"
        )
    return built


def _model(cls: type[M], value: Any, where: str, source: str) -> M:
    try:
        return cls.model_validate(value or {})
    except ValidationError as exc:
        problems = "; ".join(
            where
            + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
            + f": {err['msg']}"
            for err in exc.errors()
        )
        raise InputError(f"{source}: {problems}") from None
