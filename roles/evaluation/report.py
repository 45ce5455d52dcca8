"""A scorecard and its verdict as rows and Markdown (for the CLI, Prefect artifacts, Slack)."""

from __future__ import annotations

from typing import Any

from roles.data_scientist import Comparison, RunSummary, Scorecard, Verdict


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
    return [
        row.model_dump(mode="json", exclude={"stats", "worst_case"}) for row in card.comparisons
    ]


def verdict_word(verdict: Verdict) -> str:
    """PASS, FAIL, or INCONCLUSIVE with where the change goes."""
    if verdict.outcome == "inconclusive":
        return (
            "INCONCLUSIVE (goes on to review, flagged)"
            if verdict.passed
            else "INCONCLUSIVE (fails)"
        )
    return verdict.outcome.upper()


def comparison_cells(r: Comparison) -> list[str]:
    """One comparison row as display cells, in ``COMPARISON_COLUMNS`` order."""
    ci = "-" if r.ci_low is None else f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]"
    return [
        r.metric, r.slice, "gated" if r.gated else "descriptive", str(r.n_pairs),
        f"{r.n_unscored_baseline}/{r.n_unscored_candidate}", _fmt(r.baseline),
        _fmt(r.candidate), _fmt(r.diff), ci, f"{r.test} {_fmt(r.p_value)}", _fmt(r.mde),
        r.verdict.replace("_", " "),
    ]  # fmt: skip


COMPARISON_COLUMNS = [
    "metric", "slice", "role", "n", "unscored b/c", "baseline", "candidate", "diff", "CI",
    "test p", "MDE", "reading",
]  # fmt: skip


def scorecard_markdown(card: Scorecard, verdict: Verdict, *, title: str) -> str:
    lines = [f"# {title}", "", f"**Verdict: {verdict_word(verdict)}**", ""]
    lines += [f"- {reason}" for reason in verdict.reasons]
    lines += ["", "## Candidate", "", _run_line(card.candidate), ""]
    if card.baseline is not None:
        lines += ["## Baseline", "", _run_line(card.baseline), ""]
    if card.comparisons:
        level = f"{1 - card.settings.alpha:.0%}"
        lines += [
            "## Paired comparison (candidate − baseline)",
            "",
            f"Each row at face value: mean difference, its {level} interval, the test of the "
            f"same difference (uncorrected) and the smallest difference it detects with "
            f"{card.settings.power:.0%} power (MDE). Decisions are in the verdict above.",
            "",
            "| " + " | ".join(COMPARISON_COLUMNS) + " |",
            "|" + "---|" * len(COMPARISON_COLUMNS),
        ]
        lines += ["| " + " | ".join(comparison_cells(r)) + " |" for r in card.comparisons]
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
