"""Scorers as named factories, so a stored spec rebuilds the same scorer.

A spec is either a bare name or a mapping with ``name``, optional ``args`` and an optional
``label`` (the metric's display name, default the scorer's name)::

    "valid_json"
    {"name": "contains", "args": {"text": ["refund"], "ignore_case": true}, "label": "refund"}
    {"name": "custom", "args": {"function": "my_pkg.scorers:tone", "strict": true}}
    {"name": "my_pkg.scorers:tone", "args": {"strict": true}}

A factory takes keyword arguments and returns the scoring function, sync or async,
``(sample, ctx) -> Score``. ``build_scorer`` type-checks the arguments against the
factory's signature (pydantic strict mode) and refuses unknown names and bad arguments
with an ``InputError`` naming the scorer::

    @scorer("shorter_than", kind="binary")
    def shorter_than(limit: int) -> SyncScoreFn:
        def score(sample: Sample, ctx: ScoreContext) -> Score:
            return Score.from_check(len(sample.output or "") < limit)
        return score

Custom scorers (``module:function``) have the same shape. Decorate them with
``@scorer(kind=...)`` (no name) to declare their kind; undecorated they are continuous,
higher is better. A sample whose model call failed is unscored by every scorer.

The contract at run time, for built-in and custom scorers alike: the scoring function
returns a ``Score``; as a convenience a ``bool`` becomes ``Score.from_check(...)`` and a
finite real number ``Score(value=...)``. Anything else (None, a dict, NaN or inf) and any
``Exception`` it raises make that item unscored with the reason, e.g. "scorer
'my_pkg.scorers:tone' raised RuntimeError: kaboom"; the run goes on. Not caught: an
``InputError`` (the run itself is misconfigured, e.g. a judge with no model), cancellation
and ``KeyboardInterrupt``. A target that is not a factory (a class, a C
function) or a factory that raises or returns a non-callable is an ``InputError``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import numbers
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import ConfigDict, PydanticUserError, ValidationError, validate_call

from roles.calls import ModelCaller
from roles.data_scientist.scores import MetricInfo, MetricKind, Sample, Score
from roles.errors import InputError


@dataclass(frozen=True)
class ScoreContext:
    """What a scorer may use besides the sample: the model caller and the judge default."""

    model_caller: ModelCaller | None = None
    judge_model: str | None = None


ScoreFn = Callable[[Sample, ScoreContext], Awaitable[Score]]
SyncScoreFn = Callable[[Sample, ScoreContext], Score]
KindRule = MetricKind | Callable[[Mapping[str, Any]], MetricKind]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class _Info:
    kind: KindRule
    higher_is_better: bool


_FACTORIES: dict[str, Callable[..., Any]] = {}
_INFO: dict[Callable[..., Any], _Info] = {}


def scorer(
    name: str | None = None, *, kind: KindRule = "continuous", higher_is_better: bool = True
) -> Callable[[F], F]:
    """Register a scorer factory under ``name`` (or only declare its kind, for custom ones)."""

    def register(factory: F) -> F:
        if name is not None:
            if ":" in name or name == "custom":
                raise ValueError(f"{name!r} is reserved for custom scorers")
            known = _FACTORIES.get(name)
            if known is not None and known.__qualname__ != factory.__qualname__:
                raise ValueError(f"scorer {name!r} is already registered")
            _FACTORIES[name] = factory
        _INFO[factory] = _Info(kind, higher_is_better)
        return factory

    return register


def known_scorers() -> list[str]:
    return sorted(_FACTORIES)


@dataclass(frozen=True)
class Scorer:
    """A built scorer: ``await scorer(sample, ctx) -> Score``."""

    name: str
    args: dict[str, Any]
    label: str
    kind: MetricKind
    higher_is_better: bool
    fn: ScoreFn = field(repr=False, compare=False)
    given_label: str | None = None

    @property
    def metric(self) -> MetricInfo:
        return MetricInfo(name=self.label, kind=self.kind, higher_is_better=self.higher_is_better)

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "args": dict(self.args)}
        if self.given_label is not None:
            out["label"] = self.given_label
        return out

    async def __call__(self, sample: Sample, ctx: ScoreContext) -> Score:
        if sample.error is not None:
            return Score.could_not_score(f"model call failed: {sample.error}")
        shown = _shown_name(self.name, self.args)
        try:
            result: object = await self.fn(sample, ctx)
            if inspect.isawaitable(result):  # e.g. an object whose __call__ is async
                result = await result
        except InputError:  # the run is misconfigured (e.g. a judge without a model)
            raise
        except (Exception, SystemExit) as exc:  # a scorer's bug leaves this item unscored
            return Score.could_not_score(f"scorer {shown!r} raised {_describe(exc)}")
        return _as_score(result, shown)


def _as_score(result: object, shown: str) -> Score:
    """A scoring function's return value as a Score (see the module docstring)."""
    if isinstance(result, Score):
        return result
    if isinstance(result, bool):
        return Score.from_check(result)
    if isinstance(result, numbers.Real):
        value = float(result)
        if math.isfinite(value):
            return Score(value=value)
        return Score.could_not_score(f"scorer {shown!r} returned {value}, not a finite number")
    return Score.could_not_score(f"scorer {shown!r} returned {type(result).__name__}, not a Score")


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _shown_name(name: str, args: Mapping[str, Any]) -> str:
    """The name messages use: a custom scorer's target rather than 'custom'."""
    target = args.get("function")
    return target if name == "custom" and isinstance(target, str) else name


