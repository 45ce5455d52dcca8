"""Candidate vs baseline on the same items, per metric and per slice: descriptive rows.

Items pair by ``item_id``; a pair counts for a metric only when both sides scored it.
Every row counts what it could not use: items unscored (or absent) on each side. Slices
are ``all`` plus every dataset tag carried by at least ``min_slice_items`` paired items; a
continuous metric's tag slice is tested only from ``MIN_CONTINUOUS_SLICE_PAIRS`` pairs (its
bootstrap-t needs them under skew), and a smaller one is reported as too small, untested.

Each row reports one estimand, the mean paired difference, with its interval, its test
and its MDE (see ``statistics`` and ``power``), all at face value (no correction: which
rows form a family of decisions is the gate's business). ``verdict`` reads the row alone:

- ``improved`` / ``regressed``: p < alpha, in the better / worse direction;
- ``not_significant``: tested, p >= alpha (``mde`` says how large a change could hide);
- ``untestable``: too few pairs, or no spread to test with.

The ``all`` row also carries ``worst_case``: the same statistics over every item, with the
candidate's unscored items counted as failures (its worst observed value) and the
baseline's as passes (its best) — the sensitivity check of a gate that held.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from roles.data_scientist import power as pw
from roles.data_scientist.scores import ItemResult, MetricInfo, MetricKind
from roles.data_scientist.statistics import PairedStats, StatsSettings
from roles.errors import InputError

Outcome = Literal["improved", "regressed", "not_significant", "untestable"]
ALL = "all"
TEST_NAMES: dict[MetricKind, str] = {"binary": "exact McNemar", "continuous": "bootstrap-t"}
MIN_CONTINUOUS_SLICE_PAIRS = 50


class Comparison(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    slice: str
    kind: MetricKind
    higher_is_better: bool
    gated: bool  # the gate decides on this metric; else the row is descriptive only
    n_pairs: int
    n_excluded: int  # items of the slice not in a pair
    n_unscored_baseline: int  # of the slice's items, unscored or absent on that side
    n_unscored_candidate: int
    baseline: float | None  # mean over the pairs
    candidate: float | None
    diff: float | None  # candidate - baseline
    ci_low: float | None  # at 1 - alpha
    ci_high: float | None
    test: str
    p_value: float | None  # two-sided, uncorrected
    mde: float | None  # at alpha, with the settings' power, of this row's test
    verdict: Outcome
    stats: PairedStats
    worst_case: PairedStats | None = None  # ``all`` rows only

    def better(self, diff: float) -> bool:
        return diff > 0 if self.higher_is_better else diff < 0


def by_item(results: Sequence[ItemResult], side: str) -> dict[str, ItemResult]:
    indexed: dict[str, ItemResult] = {}
    for result in results:
        if result.sample.item_id in indexed:
            raise InputError(f"{side} run holds item {result.sample.item_id!r} twice")
        indexed[result.sample.item_id] = result
    return indexed


def slices(
    baseline: dict[str, ItemResult], candidate: dict[str, ItemResult], min_items: int
) -> dict[str, list[str]]:
    """``all`` (every item of either run) and each tag with at least ``min_items`` items
    present in both runs."""
    common = [item for item in candidate if item in baseline]
    out = {ALL: [*candidate, *(item for item in baseline if item not in candidate)]}
    tags = sorted({tag for item in common for tag in candidate[item].sample.tags})
    for tag in tags:
        items = [item for item in common if tag in candidate[item].sample.tags]
        if len(items) >= min_items and tag != ALL:
            out[tag] = items
    return out


def compare(
    baseline: Sequence[ItemResult],
    candidate: Sequence[ItemResult],
    metrics: Sequence[MetricInfo],
    settings: StatsSettings | None = None,
    family: Collection[str] | None = None,
) -> list[Comparison]:
    """Every metric × slice, paired; ``family`` names the metrics the gate decides on."""
    settings = settings or StatsSettings()
    base, cand = by_item(baseline, "baseline"), by_item(candidate, "candidate")
    rows: list[Comparison] = []
    for name, items in slices(base, cand, settings.min_slice_items).items():
        for metric in metrics:
            values = [(_value(base, i, metric), _value(cand, i, metric)) for i in items]
            row = _row(metric, name, values, settings, family is None or metric.name in family)
            if name == ALL:
                row = row.model_copy(update={"worst_case": _worst_case(metric, values)})
            rows.append(row)
    return rows


def _value(results: dict[str, ItemResult], item: str, metric: MetricInfo) -> float | None:
    result = results.get(item)
    score = result.scores.get(metric.name) if result else None
    if score is None or score.value is None:
        return None
    if metric.kind == "binary" and score.value not in (0.0, 1.0):
        raise InputError(f"binary metric {metric.name!r} has a value outside 0/1 ({item!r})")
    return score.value


def _row(
    metric: MetricInfo,
    slice_name: str,
    values: list[tuple[float | None, float | None]],
    settings: StatsSettings,
    gated: bool,
) -> Comparison:
    pairs = [(b, c) for b, c in values if b is not None and c is not None]
    stats = PairedStats.from_pairs(pairs, metric.kind)
    too_small = (
        metric.kind == "continuous"
        and slice_name != ALL
        and len(pairs) < MIN_CONTINUOUS_SLICE_PAIRS
    )
    interval = None if too_small else stats.interval(1 - settings.alpha)
    p_value = None if too_small else stats.p_value()
    verdict: Outcome = "untestable"
    if p_value is not None and interval is not None:
        verdict = "not_significant"
        if p_value < settings.alpha and stats.mean_diff:
            better = stats.mean_diff > 0 if metric.higher_is_better else stats.mean_diff < 0
            verdict = "improved" if better else "regressed"
    spread = stats.discordance if metric.kind == "binary" else (stats.sd_diff or 0.0)
    n = len(pairs)
    return Comparison(
        metric=metric.name,
        slice=slice_name,
        kind=metric.kind,
        higher_is_better=metric.higher_is_better,
        gated=gated,
        n_pairs=n,
        n_excluded=len(values) - n,
        n_unscored_baseline=sum(1 for b, _ in values if b is None),
        n_unscored_candidate=sum(1 for _, c in values if c is None),
        baseline=sum(b for b, _ in pairs) / n if n else None,
        candidate=sum(c for _, c in pairs) / n if n else None,
        diff=stats.mean_diff,
        ci_low=interval[0] if interval else None,
        ci_high=interval[1] if interval else None,
        test=f"untested: slice under {MIN_CONTINUOUS_SLICE_PAIRS} pairs"
        if too_small
        else TEST_NAMES[metric.kind],
        p_value=p_value,
        mde=None
        if too_small
        else pw.mde(metric.kind, n=n, spread=spread, alpha=settings.alpha, power=settings.power),
        verdict=verdict,
        stats=stats,
    )


def _worst_case(
    metric: MetricInfo, values: list[tuple[float | None, float | None]]
) -> PairedStats | None:
    """Candidate's unscored at the worst observed value, baseline's at the best."""
    seen = [v for pair in values for v in pair if v is not None]
    if not seen or all(b is not None and c is not None for b, c in values):
        return None
    best, worst = (max(seen), min(seen)) if metric.higher_is_better else (min(seen), max(seen))
    if metric.kind == "binary":
        best, worst = (1.0, 0.0) if metric.higher_is_better else (0.0, 1.0)
    filled = [(best if b is None else b, worst if c is None else c) for b, c in values]
    return PairedStats.from_pairs(filled, metric.kind)
