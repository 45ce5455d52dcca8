"""The gate: a policy turns a scorecard into a three-valued verdict that lists every reason.

::

    verdict = evaluate_gate(policy, scorecard)
    verdict.outcome    # "pass" | "fail" | "inconclusive"
    verdict.passed     # may go on to review: pass, or an inconclusive that on_inconclusive sends there
    verdict.checks     # one CheckResult (held / broken / inconclusive) per gated claim

Every check is judged, none hiding another (see ``checks`` for the statistics):

- target (the primary hypothesis, on all items, at alpha, uncorrected; a change's
  evaluation passes the alpha spent over repeated attempts, ``target_alpha``): ``improve``
  is a superiority claim; ``not_regress`` a non-inferiority claim within its ``margin``.
- guardrails: non-inferiority within their margins, each at one-sided alpha / 2. The gate
  passes only if every one holds (an intersection-union test), so no correction is needed.
- unscored share: per gated metric and side, at most ``max_unscored_share`` of the items;
  the candidate over it breaks the check, the baseline over it leaves it inconclusive.
- slice regressions (``flag_regressions``): the tag slices of guardrail metrics (``all``:
  of every metric, and the ``all`` rows nothing else judges) form one family, Holm-
  corrected; a significant regression in the worse direction breaks the gate.
- hard limits and ``thresholds`` apply to the candidate alone; with no baseline (a new
  prompt) they are all that is judged, and the notes say so.

Descriptive rows (metrics the gate does not name) never enter a family or a decision.
``untrusted`` (metric → reason) makes an LLM judge's metric descriptive: its scores are
shown on the scorecard, the policy's claims on it are dropped, and the reason is a note —
except a target, which is then an inconclusive check (the verdict is never a pass because
the one claim that mattered was dropped).

``on_inconclusive`` says where an inconclusive verdict goes (``review`` or ``fail``); unset,
it fails when a ``not_regress`` target (its judge untrusted included) or a guardrail is
inconclusive, and goes to review otherwise (an ``improve`` target without a significant
gain or with an untrusted judge, the baseline's unscored share).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel

from roles.data_scientist import checks as ck
from roles.data_scientist.checks import CheckOutcome, CheckResult
from roles.data_scientist.comparison import ALL, Comparison
from roles.data_scientist.policy import GatePolicy, Guardrail, Target, Threshold
from roles.data_scientist.scorecard import Scorecard
from roles.data_scientist.statistics import holm

__all__ = ["GatePolicy", "Guardrail", "Target", "Threshold", "Verdict", "evaluate_gate"]
PREFIX: dict[CheckOutcome, str] = {"broken": "FAIL: ", "inconclusive": "INCONCLUSIVE: ",
                                   "held": "ok: "}  # fmt: skip


class Verdict(BaseModel):
    passed: bool  # may go on to review
    outcome: Literal["pass", "fail", "inconclusive"]
    checks: list[CheckResult]
    reasons: list[str]  # failures first ("FAIL: …"), then "INCONCLUSIVE: …", "ok: …", "note: …"
    failures: list[str]  # the broken checks' reasons; empty when nothing broke
    inconclusive: list[str]  # the inconclusive checks' reasons: the flags a reviewer sees

    def broken_checks(self) -> list[dict[str, str]]:
        """What broke (``target correct``, ``limit``) and why, as the handoff keeps it."""
        return [
            {"check": f"{c.kind} {c.metric or ''}".strip(), "reason": c.reason}
            for c in self.checks
            if c.outcome == "broken"
        ]


def evaluate_gate(
    policy: GatePolicy,
    card: Scorecard,
    *,
    untrusted: Mapping[str, str] | None = None,
    target_alpha: float | None = None,
) -> Verdict:
    """``target_alpha``: the target's level when it is not the settings' alpha (spent over
    repeated attempts against one production: ``roles.data_scientist.attempts``)."""
    notes: list[str] = []
    results: list[CheckResult] = []
    target = policy.target
    doubted = target if target and untrusted and target.metric in untrusted else None
    if untrusted:
        # with a baseline, the untrusted target's check below says it; without one, a note
        named = {
            metric
            for field, metric in policy.metric_refs()
            if field != "target.metric" or card.baseline is None
        }
        notes += [f"note: {why}" for metric, why in untrusted.items() if metric in named]
        policy, card = _without(policy, card, set(untrusted))
    if card.baseline is None:
        notes.append("note: no baseline (new prompt): judged hard limits and thresholds only")
    else:
        results += (
            [_untrusted_target(doubted, (untrusted or {})[doubted.metric])] if doubted else []
        )
        results += _target(policy, card, target_alpha)
        results += [_guardrail(guard, card) for guard in policy.guardrails]
        results += _regressions(policy, card)
    results += _unscored(policy, card)
    results += _limits(policy, card)
    results += [_threshold(bound, card) for bound in policy.thresholds]
    order = ("broken", "inconclusive", "held")
    results.sort(key=lambda r: order.index(r.outcome))
    failures = [r.reason for r in results if r.outcome == "broken"]
    flags = [r.reason for r in results if r.outcome == "inconclusive"]
    outcome: Literal["pass", "fail", "inconclusive"] = (
        "fail" if failures else "inconclusive" if flags else "pass"
    )
    reviewed = outcome == "inconclusive" and _reviews(policy, target, results)
    if outcome == "inconclusive":
        goes = "goes on to review with these flags" if reviewed else (
            "fails (on_inconclusive: fail)" if policy.on_inconclusive == "fail" else
            "fails (on_inconclusive unset: an inconclusive not_regress target or guardrail "
            "fails; set on_inconclusive: review to send it to the experts)")  # fmt: skip
        notes.append(f"note: {len(flags)} check(s) inconclusive: the change {goes}")
    return Verdict(
        passed=outcome == "pass" or reviewed,
        outcome=outcome,
        checks=results,
        reasons=[PREFIX[r.outcome] + r.reason for r in results] + notes,
        failures=failures,
        inconclusive=flags,
    )


def _reviews(policy: GatePolicy, target: Target | None, results: list[CheckResult]) -> bool:
    """Whether an inconclusive verdict goes on to review: as ``on_inconclusive`` says, and
    when it is unset, unless a non-inferiority claim (a ``not_regress`` target, a guardrail)
    is what could not be shown."""
    if policy.on_inconclusive is not None:
        return policy.on_inconclusive == "review"
    not_regress = target is not None and target.must == "not_regress"
    return not any(
        r.outcome == "inconclusive"
        and (r.kind == "guardrail" or (r.kind == "target" and not_regress))
        for r in results
    )


def _untrusted_target(target: Target, why: str) -> CheckResult:
    """An untrusted judge's metric as the target: undecided, never a pass by omission."""
    why = why.removesuffix(": its metric is shown, not gated")
    return CheckResult(
        kind="target",
        metric=target.metric,
        outcome="inconclusive",
        reason=f"target {target.metric} cannot be judged: {why}; it counts once the judge is "
        "trusted: more labelled pairs (the experts' review votes, or `human` labels in the "
        "dataset), then `promptloop judge calibrate`",
    )


