"""The scorer registry: specs, argument checking, custom scorers, failed calls."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import textwrap
from pathlib import Path

import pytest

from roles.data_scientist import ScoreContext, Scorer, build_scorer, known_scorers
from roles.data_scientist.scores import Sample, Score
from roles.errors import InputError

CUSTOM = """
import asyncio

from roles.data_scientist import Score, scorer

@scorer(kind="binary")
def shorter_than(limit: int):
    def score(sample, ctx):
        return Score.from_check(len(sample.output or "") < limit)
    return score

def politeness(word: str = "please"):
    async def score(sample, ctx):
        return Score(value=float(word in (sample.output or "")))
    return score

def not_a_factory(limit: int):
    return 42

def boom():
    def score(sample, ctx):
        raise RuntimeError("kaboom")
    return score

def async_boom():
    async def score(sample, ctx):
        raise ValueError("bad async")
    return score

def returns(what: str):
    values = {"none": None, "dict": {"value": 1.0}, "str": "1.0", "nan": float("nan"),
              "inf": float("inf"), "true": True, "false": False, "half": 0.5, "int": 1}
    def score(sample, ctx):
        return values[what]
    return score

def cancels():
    async def score(sample, ctx):
        raise asyncio.CancelledError
    return score

def factory_raises():
    raise RuntimeError("no factory today")
