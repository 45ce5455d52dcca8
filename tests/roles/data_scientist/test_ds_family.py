"""Holm's family: the gate's metrics are corrected among themselves, descriptive ones apart."""

from __future__ import annotations

from roles.data_scientist.comparison import compare
from roles.data_scientist.scores import ItemResult, MetricInfo, Sample, Score


def results(values: dict[str, list[float]]) -> list[ItemResult]:
    n = len(next(iter(values.values())))
    return [
        ItemResult(
            sample=Sample(item_id=str(i), output="x"),
            scores={m: Score.from_check(v[i] == 1.0) for m, v in values.items()},
        )
        for i in range(n)
    ]


def test_adding_descriptive_metrics_never_changes_the_gated_p_value() -> None:
    n = 30
    base = {"target": [0.0] * 8 + [1.0] * 22}
    cand = {"target": [1.0] * n}
    noise = {f"extra{k}": [float((i + k) % 2) for i in range(n)] for k in range(5)}
    metric = MetricInfo(name="target", kind="binary")
    extras = [MetricInfo(name=name, kind="binary") for name in noise]

    alone = compare(results(base), results(cand), [metric])[0]
    crowded = compare(
        results({**base, **noise}), results({**cand, **noise}), [metric, *extras], family={"target"}
    )
    row = next(r for r in crowded if r.metric == "target")
    assert row.p_adjusted == alone.p_adjusted and row.verdict == "improved"
    unfamilied = compare(results({**base, **noise}), results({**cand, **noise}), [metric, *extras])
    assert next(r for r in unfamilied if r.metric == "target").p_adjusted >= row.p_adjusted
