"""Every deterministic scorer: a pass, a fail, and an unscored case where one exists."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from roles.data_scientist import ScoreContext, build_scorer
from roles.data_scientist.scores import Sample, Score
from roles.data_scientist.structured import numbers_in


def score(name: str, output: str, expected: Any = None, **args: Any) -> Score:
    sample = Sample(item_id="i", output=output, expected=expected)
    return asyncio.run(build_scorer({"name": name, "args": args})(sample, ScoreContext()))


def verdict(s: Score) -> bool | None:
    return None if s.unscored else s.passed


@pytest.mark.parametrize(
    ("output", "expected", "args", "want"),
    [
        ("Paris", "Paris", {}, True),
        ("  Paris \n", "Paris", {}, True),
        ("paris", "Paris", {}, False),
        ("paris", "Paris", {"ignore_case": True}, True),
        ("Paris.", "Paris", {"strip_punctuation": True}, True),
        ("New  York", "New York", {"normalize_whitespace": False}, False),
        ("Lyon", ["Paris", "Lyon"], {}, True),
        ("42", 42, {}, True),
        ("Rome", "Paris", {"value": "Rome"}, True),
        ("Paris", None, {}, None),
        ("Paris", {"city": "Paris"}, {}, None),
    ],
)
def test_exact_match(output: str, expected: Any, args: dict[str, Any], want: bool | None) -> None:
    assert verdict(score("exact_match", output, expected, **args)) is want


@pytest.mark.parametrize(
    ("output", "expected", "args", "want"),
    [
        ("a refund in 5 days", None, {"text": ["refund", "days"]}, True),
        ("a refund", None, {"text": ["refund", "days"]}, False),
        ("a refund", None, {"text": ["refund", "days"], "mode": "any"}, True),
        ("A REFUND", None, {"text": "refund"}, False),
        ("A REFUND", None, {"text": "refund", "ignore_case": True}, True),
        ("Paris is big", "Paris", {}, True),
        ("Paris is big", None, {}, None),
    ],
)
def test_contains(output: str, expected: Any, args: dict[str, Any], want: bool | None) -> None:
    assert verdict(score("contains", output, expected, **args)) is want


def test_not_contains() -> None:
    assert verdict(score("not_contains", "all good", text=["sorry", "cannot"])) is True
    failed = score("not_contains", "Sorry, I cannot", text=["sorry", "cannot"], ignore_case=True)
    assert failed.passed is False and "sorry" in (failed.explanation or "")


@pytest.mark.parametrize(
    ("output", "args", "want"),
    [
        ("order 1234", {"pattern": r"\d{4}"}, True),
        ("order 1234", {"pattern": r"\d{4}", "mode": "match"}, False),
        ("1234", {"pattern": r"\d{4}", "mode": "fullmatch"}, True),
        ("ORDER", {"pattern": "order"}, False),
        ("ORDER", {"pattern": "order", "flags": ["ignorecase"]}, True),
        ("a\nb", {"pattern": "^b$", "flags": ["multiline"]}, True),
    ],
)
def test_regex(output: str, args: dict[str, Any], want: bool) -> None:
    assert score("regex", output, **args).passed is want


def test_valid_json() -> None:
    assert score("valid_json", '{"a": 1}').passed is True
    assert score("valid_json", "{a: 1}").passed is False
    assert score("valid_json", '```json\n{"a": 1}\n```').passed is False
    assert score("valid_json", '```json\n{"a": 1}\n```', strip_fences=True).passed is True


def test_json_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
        "required": ["answer"],
    }
    assert score("json_schema", '{"answer": "x", "confidence": 0.5}', schema=schema).passed
    missing = score("json_schema", '{"confidence": "high"}', schema=schema)
    assert missing.passed is False
    assert "'answer' is a required property" in (missing.explanation or "")
    assert "confidence" in (missing.explanation or "")
    assert score("json_schema", "not json", schema=schema).passed is False


def test_numbers_in() -> None:
    assert numbers_in("1,234.5 or -2e3, then .5 and 7.") == [1234.5, -2000.0, 0.5, 7.0]


@pytest.mark.parametrize(
    ("output", "expected", "args", "want"),
    [
        ("The answer is 42.", 42, {}, True),
        ("The answer is 42.", "42", {}, True),
        ("Step 1: 40 + 2 = 42", 42, {}, True),
        ("Step 1: 40 + 2 = 42", 42, {"pick": "first"}, False),
        ("Step 1: 40 + 2 = 42", 42, {"pick": "only"}, False),
        ("3.14159", 3.14, {"abs_tol": 0.01}, True),
        ("3.2", 3.14, {"abs_tol": 0.01}, False),
        ("1,050", 1000, {"rel_tol": 0.05}, True),
        ("no number here", 42, {}, False),
        ("42", None, {}, None),
        ("42", "41 or 42", {}, None),
        ("7", None, {"value": 7}, True),
    ],
)
def test_numeric(output: str, expected: Any, args: dict[str, Any], want: bool | None) -> None:
    assert verdict(score("numeric", output, expected, **args)) is want


@pytest.mark.parametrize(
    ("output", "args", "want"),
    [
        ("four", {"max_length": 4}, True),
        ("fives", {"max_length": 4}, False),
        ("one two three", {"min_length": 2, "max_length": 3, "unit": "words"}, True),
        ("one", {"min_length": 2, "unit": "words"}, False),
    ],
)
def test_length(output: str, args: dict[str, Any], want: bool) -> None:
    assert score("length", output, **args).passed is want


def test_latency_and_cost_budgets() -> None:
    def run(name: str, sample: Sample, **args: Any) -> Score:
        return asyncio.run(build_scorer({"name": name, "args": args})(sample, ScoreContext()))

    fast = Sample(item_id="a", output="x", latency_s=0.4, cost_usd=0.001)
    slow = Sample(item_id="b", output="x", latency_s=3.0, cost_usd=0.02)
    unknown = Sample(item_id="c", output="x", latency_s=0.4, cost_usd=None)
    assert run("latency_budget", fast, max_s=1).passed is True
    assert run("latency_budget", slow, max_s=1).passed is False
    assert run("cost_budget", fast, max_usd=0.01).passed is True
    assert run("cost_budget", slow, max_usd=0.01).passed is False
    unscored = run("cost_budget", unknown, max_usd=0.01)
    assert unscored.unscored and "unknown" in (unscored.reason or "")
