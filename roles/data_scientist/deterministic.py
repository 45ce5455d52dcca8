"""Text checks: exact match, contains, not-contains, regex, output length.

Each is a pass/fail scorer. Where a check compares against the item's ``expected`` and
the item has none usable, the sample is unscored (not failed)::

    build_scorer({"name": "exact_match", "args": {"ignore_case": True}})
    build_scorer({"name": "contains", "args": {"text": ["refund", "days"], "mode": "any"}})
    build_scorer({"name": "regex", "args": {"pattern": "^\\\\d+$", "mode": "fullmatch"}})
    build_scorer({"name": "length", "args": {"max_length": 50, "unit": "words"}})
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal

from roles.data_scientist.registry import ScoreContext, SyncScoreFn, scorer
from roles.data_scientist.scores import Sample, Score

_FLAGS = {"ignorecase": re.IGNORECASE, "multiline": re.MULTILINE, "dotall": re.DOTALL}


def _texts(value: Any) -> list[str] | None:
    """The acceptable answers in ``value``: a string, a number, or a list of those."""
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str | int | float) for v in items):
        return None
    if any(isinstance(v, bool) for v in items):
        return None
    return [str(v) for v in items]


def normalized(
    text: str,
    ignore_case: bool = False,
    normalize_whitespace: bool = True,
    strip_punctuation: bool = False,
) -> str:
    """``text`` as ``exact_match`` compares it, with that scorer's arguments."""
    if strip_punctuation:
        text = "".join(c for c in text if not unicodedata.category(c).startswith("P"))
    text = " ".join(text.split()) if normalize_whitespace else text
    return text.casefold() if ignore_case else text


@scorer("exact_match", kind="binary")
def exact_match(
    value: str | list[str] | None = None,
    ignore_case: bool = False,
    normalize_whitespace: bool = True,
    strip_punctuation: bool = False,
) -> SyncScoreFn:
    """Output equals ``value`` (or the item's ``expected``; a list means any of them)."""

    def norm(text: str) -> str:
        return normalized(text, ignore_case, normalize_whitespace, strip_punctuation)

    def score(sample: Sample, ctx: ScoreContext) -> Score:
        targets = _texts(value if value is not None else sample.expected)
        if targets is None:
            return Score.could_not_score("no expected text to compare with")
        got = norm(sample.output or "")
        hit = next((t for t in targets if norm(t) == got), None)
        return Score.from_check(
            hit is not None, f"matched {hit!r}" if hit is not None else f"expected {targets!r}"
        )

    return score


def _found(output: str, needles: list[str], ignore_case: bool) -> list[str]:
    hay = output.casefold() if ignore_case else output
    return [n for n in needles if (n.casefold() if ignore_case else n) in hay]


@scorer("contains", kind="binary")
def contains(
    text: str | list[str] | None = None,
    mode: Literal["any", "all"] = "all",
    ignore_case: bool = False,
) -> SyncScoreFn:
    """Output contains the given string(s), or the item's ``expected`` ones: any or all."""
    if text == [] or text == "":
        raise ValueError("text must not be empty")

    def score(sample: Sample, ctx: ScoreContext) -> Score:
        needles = _texts(text if text is not None else sample.expected)
        if needles is None:
            return Score.could_not_score("no expected text to look for")
        found = _found(sample.output or "", needles, ignore_case)
        missing = [n for n in needles if n not in found]
        ok = bool(found) if mode == "any" else not missing
        return Score.from_check(ok, f"found {found!r}, missing {missing!r}")

    return score


@scorer("not_contains", kind="binary")
def not_contains(text: str | list[str], ignore_case: bool = False) -> SyncScoreFn:
    """Output contains none of the given strings."""
    needles = [text] if isinstance(text, str) else text
    if not needles or "" in needles:
        raise ValueError("text must be one or more non-empty strings")

    def score(sample: Sample, ctx: ScoreContext) -> Score:
        found = _found(sample.output or "", needles, ignore_case)
        return Score.from_check(not found, f"found {found!r}" if found else "none found")

    return score


@scorer("regex", kind="binary")
def regex(
    pattern: str,
    mode: Literal["search", "match", "fullmatch"] = "search",
    flags: list[Literal["ignorecase", "multiline", "dotall"]] | None = None,
) -> SyncScoreFn:
    """Output matches ``pattern`` (``re.search``, ``re.match`` or ``re.fullmatch``)."""
    combined = 0
    for flag in flags or []:
        combined |= _FLAGS[flag]
    try:
        compiled = re.compile(pattern, combined)
    except re.error as exc:
        raise ValueError(f"invalid pattern {pattern!r}: {exc}") from None
    find = getattr(compiled, mode)

    def score(sample: Sample, ctx: ScoreContext) -> Score:
        found = find(sample.output or "")
        if found is None:
            return Score.from_check(False, f"no {mode} for {pattern!r}")
        return Score.from_check(True, f"{mode} found {found.group(0)!r}")

    return score


@scorer("length", kind="binary")
def length(
    min_length: int | None = None,
    max_length: int | None = None,
    unit: Literal["chars", "words"] = "chars",
) -> SyncScoreFn:
    """Output length, in characters or words, lies within [min_length, max_length]."""
    if min_length is None and max_length is None:
        raise ValueError("give min_length, max_length or both")
    if min_length is not None and max_length is not None and min_length > max_length:
        raise ValueError(f"min_length {min_length} exceeds max_length {max_length}")

    def score(sample: Sample, ctx: ScoreContext) -> Score:
        text = sample.output or ""
        size = len(text.split()) if unit == "words" else len(text)
        ok = (min_length is None or size >= min_length) and (
            max_length is None or size <= max_length
        )
        low = min_length if min_length is not None else 0
        high = max_length if max_length is not None else "∞"
        bounds = f"[{low}, {high}]"
        return Score.from_check(ok, f"{size} {unit}, allowed {bounds}", {"length": size})

    return score