def _without(
    policy: GatePolicy, card: Scorecard, metrics: set[str]
) -> tuple[GatePolicy, Scorecard]:
    """The policy with no claim on ``metrics``, and a card whose rows of them no family sees."""
    target = policy.target if policy.target and policy.target.metric not in metrics else None
    kept = policy.model_copy(
        update={
            "target": target,
            "guardrails": [g for g in policy.guardrails if g.metric not in metrics],
            "thresholds": [t for t in policy.thresholds if t.metric not in metrics],
        }
    )
    rows = [row for row in card.comparisons if row.metric not in metrics]
    return kept, card.model_copy(update={"comparisons": rows})


def _missing(kind: ck.CheckKind, metric: str, label: str) -> CheckResult:
    return CheckResult(kind=kind, metric=metric, outcome="broken",
                       reason=f"{label}: not in the scorecard")  # fmt: skip


def _target(policy: GatePolicy, card: Scorecard, alpha: float | None) -> list[CheckResult]:
    target = policy.target
    if target is None:
        return []
    row = card.row(target.metric)
    if row is None:
        return [_missing("target", target.metric, f"target {target.metric}")]
    if target.must == "improve":
        return [ck.superiority(row, card.settings, alpha)]
    label = f"target {target.metric} (must not regress by more than {target.margin:g})"
    return [ck.noninferiority(row, target.margin, card.settings, "target", label, alpha)]


def _guardrail(guard: Guardrail, card: Scorecard) -> CheckResult:
    row = card.row(guard.metric)
    if row is None:
        return _missing("guardrail", guard.metric, f"guardrail {guard.metric}")
    return ck.noninferiority(
        row, guard.margin, card.settings, "guardrail", f"guardrail {guard.metric}"
    )


