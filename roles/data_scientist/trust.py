"""When a judge's scores may decide: the trust rule, and the ``calibration:`` section of a
suite that sets it (all keys optional; the defaults shown)::

    suite:
      calibration:
        trust: {min_pairs: 30, min_kappa_low: 0.6, min_recall_low: 0.5}
        gaps: {min_fails: 3, max_share_caught: 0.2}
        resamples: 2000           # posterior draws of every interval
        confidence: 0.95
        seed: 0
        min_slice_pairs: 10       # a dataset tag gets its own figures with this many pairs

A judge is trusted when it has at least ``min_pairs`` labelled pairs and the lower bounds of
κ's and recall's intervals reach ``min_kappa_low`` and ``min_recall_low``; an undefined κ or
recall (one class only) is not trusted. Weighted pairs (a review's stratified sample) count
as their effective number, Kish's (Σw)² / Σw²: 60 pairs of very unequal weights may count
as 25.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from roles.data_scientist.calibration import Estimate, JudgeAgreement
from roles.data_scientist.gaps import GapPolicy


class TrustPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    min_pairs: int = Field(30, ge=1)
    min_kappa_low: float = Field(0.6, ge=-1, le=1)
    min_recall_low: float = Field(0.5, ge=0, le=1)


class CalibrationPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    trust: TrustPolicy = Field(default_factory=TrustPolicy)
    gaps: GapPolicy = Field(default_factory=GapPolicy)
    resamples: int = Field(2000, ge=100, le=100_000)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    seed: int = 0
    min_slice_pairs: int = Field(10, ge=2)


def calibration_policy_from_suite(suite: Mapping[str, Any] | None) -> CalibrationPolicy:
    """The policy a stored suite asks for under ``calibration`` (checked at push), else the
    defaults."""
    return CalibrationPolicy.model_validate((suite or {}).get("calibration") or {})


@dataclass(frozen=True)
class TrustVerdict:
    trusted: bool
    reasons: tuple[str, ...]  # why not; when trusted, the conditions it met


def trust(agreement: JudgeAgreement, policy: TrustPolicy) -> TrustVerdict:
    """Whether ``agreement`` earns the judge a say in the gate under ``policy``."""
    n, required = agreement.n, policy.min_pairs
    failed: list[str] = []
    met: list[str] = []
    counted = f"{n} labelled pairs"
    if agreement.n_effective is not None:
        tenths = math.floor(agreement.n_effective * 10 + 1e-9) / 10  # 29.96 is not "30.0"
        counted = f"{tenths:.1f} effective labelled pairs ({n} weighted)"
    if agreement.effective_pairs < required:
        failed.append(f"{counted}, fewer than the {required} required")
    else:
        met.append(f"{counted} (at least {required})")
    one_class = "no labelled pairs yet" if n == 0 else "judge and people gave one class only"
    no_fails = "no labelled pairs yet" if n == 0 else "no item people failed"
    for label, estimate, minimum, undefined in (
        ("κ", agreement.kappa, policy.min_kappa_low, one_class),
        ("recall", agreement.recall, policy.min_recall_low, no_fails),
    ):
        _bound(label, estimate, minimum, undefined, failed, met)
    return TrustVerdict(trusted=not failed, reasons=tuple(failed or met))


def _bound(
    label: str, estimate: Estimate, minimum: float, undefined: str, failed: list[str],
    met: list[str],
) -> None:  # fmt: skip
    if estimate.low is None:
        failed.append(f"{label} undefined: {undefined}")
    elif estimate.low < minimum:
        low, bar = _distinct(estimate.low, minimum)
        failed.append(f"{label} lower bound {low} < {bar}")
    else:
        low, bar = _distinct(estimate.low, minimum)
        met.append(f"{label} lower bound {low} >= {bar}")


def _distinct(value: float, bar: float) -> tuple[str, str]:
    """Both numbers with the fewest decimals (2 to 6) that tell them apart: 0.5999 against
    0.6 reads "0.5999 < 0.6", not "0.60 < 0.6"; 1.0 reads "1"."""
    if value == bar:
        return f"{value:g}", f"{bar:g}"
    places = next((p for p in range(2, 6) if round(value, p) != round(bar, p)), 6)
    return f"{round(value, places):g}", f"{bar:g}"
