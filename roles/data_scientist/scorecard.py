"""The scorecard of one eval: per-run summaries and, with a baseline, the paired comparison.

::

    card = build_scorecard(candidate_results, baseline_results, suite.metrics(), suite.statistics)
    card.row("exact_match")            # the "all" slice comparison, or None
    card.candidate.latency_p95_s       # hard-limit inputs, from the candidate alone

The built-in metrics (``error_rate``, ``latency_s``, ``cost_per_item``) are added to every
item from its sample, so gates and guardrails can name them like any scorer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from pydantic import BaseModel, ConfigDict, Field

from roles.data_scientist import metrics as m
from roles.data_scientist.comparison import ALL, Comparison, compare
from roles.data_scientist.scores import ItemResult, MetricInfo, MetricKind
from roles.data_scientist.statistics import StatsSettings
from roles.errors import InputError


class MetricSummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    kind: MetricKind
    higher_is_better: bool
    n_scored: int
    n_unscored: int
    mean: float | None
    pass_rate: float | None


class RunSummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    n_items: int
    error_rate: float | None
    latency_p95_s: float | None
    cost_per_item_usd: float | None  # None when any answered item's cost is unknown
    metrics: dict[str, MetricSummary]
    # per dataset tag: the same summaries over the items carrying it (floors per slice)
    slices: dict[str, dict[str, MetricSummary]] = Field(default_factory=dict)


class Scorecard(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    candidate: RunSummary
    baseline: RunSummary | None
    comparisons: list[Comparison]  # empty without a baseline
    settings: StatsSettings

    def row(self, metric: str, slice_name: str = ALL) -> Comparison | None:
        return next(
            (r for r in self.comparisons if r.metric == metric and r.slice == slice_name), None
        )


def with_builtins(result: ItemResult) -> ItemResult:
    """The result with the built-in metric scores of its sample added."""
    clash = set(result.scores) & set(m.BUILTIN_METRICS)
    if clash:
        raise InputError(f"scores named like built-in metrics: {sorted(clash)}")
    return result.model_copy(
        update={"scores": {**result.scores, **m.builtin_scores(result.sample)}}
    )


def summarize(results: Sequence[ItemResult], metrics: Sequence[MetricInfo]) -> RunSummary:
    samples = [r.sample for r in results]
    tags = sorted({tag for r in results for tag in r.sample.tags if tag != ALL})
    return RunSummary(
        n_items=len(results),
        error_rate=m.error_rate(samples),
        latency_p95_s=m.p95_latency(samples),
        cost_per_item_usd=m.mean_cost(samples),
        metrics=_metric_summaries(results, metrics),
        slices={
            tag: _metric_summaries([r for r in results if tag in r.sample.tags], metrics)
            for tag in tags
        },
    )


def _metric_summaries(
    results: Sequence[ItemResult], metrics: Sequence[MetricInfo]
) -> dict[str, MetricSummary]:
    summaries = {}
    for metric in metrics:
        scores = [r.scores[metric.name] for r in results if metric.name in r.scores]
        summaries[metric.name] = MetricSummary(
            metric=metric.name,
            kind=metric.kind,
            higher_is_better=metric.higher_is_better,
            n_scored=len(scores) - m.unscored_count(scores),
            n_unscored=len(results) - len(scores) + m.unscored_count(scores),
            mean=m.mean(scores),
            pass_rate=m.pass_rate(scores),
        )
    return summaries


def build_scorecard(
    candidate: Sequence[ItemResult],
    baseline: Sequence[ItemResult] | None,
    metrics: Sequence[MetricInfo],
    settings: StatsSettings | None = None,
    family: Collection[str] | None = None,
) -> Scorecard:
    settings = settings or StatsSettings()
    named = {metric.name for metric in metrics}
    everything = [*metrics, *(i for i in m.BUILTIN_METRICS.values() if i.name not in named)]
    cand = [with_builtins(r) for r in candidate]
    base = [with_builtins(r) for r in baseline] if baseline is not None else None
    return Scorecard(
        candidate=summarize(cand, everything),
        baseline=summarize(base, everything) if base is not None else None,
        comparisons=compare(base, cand, everything, settings, family) if base is not None else [],
        settings=settings,
    )
