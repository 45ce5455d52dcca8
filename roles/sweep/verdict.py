"""How a sweep reads production's scorecard against its accepted baseline.

The prompt's own gate, read as "must not get worse": a target that had to improve must
now only not regress (margin 0: a significant drop breaks it, no change is no finding);
guardrails, slice regressions (Holm-corrected), hard limits and thresholds as they are.
A broken check is a regression; an inconclusive one is not (no evidence of a drop).::

    finding = read_scorecard(card, suite.gate)
    finding.regressed, finding.reasons, finding.lines, finding.moved
"""

from __future__ import annotations

from dataclasses import dataclass

from roles.data_scientist import GatePolicy, Scorecard, Target, evaluate_gate
from roles.data_scientist.comparison import ALL


def sweep_gate(gate: GatePolicy) -> GatePolicy:
    """The gate as a sweep applies it: nothing may get significantly worse."""
    target = gate.target
    if target is not None and target.must == "improve":
        target = Target(metric=target.metric, must="not_regress", margin=0.0)
    return gate.model_copy(update={"target": target, "on_inconclusive": "review"})


def card_n(card: Scorecard) -> int:
    return max((row.n_pairs for row in card.comparisons if row.slice == ALL), default=0)


@dataclass(frozen=True)
class Finding:
    regressed: bool
    reasons: list[str]  # the gate's, failures first
    lines: list[str]  # the scorecard: one line per gated metric, baseline → now
    moved: list[str]  # gated metrics' slices whose change is significant, at face value


def read_scorecard(card: Scorecard, gate: GatePolicy) -> Finding:
    verdict = evaluate_gate(sweep_gate(gate), card)
    gated = {metric for _, metric in gate.metric_refs()}
    lines, moved = [], []
    for row in card.comparisons:
        if row.diff is None:
            continue
        p = "untested" if row.p_value is None else f"p {row.p_value:.3g}"
        text = (
            f"{row.metric}: {row.baseline:.3g} → {row.candidate:.3g} "
            f"({row.diff:+.3g}, {row.test} {p}, n={row.n_pairs})"
        )
        if row.slice == ALL and row.metric in gated:
            lines.append(text)
        elif row.slice != ALL and row.metric in gated and row.verdict in ("regressed", "improved"):
            moved.append(f"slice {row.slice!r} {row.verdict}: {text}")
    # The gate's own notes speak of a change going to review: a sweep has neither.
    reasons = [r for r in verdict.reasons if not r.startswith("note:")]
    if verdict.outcome == "inconclusive":
        flagged = sum(1 for r in verdict.checks if r.outcome == "inconclusive")
        reasons.append(
            f"note: {flagged} check(s) inconclusive: no significant drop, and n={card_n(card)} "
            "cannot rule out a small one; a sweep alerts on a significant drop only"
        )
    return Finding(
        regressed=verdict.outcome == "fail",
        reasons=reasons,
        lines=lines,
        moved=moved,
    )
