"""YAML files read with line numbers, so every error can say where it is.

Prompt, suite and team files and the Slack form's fields come from people, so they are
read with limits: at most ``FILE_LIMIT`` bytes, no anchors or aliases (a few hundred bytes
of nested aliases expand to billions of values), at most ``MAX_DEPTH`` levels and
``MAX_NODES`` values. YAML 1.2 (ruamel.yaml): only ``true``/``false`` are booleans, so
``yes``, ``no``, ``on`` and ``off`` stay words. The data handed on is plain ``dict``,
``list``, ``str``, ``int``, ``float``, ``bool`` and ``None``.

>>> doc = load_yaml_text("name: x\\nmodel: m\\n", "p.yaml")
>>> doc.data["name"], doc.line_of(("model",))
('x', 2)
>>> load_yaml_text("a: &a [1, 2]\\nb: *a\\n", "p.yaml")
Traceback (most recent call last):
roles.errors.InputError: p.yaml, line 1: YAML aliases and anchors (&a) are not allowed in promptloop files
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.tokens import ScalarToken

from roles.errors import FieldError, InputError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

FILE_LIMIT = 1 << 20  # bytes: a prompt, suite or team file is a few KB
MAX_DEPTH = 100  # levels of nesting, as for a dataset line
MAX_NODES = 100_000  # values in one document

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + name for name in ("str", "int", "float", "bool", "null")}


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


class _Refused(Exception):
    """What a promptloop file may not hold, at a line (0-based, as the parser counts)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _LimitedComposer(Composer):
    """The node tree, refused at the first anchor or alias and past the depth and size caps
    (checked as the parser goes, before anything is built)."""

    levels = 0  # not ``depth``: ruamel.yaml's own counter (0.19) has that name
    values = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        line = event.start_mark.line
        if isinstance(event, AliasEvent) or event.anchor is not None:
            sign = "*" if isinstance(event, AliasEvent) else "&"
            raise _Refused(
                line,
                f"YAML aliases and anchors ({sign}{event.anchor}) are not allowed in "
                "promptloop files",
            )
        self.values += 1
        if self.values > MAX_NODES:
            raise _Refused(line, f"more than {MAX_NODES:,} YAML values: not a promptloop file")
        if self.levels >= MAX_DEPTH:
            raise _Refused(line, f"nested deeper than {MAX_DEPTH} levels: not a promptloop file")
        self.levels += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.levels -= 1


def _parser() -> YAML:
    """A new one per document: a YAML object holds its parser's state (threads share none)."""
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _LimitedComposer
    return yaml


def _shown(tag: Any) -> str:
    """A tag as written: ``!!binary``, not ``tag:yaml.org,2002:binary``."""
    return str(tag).replace(_TAG, "!!", 1)


class _Builder:
    """Plain data from the node tree, with the line of every path (a key's path: its key's
    line), refusing a key given twice in one mapping (the last would win silently)."""

    def __init__(self, yaml: YAML) -> None:
        self.constructor = yaml.constructor
        self.lines: dict[Loc, int] = {}

    def build(self, node: Node, path: Loc) -> Any:
        self.lines[path] = node.start_mark.line + 1
        tag = str(node.tag)
        if isinstance(node, MappingNode) and tag == _TAG + "map":
            out: dict[Any, Any] = {}
            first: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key = self._key(key_node)
                line = key_node.start_mark.line + 1
                if key in first:
                    raise _Refused(
                        line - 1,
                        f"not valid YAML: key '{key}' is given twice (first on line {first[key]})",
                    )
                first[key] = line
                out[key] = self.build(value_node, (*path, key))
                self.lines[(*path, key)] = line
            return out
        if isinstance(node, SequenceNode) and tag == _TAG + "seq":
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        if isinstance(node, ScalarNode) and tag in _SCALAR_TAGS:
            return self.constructor.construct_object(node)
        if isinstance(node, ScalarNode) and tag == _TAG + "timestamp":
            return str(node.value)  # a date stays as written, not a datetime
        raise _Refused(
            node.start_mark.line, f"not valid YAML: the tag {_shown(tag)} is not allowed"
        )

    def _key(self, node: Node) -> Any:
        if not isinstance(node, ScalarNode):
            raise _Refused(node.start_mark.line, "not valid YAML: a key must be a plain value")
        if str(node.tag) == _TAG + "merge":
            raise _Refused(
                node.start_mark.line, "merge keys (<<) are not allowed in promptloop files"
            )
        if str(node.tag) not in _SCALAR_TAGS:
            raise _Refused(
                node.start_mark.line, f"not valid YAML: the tag {_shown(node.tag)} is not allowed"
            )
        return self.constructor.construct_object(node)


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
    yaml = _parser()
    builder = _Builder(yaml)
    try:
        node = yaml.compose(text)
        data = None if node is None else builder.build(node, ())
    except _Refused as exc:
        raise InputError(f"{source}, line {exc.line + 1}: {exc.message}") from None
    except YAMLError as exc:
        raise InputError(_describe_yaml_error(exc, text, source)) from None
    doc = YamlDoc(source=source, data=data, lines=builder.lines)
    bad = non_finite(data)
    if bad is not None:
        field = ".".join(str(p) for p in bad)
        raise FieldError(f"{doc.where(bad)}: {field}: NaN and infinity are not allowed", loc=bad)
    return doc


def _describe_yaml_error(exc: YAMLError, text: str, source: str) -> str:
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


def _quote_running_into(exc: YAMLError, text: str) -> int | None:
    """The line (0-based) of a quoted scalar that runs over several lines into the error."""
    if not isinstance(exc, MarkedYAMLError) or exc.problem_mark is None:
        return None
    if exc.context_mark is not None and "quoted scalar" in (exc.context or ""):
        return int(exc.context_mark.line)  # never closed: the scanner ran to the end
    mark = exc.problem_mark
    try:
        for token in _parser().scan(text):
            start, end = token.start_mark, token.end_mark
            if end.line > mark.line:
                break
            quoted = isinstance(token, ScalarToken) and token.style in ('"', "'")
            if quoted and start.line < end.line == mark.line:
                return int(start.line)  # closed only by the quote that opens a later value
    except YAMLError:
        return None
    return None


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit:,} bytes"


def read_capped(stream: IO[bytes], source: str, *, limit: int = FILE_LIMIT) -> str:
    """At most ``limit`` bytes of ``stream`` as UTF-8 text (newlines as ``\\n``), or an
    InputError: a longer stream (``/dev/zero``) is refused after reading one byte more."""
    raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise InputError(f"{source}: larger than {_size(limit)}: not a promptloop file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: cannot be read: {exc}") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_text(path: Path | str, *, limit: int = FILE_LIMIT) -> str:
    """A UTF-8 file's text (at most ``limit`` bytes), or an InputError naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            return read_capped(stream, str(path), limit=limit)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc}") from None


def read_stdin(*, limit: int = FILE_LIMIT) -> str:
    """Standard input's text, at most ``limit`` bytes (``prompt push -``)."""
    try:
        if hasattr(sys.stdin, "buffer"):
            return read_capped(sys.stdin.buffer, "<stdin>", limit=limit)
        text = sys.stdin.read(limit + 1)  # a text stream only (an embedding's, a test's)
    except OSError as exc:
        raise InputError(f"<stdin>: cannot be read: {exc}") from None
    if len(text.encode("utf-8", "surrogatepass")) > limit:
        raise InputError(f"<stdin>: larger than {_size(limit)}: not a promptloop file")
    return text


def load_yaml(path: Path | str) -> YamlDoc:
    return load_yaml_text(read_text(path), str(path))
