"""Prompt templates: Jinja2 in a sandbox, where an undefined variable is an error.

>>> render_messages(system=None, template="Hi {{ name }}", examples=[], variables={"name": "Ada"})
[{'role': 'user', 'content': 'Hi Ada'}]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from roles.errors import InputError

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_UNDEFINED = re.compile(r"'([^']+)' is undefined")


class RenderError(InputError):
    """A template that does not render; ``variable`` names what was missing, if known."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


@lru_cache(maxsize=256)
def _compile(source: str) -> Any:
    return _ENV.from_string(source)


def check_syntax(source: str, where: str) -> None:
    try:
        _compile(source)
    except TemplateSyntaxError as exc:
        raise InputError(f"{where}: template error on line {exc.lineno}: {exc.message}") from None


def render(source: str, variables: Mapping[str, Any]) -> str:
    try:
        return str(_compile(source).render(**variables))
    except TemplateSyntaxError as exc:
        raise RenderError(f"template error on line {exc.lineno}: {exc.message}") from None
    except UndefinedError as exc:
        match = _UNDEFINED.search(str(exc))
        name = match.group(1) if match else None
        raise RenderError(f"undefined variable '{name or exc}'", variable=name) from None
    except SecurityError as exc:
        raise RenderError(f"template refused by the sandbox: {exc}") from None
    except Exception as exc:  # a filter or test raising on the given data
        raise RenderError(f"template failed: {type(exc).__name__}: {exc}") from None


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
        messages.append({"role": "system", "content": render(system, variables)})
    for example in examples:
        messages.append({"role": "user", "content": render(template, example.get("input", {}))})
        messages.append({"role": "assistant", "content": str(example.get("output", ""))})
    messages.append({"role": "user", "content": render(template, variables)})
    return messages
