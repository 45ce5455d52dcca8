"""The scorecard in one plain sentence for the person who wrote the change, before any table.

::

    summary_line(card, policy, candidate=confusions(cand_results, suite.scorers))
    # "correct rose from 0 to 0.53, but the candidate answers 'positive' for every item
    #  and gets 19 of 20 'negative' items wrong"

The sentence names the metric that matters most (the gate's target, else its first
guardrail on a scorer, else the suite's first scorer), both sides' levels, and then what is
still bad about the candidate on that metric, in counts of items:

- a categorical metric (see ``confusion``): a classifier that says one class for everything,
  and the class it gets most wrong, when it gets at least half of that class wrong;
- another pass/fail metric: the tag slice it does worst on, when at least half of it fails,
  else the whole run when at least half of it fails.

Nothing is said to be bad when no part is failed at least half the time: the verdict's
reasons carry the finer detail.
"""

from __future__ import annotations

from collections.abc import Sequence

from roles.data_scientist.comparison import ALL
from roles.data_scientist.confusion import Confusion, one_class_note, worst_class
from roles.data_scientist.metrics import BUILTIN_METRICS
from roles.data_scientist.policy import GatePolicy
from roles.data_scientist.scorecard import MetricSummary, Scorecard

BAD = 0.5  # a part whose pass share is at most this is named as still bad


def headline_metric(policy: GatePolicy, card: Scorecard) -> str | None:
    """The target, else the first guardrail on a scorer, else the first scorer's metric."""
    named = [policy.target.metric] if policy.target else []
    named += [g.metric for g in policy.guardrails if g.metric not in BUILTIN_METRICS]
    named += [m for m in card.candidate.metrics if m not in BUILTIN_METRICS]
    return next((m for m in named if m in card.candidate.metrics), None)


def summary_line(
    card: Scorecard,
    policy: GatePolicy,
    *,
    candidate: Sequence[Confusion] = (),
) -> str:
    """One sentence: the headline metric's levels, then what is still bad (see the module)."""
    metric = headline_metric(policy, card)
    if metric is None:
        return f"no scorer metric to summarize ({card.candidate.n_items} items)"
    change, improved = _change(card, metric)
    bad = _still_bad(card, metric, next((c for c in candidate if c.metric == metric), None))
    if not bad:
        return change
    return f"{change}, {'but' if improved else 'and'} the candidate {' and '.join(bad)}"


def _change(card: Scorecard, metric: str) -> tuple[str, bool]:
    """ "correct rose from 0 to 0.53", and whether that is a gain."""
    own = card.candidate.metrics[metric]
    row = card.row(metric)
    if card.baseline is None or row is None or row.baseline is None or row.candidate is None:
        level = "unscored" if own.mean is None else _level(own.mean)
        return f"{metric} is {level} (a new prompt: nothing to compare with)", True
    base, cand = row.baseline, row.candidate
    if _level(base) == _level(cand):
        return f"{metric} stayed at {_level(cand)}", False
    verb = "rose" if cand > base else "fell"
    text = f"{metric} {verb} from {_level(base)} to {_level(cand)}"
    if row.verdict == "not_significant":
        text += " (within noise: not a significant change)"
    elif row.verdict == "untestable":
        text += " (too few items to test)"
    return text, row.better(cand - base)


def _still_bad(card: Scorecard, metric: str, matrix: Confusion | None) -> list[str]:
    bad: list[str] = []
    if matrix is not None:
        note = one_class_note(matrix, "candidate")
        if note:
            bad.append(note.removeprefix("the candidate "))
        label, wrong, total = worst_class(matrix)
        if total and wrong >= BAD * total:
            bad.append(f"gets {wrong} of {total} {label!r} items wrong")
        return bad
    own = card.candidate.metrics[metric]
    if own.kind != "binary" or not own.higher_is_better:
        return bad
    tags = {
        tag: summaries[metric]
        for tag, summaries in card.candidate.slices.items()
        if tag != ALL and metric in summaries and summaries[metric].mean is not None
    }
    if tags:
        tag = min(tags, key=lambda t: (tags[t].mean or 0.0, t))
        failed, scored = _failed(tags[tag])
        if scored and failed >= BAD * scored:
            return [f"gets {failed} of {scored} items tagged {tag!r} wrong"]
    failed, scored = _failed(own)
    if scored and failed >= BAD * scored:
        bad.append(f"still gets {failed} of {scored} items wrong")
    return bad


def _failed(summary: MetricSummary) -> tuple[int, int]:
    """(items failed, items scored) of a pass/fail metric."""
    return round((1 - (summary.mean or 0.0)) * summary.n_scored), summary.n_scored


def _level(value: float) -> str:
    """0 → "0", 0.525 → "0.53", 1234.5 → "1.23e+03": two decimals, no trailing zeros."""
    if abs(value) >= 100:
        return f"{value:.3g}"
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"
