"""Structure checks: valid JSON, JSON Schema, and a number within tolerance.

::

    build_scorer({"name": "json_schema", "args": {"schema": {"type": "object",
                                                             "required": ["answer"]}}})
    build_scorer({"name": "numeric", "args": {"abs_tol": 0.01}})  # against ``expected``

``strip_fences`` accepts an answer wrapped in a Markdown code fence (```json … ```).
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal

from pydantic import Field

from roles.data_scientist.registry import ScoreContext, SyncScoreFn, scorer
from roles.data_scientist.scores import Sample, Score

_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?")
NonNegative = Annotated[float, Field(ge=0)]


def strip_fence(text: str) -> str:
    """The inside of a Markdown code fence, or the text itself."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    return fenced.group(1) if fenced else stripped


def _parse(sample: Sample, strip_fences: bool) -> tuple[Any, str | None]:
    text = sample.output or ""
    try:
        return json.loads(strip_fence(text) if strip_fences else text), None
    except json.JSONDecodeError as exc:
        return None, f"not JSON: {exc}"


@scorer("valid_json", kind="binary")
def valid_json(strip_fences: bool = False) -> SyncScoreFn:
    """Output parses as JSON."""

    def score(sample: Sample, ctx: ScoreContext) -> Score:
        _, problem = _parse(sample, strip_fences)
        return Score.from_check(problem is None, problem or "valid JSON")

    return score


@scorer("json_schema", kind="binary")
def json_schema(schema: dict[str, Any], strip_fences: bool = False) -> SyncScoreFn:
    """Output is JSON valid against ``schema`` (any draft jsonschema knows; default 2020-12)."""
    import jsonschema  # loaded only by suites that use this scorer

    validator_class = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"invalid JSON Schema: {exc.message}") from None
    validator = validator_class(schema)

    def score(sample: Sample, ctx: ScoreContext) -> Score:
        data, problem = _parse(sample, strip_fences)
        if problem is not None:
            return Score.from_check(False, problem)
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        messages = [f"{'/'.join(map(str, e.absolute_path)) or '$'}: {e.message}" for e in errors]
        return Score.from_check(not errors, "; ".join(messages[:3]) or "valid against schema")

    return score


def numbers_in(text: str) -> list[float]:
    """Every number in ``text``, thousands separators removed: '1,234.5 or -2e3' → [1234.5, -2000]."""
    return [float(m.replace(",", "")) for m in _NUMBER.findall(text)]


def _expected_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        found = numbers_in(value)
        return found[0] if len(found) == 1 else None
    return None


@scorer("numeric", kind="binary")
def numeric(
    abs_tol: NonNegative = 0.0,
    rel_tol: NonNegative = 0.0,
    value: float | None = None,
    pick: Literal["first", "last", "only"] = "last",
) -> SyncScoreFn:
    """A number in the output is within ``abs_tol`` or ``rel_tol`` of ``value`` or ``expected``.

    ``pick`` says which number of the output counts; ``only`` fails when there are several.
    """

    def score(sample: Sample, ctx: ScoreContext) -> Score:
        target = value if value is not None else _expected_number(sample.expected)
        if target is None:
            return Score.could_not_score("expected is not a single number")
        found = numbers_in(sample.output or "")
        if not found or (pick == "only" and len(found) > 1):
            return Score.from_check(False, f"found numbers {found!r}, expected one")
        got = found[0] if pick == "first" else found[-1]
        ok = math.isclose(got, target, rel_tol=rel_tol, abs_tol=abs_tol)
        return Score.from_check(ok, f"got {got:g}, expected {target:g}", {"number": got})

    return score
