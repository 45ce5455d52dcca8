"""Which LLM judges a suite holds, and who each one is: its full spec, hashed.

::

    [(j.label, j.judge_id) for j in judges_in_suite(version.suite)]
    # [("judge_correct", "3f9c2a71d0b4")]

A judge is everything that decides its verdict: rubric, choices, pass threshold, model
(with its provider), sampling parameters, JSON mode and whether it sees the expected
answer. Change any of them and it is another judge, with no track record; the metric's
label is only its name in one suite, so it is not part of the identity. Read from the
stored suite (a prompt version's or an eval run's) without building any scorer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from roles.calls import JUDGE_PARAMS

# The judge's sampling defaults are part of who it is. Nothing here imports the scorers,
# so commands that only list judges stay fast.
DEFAULT_PARAMS: dict[str, Any] = JUDGE_PARAMS
JUDGE_SCORER = "llm_judge"
ID_LENGTH = 12


@dataclass(frozen=True)
class JudgeRef:
    """One judge as a suite uses it: the metric label there, its id and its spec."""

    label: str
    judge_id: str
    spec: dict[str, Any]


def judge_spec(args: Mapping[str, Any], *, judge_model: str | None) -> dict[str, Any]:
    """The canonical spec: defaults filled in, so an omitted default is the same judge."""
    model = args.get("model") or judge_model
    return {
        "rubric": str(args.get("rubric", "")).strip(),
        "choices": {str(k): float(v) for k, v in dict(args.get("choices") or {}).items()},
        "pass_threshold": args.get("pass_threshold"),
        "model": model,
        "provider": model.split("/", 1)[0] if isinstance(model, str) and "/" in model else None,
        "params": {**DEFAULT_PARAMS, **dict(args.get("params") or {})},
        "use_json": bool(args.get("use_json", True)),
        "include_expected": bool(args.get("include_expected", True)),
    }


def judge_id(spec: Mapping[str, Any]) -> str:
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:ID_LENGTH]


def judges_in_suite(suite: Mapping[str, Any] | None) -> list[JudgeRef]:
    """The suite's LLM judges, in order (a stored suite: plain JSON, checked at push)."""
    if not suite:
        return []
    out = []
    for spec in suite.get("scorers") or []:
        if not isinstance(spec, Mapping) or spec.get("name") != JUDGE_SCORER:
            continue
        canonical = judge_spec(spec.get("args") or {}, judge_model=suite.get("judge_model"))
        label = str(spec.get("label") or JUDGE_SCORER)
        out.append(JudgeRef(label=label, judge_id=judge_id(canonical), spec=canonical))
    return out


def scorer_labels(suite: Mapping[str, Any] | None) -> list[str]:
    """Every scorer's metric label in a stored suite (a bare name is its own label)."""
    labels = []
    for spec in (suite or {}).get("scorers") or []:
        if isinstance(spec, str):
            labels.append(spec)
        elif isinstance(spec, Mapping):
            labels.append(str(spec.get("label") or _default_label(spec)))
    return labels


def _default_label(spec: Mapping[str, Any]) -> str:
    """As ``registry.build_scorer`` names it: a custom scorer by its function's name."""
    name = str(spec.get("name"))
    if name == "custom":
        name = str((spec.get("args") or {}).get("function", name))
    return name.partition(":")[2] or name
