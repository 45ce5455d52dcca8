"""Prompt templates: Jinja2 in a sandbox, where an undefined variable is an error.

>>> render_messages(system=None, template="Hi {{ name }}", examples=[], variables={"name": "Ada"})
[{'role': 'user', 'content': 'Hi Ada'}]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from roles.errors import InputError

# Bounds that keep one template from taking the machine: loop steps over range() per
# render, the size of a string or list built with '*', and the rendered text itself.
MAX_LOOP_STEPS = 100_000
MAX_SIZE = 1_000_000
_loop_budget: ContextVar[list[int]] = ContextVar("loop_budget")


def _bounded_range(*args: int) -> range:
    steps = range(*args)
    budget = _loop_budget.get([MAX_LOOP_STEPS])
    budget[0] -= len(steps)
    if budget[0] < 0:
        raise SecurityError(f"the template loops more than {MAX_LOOP_STEPS} times")
    return steps


class _BoundedSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise SecurityError("exponents above 64 are not allowed in templates")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if sized and len(seq) * times > MAX_SIZE:
                    raise SecurityError(f"the template builds a value over {MAX_SIZE} long")
        return super().call_binop(context, operator, left, right)


_ENV = _BoundedSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_ENV.globals["range"] = _bounded_range
_UNDEFINED = re.compile(r"'([^']+)' is undefined")


class RenderError(InputError):
    """A template that does not render; ``variable`` names what was missing, if known, and
    ``part`` which part of the prompt failed (``template`` or ``system``)."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable
        self.part = "template"


@lru_cache(maxsize=256)
def _compile(source: str) -> Any:
    return _ENV.from_string(source)


def check_syntax(source: str, where: str) -> None:
    try:
        _compile(source)
    except TemplateSyntaxError as exc:
        raise InputError(f"{where}: template error on line {exc.lineno}: {exc.message}") from None


def _is_plain(source: str) -> bool:
    """Text Jinja would render as itself: no ``{``-delimiters, no carriage returns (Jinja
    turns those into newlines). A system line usually is; it skips the sandbox per item."""
    return "{" not in source and "\r" not in source


def render(source: str, variables: Mapping[str, Any]) -> str:
    if _is_plain(source) and len(source) <= MAX_SIZE:
        return source
    token = _loop_budget.set([MAX_LOOP_STEPS])
    try:
        text = str(_compile(source).render(**variables))
    except TemplateSyntaxError as exc:
        raise RenderError(f"template error on line {exc.lineno}: {exc.message}") from None
    except UndefinedError as exc:
        match = _UNDEFINED.search(str(exc))
        name = match.group(1) if match else None
        raise RenderError(f"undefined variable '{name or exc}'", variable=name) from None
    except SecurityError as exc:
        raise RenderError(f"template refused by the sandbox: {exc}") from None
    except RecursionError:
        raise RenderError("template failed: it recurses too deeply") from None
    except Exception as exc:  # a filter or test raising on the given data
        raise RenderError(f"template failed: {type(exc).__name__}: {exc}") from None
    finally:
        _loop_budget.reset(token)
    if len(text) > MAX_SIZE:
        raise RenderError(f"the rendered text is over {MAX_SIZE} characters")
    return text


def render_messages(
    *,
    system: str | None,
    template: str,
    examples: Iterable[Mapping[str, Any]],
    variables: Mapping[str, Any],
) -> list[dict[str, str]]:
    """OpenAI-style chat messages: system, few-shot pairs, then the rendered user turn."""
    messages: list[dict[str, str]] = []
    if system:
        try:
            messages.append({"role": "system", "content": render(system, variables)})
        except RenderError as exc:
            exc.part = "system"
            raise
    for example in examples:
        messages.append({"role": "user", "content": render(template, example.get("input", {}))})
        messages.append({"role": "assistant", "content": str(example.get("output", ""))})
    messages.append({"role": "user", "content": render(template, variables)})
    return messages
