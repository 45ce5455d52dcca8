"""Metrics: pure functions over lists of scores or samples, safe on empty lists.

An empty list, or a list where nothing was scored, gives ``None`` rather than a zero.
Latency and cost describe answered samples (``error`` is None); failed calls are what
``error_rate`` counts.

The built-in metrics every scorecard carries, per item, beside the suite's scorers:
``error_rate`` (1.0 when the call failed), ``latency_s`` (seconds) and ``cost_per_item``
(USD; unscored when unknown). Lower is better for all three.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from roles.data_scientist.scores import MetricInfo, Sample, Score

BUILTIN_METRICS: dict[str, MetricInfo] = {
    "error_rate": MetricInfo(name="error_rate", kind="binary", higher_is_better=False),
    "latency_s": MetricInfo(name="latency_s", kind="continuous", higher_is_better=False),
    "cost_per_item": MetricInfo(name="cost_per_item", kind="continuous", higher_is_better=False),
}


def mean(scores: Sequence[Score]) -> float | None:
    """Mean value of the scored scores."""
    values = [s.value for s in scores if s.value is not None]
    return statistics.fmean(values) if values else None


def pass_rate(scores: Sequence[Score]) -> float | None:
    """Share passed among scores that say pass or fail."""
    verdicts = [s.passed for s in scores if s.passed is not None]
    return sum(verdicts) / len(verdicts) if verdicts else None


def unscored_count(scores: Sequence[Score]) -> int:
    return sum(1 for s in scores if s.unscored)


def error_rate(samples: Sequence[Sample]) -> float | None:
    """Share of samples whose model call failed."""
    return sum(1 for s in samples if s.error is not None) / len(samples) if samples else None


def p95_latency(samples: Sequence[Sample]) -> float | None:
    """95th percentile latency of answered samples (numpy's linear interpolation)."""
    latencies = [s.latency_s for s in samples if s.error is None]
    if not latencies:
        return None
    if len(latencies) == 1:
        return float(latencies[0])
    # 'inclusive' is numpy.percentile's default (linear) method; numpy is not loaded for this.
    return statistics.quantiles(latencies, n=100, method="inclusive")[94]


def mean_cost(samples: Sequence[Sample]) -> float | None:
    """Mean cost of answered samples; None if any of their costs is unknown."""
    costs = [s.cost_usd for s in samples if s.error is None]
    if not costs or any(c is None for c in costs):
        return None
    return statistics.fmean([c for c in costs if c is not None])


def builtin_scores(sample: Sample) -> dict[str, Score]:
    """The built-in metrics of one sample, as scores."""
    failed = sample.error is not None
    scores = {"error_rate": Score(value=1.0 if failed else 0.0, explanation=sample.error)}
    if failed:
        scores["latency_s"] = Score.could_not_score("model call failed")
        scores["cost_per_item"] = Score.could_not_score("model call failed")
        return scores
    scores["latency_s"] = Score(value=sample.latency_s)
    scores["cost_per_item"] = (
        Score(value=sample.cost_usd)
        if sample.cost_usd is not None
        else Score.could_not_score("cost unknown")
    )
    return scores
