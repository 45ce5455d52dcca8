"""Repeated attempts against one production: the target's alpha is spent over them.

::

    attempt_alpha(0.05, 1)    # 0.0304: the first change against this production
    attempt_alpha(0.05, 4)    # 0.0019: the fourth
    attempt = Attempt(number=4, baseline_run=12, against="production v3 on 'tickets' v2")
    attempt_note(0.05, attempt, "spend")
    # 'note: attempt 4 against production v3 on ...: target tested at alpha 0.0019 ...'

Every change judged against the same production version on the same dataset version is
one more look at the same comparison. Ten equivalent rewordings tried in turn are each
called improved at the test's level, so one of them is, falsely, far more often (10.5 %
of ten against one cached baseline at n = 100, where one attempt is 1.2 %; measured by
``benchmarks/gate_characteristics.py --attempts-only``; spent: 1.0 %). So the k-th
attempt's target is tested at

    alpha_k = alpha * 6 / (pi^2 k^2)

whose sum over all k is alpha (the Basel sum). By the union bound, however many attempts
are made, the chance that any equivalent one is called improved stays at most what a
single attempt at alpha has (alpha / 2: the target's test is two-sided). This sequence
keeps 61 % of alpha for the first attempt, which most changes are; a steeper one (alpha /
2^k) leaves later attempts almost no chance, a flatter one (1 / k log² k) takes more from
the first.

A refreshed baseline does not reset the count: the search over rewordings is what makes
the false improvement, not the cache. Fresh production answers each attempt make the
attempts' tests less alike, so one of ten is called improved falsely more often, not less
(14.2 % in the benchmark's fifth column). The count starts again when what is compared changes: a
new production version (a deploy) or a new dataset version.

``gate: {attempts: ignore}`` tests every attempt at alpha; the note still says which
attempt it was.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AttemptRule = Literal["spend", "ignore"]
RULE = "6/(π²k²) of it at attempt k"


class Attempt(BaseModel):
    """Which look at one production on one dataset a change's evaluation is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: int = Field(ge=1)  # 1: no other candidate was judged against this production
    baseline_run: int  # the run this evaluation compared with
    against: str  # "production v3 of 'triage' on dataset 'tickets' v2": what is counted


def attempt_alpha(alpha: float, attempt: int) -> float:
    """The target's level at the ``attempt``-th look (from 1): they sum to ``alpha``."""
    if attempt < 1:
        raise ValueError(f"attempts count from 1, not {attempt}")
    return alpha * 6 / (math.pi**2 * attempt**2)


def target_alpha(alpha: float, attempt: Attempt | None, rule: AttemptRule) -> float:
    """The level the gate tests the target at: ``alpha`` unless spent over attempts."""
    if attempt is None or rule == "ignore":
        return alpha
    return attempt_alpha(alpha, attempt.number)


def attempt_note(alpha: float, attempt: Attempt, rule: AttemptRule) -> str:
    """The verdict's line saying which attempt this was and the level its target met."""
    head = (
        f"note: attempt {attempt.number} against {attempt.against} (baseline run "
        f"{attempt.baseline_run}): target tested at alpha"
    )
    if rule == "ignore":
        return f"{head} {alpha:g}, not spent over attempts (gate attempts: ignore)"
    return (
        f"{head} {attempt_alpha(alpha, attempt.number):.3g} (alpha {alpha:g} spent over "
        f"attempts: {RULE}, so any number of them is falsely called improved at most as often "
        "as one)"
    )
