"""YAML files read with line numbers, so every error can say where it is.

>>> doc = load_yaml_text("name: x\\nmodel: m\\n", "p.yaml")
>>> doc.data["name"], doc.line_of(("model",))
('x', 2)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from roles.errors import FieldError, InputError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass
class YamlDoc:
    source: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The line of the deepest known node on ``loc`` (1-based)."""
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    def where(self, loc: Sequence[str | int]) -> str:
        line = self.line_of(loc)
        return f"{self.source}, line {line}" if line else self.source

    def validate(self, model: type[M], data: Any = None, loc: Loc = ()) -> M:
        """Validate into ``model``; the first problem becomes an InputError with its line."""
        try:
            return model.model_validate(self.data if data is None else data)
        except ValidationError as exc:
            where = loc + tuple(exc.errors()[0]["loc"])
            raise FieldError(describe_validation(exc, self, loc), loc=where) from None


def describe_validation(exc: ValidationError, doc: YamlDoc, prefix: Loc = ()) -> str:
    error = exc.errors()[0]
    loc = prefix + tuple(error["loc"])
    field_name = ".".join(str(part) for part in loc) or "document"
    more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
    return f"{doc.where(loc)}: {field_name}: {error['msg']}{more}"


def _walk(node: yaml.Node, path: Loc, lines: dict[Loc, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            _walk(child, (*path, index), lines)


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping (the last would win silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key '{key}' is given twice (first on line {seen[key] + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


# YAML 1.2 booleans: only true/false. Under YAML 1.1, `choices: {yes: 1, no: 0}` would turn
# the judge's labels into True/False (and `on`, `off`, `y`, `n` likewise).
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def non_finite(data: Any, path: Loc = ()) -> Loc | None:
    """The path of the first NaN or infinite number in ``data``, if any."""
    if isinstance(data, float) and not math.isfinite(data):
        return path
    if isinstance(data, dict):
        items: Any = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return None
    for key, value in items:
        found = non_finite(value, (*path, key))
        if found is not None:
            return found
    return None


def load_yaml_text(text: str, source: str) -> YamlDoc:
    try:
        data = yaml.load(text, Loader=_StrictLoader)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise InputError(_describe_yaml_error(exc, text, source)) from None
    lines: dict[Loc, int] = {}
    if node is not None:
        _walk(node, (), lines)
    doc = YamlDoc(source=source, data=data, lines=lines)
    bad = non_finite(data)
    if bad is not None:
        field = ".".join(str(p) for p in bad)
        raise FieldError(f"{doc.where(bad)}: {field}: NaN and infinity are not allowed", loc=bad)
    return doc


def _describe_yaml_error(exc: yaml.YAMLError, text: str, source: str) -> str:
    """Where the YAML breaks. A quote left open is reported where it opens, not lines
    later where the parser first notices (at the end of the file or at the next quote)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    opened = _quote_running_into(exc, text)
    if mark is not None and opened is not None and opened < mark.line:
        return (
            f"{source}, line {opened + 1}: not valid YAML: the quote opened on this line is "
            f"not closed on it ({problem} on line {mark.line + 1})"
        )
    where = f"{source}, line {mark.line + 1}" if mark is not None else source
    return f"{where}: not valid YAML: {problem}"


def _quote_running_into(exc: yaml.YAMLError, text: str) -> int | None:
    """The line (0-based) of a quoted scalar that runs over several lines into the error."""
    context_mark = getattr(exc, "context_mark", None)
    if context_mark is not None and "quoted scalar" in (getattr(exc, "context", None) or ""):
        return int(context_mark.line)  # never closed: the scanner ran to the end
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            start, end = token.start_mark, token.end_mark
            if end.line > mark.line:
                break
            quoted = isinstance(token, yaml.ScalarToken) and token.style in ('"', "'")
            if quoted and start.line < end.line == mark.line:
                return int(start.line)  # closed only by the quote that opens a later value
    except yaml.YAMLError:
        return None
    return None


def read_text(path: Path | str) -> str:
    """A UTF-8 file's text, or an InputError naming the file."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read: {exc}") from None


def load_yaml(path: Path | str) -> YamlDoc:
    return load_yaml_text(read_text(path), str(path))