def _regressions(policy: GatePolicy, card: Scorecard) -> list[CheckResult]:
    if policy.flag_regressions == "off":
        return []
    guarded = {g.metric for g in policy.guardrails}
    judged = guarded | ({policy.target.metric} if policy.target else set())
    family = [
        row
        for row in card.comparisons
        if row.p_value is not None
        and (
            (row.slice != ALL and (row.metric in guarded or policy.flag_regressions == "all"))
            or (row.slice == ALL and policy.flag_regressions == "all" and row.metric not in judged)
        )
    ]
    if not family:
        return []
    adjusted = holm([1.0 if row.p_value is None else row.p_value for row in family])
    out = [
        _regressed(row, p_adj, len(family), card)
        for row, p_adj in zip(family, adjusted, strict=True)
        if p_adj < card.settings.alpha and row.diff is not None and not row.better(row.diff)
    ]
    if not out:
        out.append(CheckResult(kind="slice_regression", metric=None, outcome="held",
                               reason=f"no significant regression among {len(family)} slice "
                                      f"test(s) (Holm-corrected)"))  # fmt: skip
    return out


def _regressed(row: Comparison, p_adj: float, m: int, card: Scorecard) -> CheckResult:
    level = 1 - card.settings.alpha
    return CheckResult(
        kind="slice_regression",
        metric=row.metric,
        outcome="broken",
        reason=f"{row.metric} regressed significantly in slice {row.slice!r} "
        f"(Holm p {p_adj:.3g} over {m} slice tests; {ck.describe(row, level=level)})",
    )


def _unscored(policy: GatePolicy, card: Scorecard) -> list[CheckResult]:
    """Per gated metric: each side's share of items it could not score (or lacks)."""
    limit, out = policy.max_unscored_share, []
    for metric in dict.fromkeys(name for _, name in policy.metric_refs()):
        row, summary = card.row(metric), card.candidate.metrics.get(metric)
        if row is not None:
            total = row.n_pairs + row.n_excluded
            counts = {"candidate": row.n_unscored_candidate, "baseline": row.n_unscored_baseline}
        elif summary is not None:
            total, counts = summary.n_scored + summary.n_unscored, {"candidate": summary.n_unscored}
        else:
            continue
        over = [side for side, k in counts.items() if k > limit * total]
        outcome: CheckOutcome = (
            "broken" if "candidate" in over else "inconclusive" if over else "held"
        )
        shares = ", ".join(
            f"{side} {k} of {total} ({k / total if total else 1:.0%})" for side, k in counts.items()
        )
        verb = f"exceeds ({' and '.join(over)})" if over else "within"
        out.append(CheckResult(
            kind="unscored", metric=metric, outcome=outcome,
            reason=f"{metric} unscored: {shares}; {verb} max_unscored_share {limit:g}",
        ))  # fmt: skip
    return out


def _limits(policy: GatePolicy, card: Scorecard) -> list[CheckResult]:
    run = card.candidate
    checks = [
        ("error rate", run.error_rate, policy.max_error_rate, "max_error_rate"),
        ("p95 latency (s)", run.latency_p95_s, policy.max_p95_latency_s, "max_p95_latency_s"),
        ("cost per item (USD)", run.cost_per_item_usd, policy.max_cost_per_item_usd,
         "max_cost_per_item_usd"),
    ]  # fmt: skip
    out = []
    for what, value, limit, name in checks:
        if limit is None:
            continue
        if value is None:
            text, ok = f"{what} unknown, so {name} {limit:g} cannot be checked", False
        else:
            ok = value <= limit
            text = f"{what} {value:.4g} {'within' if ok else 'exceeds'} {name} {limit:g}"
        out.append(CheckResult(kind="limit", metric=None, outcome="held" if ok else "broken",
                               reason=f"{text} ({run.n_items} items)"))  # fmt: skip
    return out


def _threshold(bound: Threshold, card: Scorecard) -> CheckResult:
    """The candidate's mean over all items, or over one tag's (``slice``), within bounds."""
    run = card.candidate
    metrics = run.metrics if bound.slice is None else run.slices.get(bound.slice, {})
    where = "" if bound.slice is None else f" in slice {bound.slice!r}"
    summary = metrics.get(bound.metric)
    mean = summary.mean if summary else None
    if summary is None or mean is None:
        why = "nothing scored" + ("" if metrics else " (no item carries that tag)")
        return CheckResult(kind="threshold", metric=bound.metric, outcome="broken",
                           reason=f"threshold on {bound.metric}{where}: {why}")  # fmt: skip
    ok = (bound.min is None or mean >= bound.min) and (bound.max is None or mean <= bound.max)
    return CheckResult(
        kind="threshold", metric=bound.metric, outcome="held" if ok else "broken",
        reason=f"{bound.metric} mean {mean:.4g}{where} (min {bound.min}, max {bound.max}; "
        f"{summary.n_scored} scored, {summary.n_unscored} unscored)",
    )  # fmt: skip