"""


def run(scorer: Scorer, sample: Sample) -> Score:
    return asyncio.run(scorer(sample, ScoreContext()))


@pytest.fixture
def custom_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "ds_custom_scorers.py").write_text(textwrap.dedent(CUSTOM))
    (tmp_path / "ds_broken_scorers.py").write_text("raise RuntimeError('broken at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "ds_custom_scorers"
    for name in ("ds_custom_scorers", "ds_broken_scorers"):
        sys.modules.pop(name, None)


def test_builtins_are_registered() -> None:
    assert {
        "exact_match",
        "contains",
        "not_contains",
        "regex",
        "valid_json",
        "json_schema",
        "numeric",
        "length",
        "latency_budget",
        "cost_budget",
        "llm_judge",
    } <= set(known_scorers())


def test_bare_name_and_mapping_specs_round_trip() -> None:
    plain = build_scorer("valid_json")
    assert (plain.label, plain.kind, plain.spec()) == (
        "valid_json",
        "binary",
        {"name": "valid_json", "args": {}},
    )
    spec = {"name": "contains", "args": {"text": ["a"], "mode": "any"}, "label": "has_a"}
    built = build_scorer(spec)
    assert built.label == "has_a" and built.metric.name == "has_a"
    assert build_scorer(built.spec()).spec() == spec


def test_unknown_name_lists_known_scorers() -> None:
    with pytest.raises(InputError, match=r"unknown scorer 'exact'.*exact_match.*regex"):
        build_scorer("exact")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "regex", "args": {"pattern": "a", "colour": "red"}}, r"'regex'.*colour"),
        ({"name": "regex", "args": {"pattern": 3}}, r"'regex'.*pattern.*string"),
        ({"name": "regex", "args": {}}, r"'regex'.*pattern.*Missing"),
        ({"name": "regex", "args": {"pattern": "("}}, r"'regex'.*invalid pattern"),
        ({"name": "length", "args": {"min_length": "3"}}, r"'length'.*min_length"),
        ({"name": "length", "args": {"min_length": 5, "max_length": 2}}, r"'length'.*exceeds"),
        ({"name": "numeric", "args": {"abs_tol": -1}}, r"'numeric'.*abs_tol"),
        ({"name": "contains", "args": {"mode": "some"}}, r"'contains'.*mode"),
        ({"name": "json_schema", "args": {"schema": {"type": 5}}}, r"'json_schema'.*Schema"),
        ({"name": "valid_json", "colour": "red"}, r"'valid_json'.*unknown keys"),
        ({"name": "valid_json", "args": {"x": {1, 2}}}, r"'valid_json'"),
        ({"args": {}}, r"mapping with a 'name'"),
    ],
)
def test_bad_arguments_are_refused_naming_the_scorer(spec: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        build_scorer(spec)  # type: ignore[arg-type]


def test_custom_scorer_by_module_function(custom_module: str) -> None:
    short = build_scorer({"name": f"{custom_module}:shorter_than", "args": {"limit": 3}})
    assert (short.label, short.kind) == ("shorter_than", "binary")
    assert run(short, Sample(item_id="a", output="ab")).passed is True
    polite = build_scorer({"name": "custom", "args": {"function": f"{custom_module}:politeness"}})
    assert (polite.label, polite.kind) == ("politeness", "continuous")
    assert run(polite, Sample(item_id="a", output="please")).value == 1.0
    assert polite.spec()["args"] == {"function": f"{custom_module}:politeness"}


def test_custom_scorer_errors_name_it(custom_module: str) -> None:
    with pytest.raises(InputError, match=r"no_such_module_xyz:f.*cannot import"):
        build_scorer("no_such_module_xyz:f")
    with pytest.raises(InputError, match=r"ds_broken_scorers:f.*broken at import"):
        build_scorer("ds_broken_scorers:f")
    with pytest.raises(InputError, match="has no function 'missing'"):
        build_scorer(f"{custom_module}:missing")
    with pytest.raises(InputError, match=r"shorter_than'.*limit"):
        build_scorer({"name": f"{custom_module}:shorter_than", "args": {"limit": "x"}})
    with pytest.raises(InputError, match="not a function"):
        build_scorer({"name": f"{custom_module}:not_a_factory", "args": {"limit": 1}})
    with pytest.raises(InputError, match="module:function"):
        build_scorer({"name": "custom", "args": {}})


@pytest.mark.parametrize("name", sorted(set(known_scorers()) - {"llm_judge"}))
def test_every_scorer_leaves_a_failed_call_unscored(name: str) -> None:
    args = {
        "not_contains": {"text": "x"},
        "regex": {"pattern": "x"},
        "json_schema": {"schema": {}},
        "length": {"max_length": 3},
        "latency_budget": {"max_s": 1},
        "cost_budget": {"max_usd": 1},
    }.get(name, {})
    score = run(build_scorer({"name": name, "args": args}), Sample(item_id="a", error="timeout"))
    assert score.unscored and score.reason == "model call failed: timeout"


def test_judge_leaves_a_failed_call_unscored_without_calling() -> None:
    judge = build_scorer(
        {"name": "llm_judge", "args": {"rubric": "r", "choices": {"a": 1, "b": 0}, "model": "m"}}
    )
    score = run(judge, Sample(item_id="a", error="rate limited"))
    assert score.unscored and "rate limited" in (score.reason or "")


OK = Sample(item_id="a", output="fine")


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("boom", "scorer 'ds_custom_scorers:boom' raised RuntimeError: kaboom"),
        ("async_boom", "scorer 'ds_custom_scorers:async_boom' raised ValueError: bad async"),
    ],
)
def test_a_raising_custom_scorer_leaves_the_item_unscored(
    custom_module: str, target: str, reason: str
) -> None:
    score = run(build_scorer(f"{custom_module}:{target}"), OK)
    assert score.unscored and score.reason == reason
    spec = {"name": "custom", "args": {"function": f"{custom_module}:{target}"}}
    assert run(build_scorer(spec), OK).reason == reason


@pytest.mark.parametrize(
    ("what", "reason"),
    [
        ("none", "returned NoneType, not a Score"),
        ("dict", "returned dict, not a Score"),
        ("str", "returned str, not a Score"),
        ("nan", "returned nan, not a finite number"),
        ("inf", "returned inf, not a finite number"),
    ],
)
def test_a_custom_scorer_returning_a_non_score_leaves_the_item_unscored(
    custom_module: str, what: str, reason: str
) -> None:
    built = build_scorer({"name": f"{custom_module}:returns", "args": {"what": what}})
    score = run(built, OK)
    assert score.unscored and score.reason == f"scorer '{custom_module}:returns' {reason}"


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        ("true", Score.from_check(True)),
        ("false", Score.from_check(False)),
        ("half", Score(value=0.5)),
        ("int", Score(value=1.0)),
    ],
)
def test_a_custom_scorer_may_return_a_bool_or_a_finite_number(
    custom_module: str, what: str, expected: Score
) -> None:
    built = build_scorer({"name": f"{custom_module}:returns", "args": {"what": what}})
    assert run(built, OK) == expected


def test_a_suite_run_goes_on_past_a_broken_scorer(custom_module: str) -> None:
    from roles.data_scientist.suite import parse_suite

    suite = parse_suite({"scorers": [f"{custom_module}:boom", "valid_json"]}, "p.yaml")
    result = asyncio.run(suite.score(Sample(item_id="a", output="{}"), suite.context()))
    assert result.scores["boom"].unscored and result.scores["valid_json"].passed is True


def test_a_builtin_scorer_that_raises_is_unscored() -> None:
    async def broken(sample: Sample, ctx: ScoreContext) -> Score:
        raise KeyError("oops")

    score = run(dataclasses.replace(build_scorer("valid_json"), fn=broken), OK)
    assert score.unscored and score.reason == "scorer 'valid_json' raised KeyError: 'oops'"


def test_cancellation_is_not_swallowed(custom_module: str) -> None:
    with pytest.raises(asyncio.CancelledError):
        run(build_scorer(f"{custom_module}:cancels"), OK)


@pytest.mark.parametrize(
    "target", ["builtins:len", "math:sqrt", "collections:OrderedDict", "builtins:dict"]
)
def test_a_target_that_is_not_a_factory_is_an_input_error(target: str) -> None:
    message = rf"scorer '{target}' is not a scorer factory \(a function that takes keyword"
    with pytest.raises(InputError, match=message):
        build_scorer(target)
    with pytest.raises(InputError, match=message):
        build_scorer({"name": "custom", "args": {"function": target}})


def test_a_factory_that_raises_is_an_input_error(custom_module: str) -> None:
    with pytest.raises(
        InputError,
        match=rf"scorer '{custom_module}:factory_raises': its factory raised "
        "RuntimeError: no factory today",
    ):
        build_scorer(f"{custom_module}:factory_raises")
    with pytest.raises(InputError, match=rf"'{custom_module}:not_a_factory'.*not a function"):
        build_scorer(
            {"name": "custom", "args": {"function": f"{custom_module}:not_a_factory", "limit": 1}}
        )