def build_scorer(spec: str | Mapping[str, Any]) -> Scorer:
    """Build a scorer from its spec; ``InputError`` names the scorer when the spec is wrong."""
    name, args, label = _read_spec(spec)
    factory, default_label = _resolve(name, args)
    shown = _shown_name(name, args)
    call_args = {k: v for k, v in args.items() if not (name == "custom" and k == "function")}
    not_factory = InputError(
        f"scorer {shown!r} is not a scorer factory (a function that takes keyword "
        "arguments and returns a scoring function)"
    )
    if inspect.isclass(factory):
        raise not_factory
    try:
        checked = validate_call(config=ConfigDict(strict=True))(factory)
    except (PydanticUserError, TypeError, ValueError):
        raise not_factory from None
    try:
        fn = checked(**call_args)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'args'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InputError(f"scorer {shown!r}: bad arguments: {problems}") from None
    except ValueError as exc:
        raise InputError(f"scorer {shown!r}: {exc}") from None
    except Exception as exc:  # the factory is user code and may fail in any way
        raise InputError(f"scorer {shown!r}: its factory raised {_describe(exc)}") from None
    info = _INFO.get(factory, _Info("continuous", True))
    kind = info.kind(call_args) if callable(info.kind) else info.kind
    return Scorer(
        name=name,
        args=dict(args),
        label=label or default_label,
        kind=kind,
        higher_is_better=info.higher_is_better,
        fn=_as_async(fn, shown),
        given_label=label,
    )


def _read_spec(spec: Any) -> tuple[str, dict[str, Any], str | None]:
    if isinstance(spec, str):
        return spec, {}, None
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
        raise InputError(f"a scorer spec is a name or a mapping with a 'name', got {spec!r}")
    name: str = spec["name"]
    extra = sorted(set(spec) - {"name", "args", "label"})
    if extra:
        raise InputError(f"scorer {name!r}: unknown keys {extra} (allowed: name, args, label)")
    args = spec.get("args") or {}
    label = spec.get("label")
    if not isinstance(args, Mapping) or not all(isinstance(k, str) for k in args):
        raise InputError(f"scorer {name!r}: 'args' must be a mapping of names to values")
    if label is not None and (not isinstance(label, str) or not label.strip()):
        raise InputError(f"scorer {name!r}: 'label' must be a non-empty string")
    try:
        json.dumps(args)
    except (TypeError, ValueError) as exc:
        raise InputError(f"scorer {name!r}: args must be plain JSON values ({exc})") from None
    return name, dict(args), label


def _resolve(name: str, args: Mapping[str, Any]) -> tuple[Callable[..., Any], str]:
    if name == "custom":
        target = args.get("function")
        if not isinstance(target, str):
            raise InputError("scorer 'custom': args.function must be 'module:function'")
        return _import(target)
    if ":" in name:
        return _import(name)
    if name not in _FACTORIES:
        raise InputError(f"unknown scorer {name!r}; known scorers: {', '.join(known_scorers())}")
    return _FACTORIES[name], name


def _import(target: str) -> tuple[Callable[..., Any], str]:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise InputError(f"custom scorer {target!r}: expected 'module:function'")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # the user's module may fail in any way while importing
        raise InputError(
            f"custom scorer {target!r}: cannot import {module_name!r}: {exc}"
        ) from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise InputError(f"custom scorer {target!r}: {module_name} has no function {attr!r}")
    return factory, attr


def _as_async(fn: Any, name: str) -> ScoreFn:
    if not callable(fn):
        raise InputError(
            f"scorer {name!r}: its factory returned {type(fn).__name__}, not a function"
        )
    if inspect.iscoroutinefunction(fn):
        return fn  # type: ignore[no-any-return]

    async def run(sample: Sample, ctx: ScoreContext) -> Score:
        result: Score = fn(sample, ctx)
        return result

    return run
