"""Candidate vs baseline on the same items, per metric and per slice.

Items pair by ``item_id``; a pair counts for a metric only when both sides scored it
(the rest are ``n_excluded``). Slices are ``all`` plus every dataset tag carried by at
least ``min_slice_items`` paired items. Binary metrics are tested with exact McNemar,
continuous ones with Wilcoxon signed-rank; all p-values of one comparison (metrics ×
slices) form one Holm family. Outcomes:

- ``improved`` / ``regressed``: Holm-adjusted p < alpha, in the better / worse direction;
- ``unchanged``: tested, not significant (``mde`` says how large a change could hide);
- ``inconclusive``: too few pairs to test (n_pairs < 2).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from roles.data_scientist import statistics as st
from roles.data_scientist.scores import ItemResult, MetricInfo, MetricKind
from roles.errors import InputError

Outcome = Literal["improved", "regressed", "unchanged", "inconclusive"]
ALL = "all"


class Comparison(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    slice: str
    kind: MetricKind
    higher_is_better: bool
    n_pairs: int
    n_excluded: int
    baseline: float | None  # mean over the pairs
    candidate: float | None
    diff: float | None  # candidate - baseline
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_adjusted: float | None
    mde: float | None
    verdict: Outcome


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
    """``all`` and each tag with at least ``min_items`` items present in both runs."""
    common = [item for item in candidate if item in baseline]
    out = {ALL: common}
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
    settings: st.StatsSettings | None = None,
    family: Collection[str] | None = None,
) -> list[Comparison]:
    """Every metric × slice, paired. Holm's correction runs within ``family`` (the metrics
    a gate decides on) and, separately, within the other, descriptive metrics: adding a
    descriptive scorer never changes a gate's verdict. Without a family, all rows are one."""
    settings = settings or st.StatsSettings()
    base, cand = by_item(baseline, "baseline"), by_item(candidate, "candidate")
    n_union = len(set(base) | set(cand))
    rows: list[Comparison] = []
    for name, items in slices(base, cand, settings.min_slice_items).items():
        n_slice = n_union if name == ALL else len(items)
        for metric in metrics:
            pairs = _pairs(base, cand, items, metric)
            rows.append(_row(metric, name, pairs, n_slice - len(pairs), settings))
    if not family:
        return _adjust(rows, settings.alpha)
    gated = [i for i, r in enumerate(rows) if r.metric in family]
    other = [i for i, r in enumerate(rows) if r.metric not in family]
    out = list(rows)
    for group in (gated, other):
        for i, row in zip(group, _adjust([rows[i] for i in group], settings.alpha), strict=True):
            out[i] = row
    return out


def _pairs(
    base: dict[str, ItemResult], cand: dict[str, ItemResult], items: list[str], metric: MetricInfo
) -> list[tuple[float, float]]:
    pairs = []
    for item in items:
        b, c = base[item].scores.get(metric.name), cand[item].scores.get(metric.name)
        if b is None or c is None or b.value is None or c.value is None:
            continue
        if metric.kind == "binary" and not {b.value, c.value} <= {0.0, 1.0}:
            raise InputError(f"binary metric {metric.name!r} has a value outside 0/1 ({item!r})")
        pairs.append((b.value, c.value))
    return pairs


def _row(
    metric: MetricInfo,
    slice_name: str,
    pairs: list[tuple[float, float]],
    n_excluded: int,
    settings: st.StatsSettings,
) -> Comparison:
    import numpy as np  # loaded only when two runs are compared

    b = np.array([p[0] for p in pairs], dtype=float)
    c = np.array([p[1] for p in pairs], dtype=float)
    d = c - b
    binary = metric.kind == "binary"
    if binary:
        p_value: float | None = st.mcnemar_p(*st.discordant(d)) if d.size >= 2 else None
    else:
        p_value = st.wilcoxon_p(d)
    ci = st.bootstrap_ci(
        d,
        confidence_level=settings.confidence_level,
        n_resamples=settings.n_resamples,
        seed=settings.seed,
        method=settings.bootstrap_method,
    )
    return Comparison(
        metric=metric.name,
        slice=slice_name,
        kind=metric.kind,
        higher_is_better=metric.higher_is_better,
        n_pairs=len(pairs),
        n_excluded=n_excluded,
        baseline=float(b.mean()) if pairs else None,
        candidate=float(c.mean()) if pairs else None,
        diff=float(d.mean()) if pairs else None,
        ci_low=ci[0] if ci else None,
        ci_high=ci[1] if ci else None,
        p_value=p_value,
        p_adjusted=None,
        mde=st.mde(d, alpha=settings.alpha, power=settings.power, binary=binary),
        verdict="inconclusive",
    )


def _adjust(rows: list[Comparison], alpha: float) -> list[Comparison]:
    tested = [i for i, row in enumerate(rows) if row.p_value is not None]
    adjusted = st.holm([rows[i].p_value or 0.0 for i in tested])
    out = list(rows)
    for i, p_adj in zip(tested, adjusted, strict=True):
        row = rows[i]
        outcome: Outcome = "unchanged"
        if p_adj < alpha and row.diff:
            better = row.diff > 0 if row.higher_is_better else row.diff < 0
            outcome = "improved" if better else "regressed"
        out[i] = row.model_copy(update={"p_adjusted": p_adj, "verdict": outcome})
    return out
