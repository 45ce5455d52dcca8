"""A scorecard and its verdict as rows and Markdown (for the CLI, Prefect artifacts, Slack)."""

from __future__ import annotations

from typing import Any

from roles.data_scientist import RunSummary, Scorecard, Verdict


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:.0f}"


def summary_rows(summary: RunSummary) -> list[dict[str, Any]]:
    """One row per metric of one run: mean, pass rate, scored and unscored counts."""
    return [
        {
            "metric": name,
            "mean": m.mean,
            "pass_rate": m.pass_rate,
            "scored": m.n_scored,
            "unscored": m.n_unscored,
        }
        for name, m in summary.metrics.items()
    ]


def comparison_rows(card: Scorecard) -> list[dict[str, Any]]:
    return [row.model_dump(mode="json") for row in card.comparisons]


def scorecard_markdown(card: Scorecard, verdict: Verdict, *, title: str) -> str:
    lines = [f"# {title}", "", f"**Verdict: {'PASS' if verdict.passed else 'FAIL'}**", ""]
    lines += [f"- {reason}" for reason in verdict.reasons]
    lines += ["", "## Candidate", "", _run_line(card.candidate), ""]
    if card.baseline is not None:
        lines += ["## Baseline", "", _run_line(card.baseline), ""]
    if card.comparisons:
        lines += [
            "## Paired comparison (candidate − baseline)",
            "",
            "| metric | slice | n | baseline | candidate | diff | CI | p (Holm) | MDE | verdict |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in card.comparisons:
            ci = "-" if r.ci_low is None else f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]"
            lines.append(
                f"| {r.metric} | {r.slice} | {r.n_pairs} | {_fmt(r.baseline)} | "
                f"{_fmt(r.candidate)} | {_fmt(r.diff)} | {ci} | {_fmt(r.p_adjusted)} | "
                f"{_fmt(r.mde)} | {r.verdict} |"
            )
    else:
        lines += ["## Metrics", "", "| metric | mean | pass rate | unscored |", "|---|---|---|---|"]
        for row in summary_rows(card.candidate):
            lines.append(
                f"| {row['metric']} | {_fmt(row['mean'])} | {_fmt(row['pass_rate'])} | "
                f"{row['unscored']} |"
            )
    return "\n".join(lines) + "\n"


def _run_line(summary: RunSummary) -> str:
    cost = _fmt(summary.cost_per_item_usd) if summary.cost_per_item_usd is not None else "unknown"
    return (
        f"{summary.n_items} items, error rate {_fmt(summary.error_rate)}, "
        f"p95 latency {_fmt(summary.latency_p95_s)} s, cost/item {cost}"
    )
