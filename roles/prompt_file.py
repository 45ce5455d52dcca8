"""Prompt files: the YAML a PM edits, parsed into a ``PromptSpec`` and written back.

    name: support-triage
    model: smollm2-135m
    dataset: support-tickets
    params: {temperature: 0, max_tokens: 16, seed: 7}
    system: You sort support tickets.
    template: |
      Ticket: {{ ticket }}
      Category:

``export_yaml(spec)`` prints a file that ``parse_prompt_file`` reads back to the same
spec, so ``prompt export`` output can be pushed unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from roles.errors import FieldError, InputError

if TYPE_CHECKING:
    import yaml

    from roles.yamlfile import Loc, YamlDoc

# YAML and Jinja2 are imported where a file is read or written, and the models' validators
# are built when first used (defer_build): commands that only read the ledger (`change
# list`, `prompt show`) start without paying for them.

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class ModelParams(BaseModel):
    """The sampling parameters promptloop passes to the model; anything else is a typo."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    seed: int | None = None
    stop: list[str] | None = Field(default=None, max_length=4)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    # A GBNF grammar the answer must follow: llama.cpp servers (the embedded model, a
    # llama.cpp or llama-cpp-python server) honour it; other endpoints refuse it.
    grammar: str | None = Field(default=None, min_length=1, max_length=20_000)


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    input: dict[str, Any] = Field(default_factory=dict)
    output: str


class PromptSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str
    model: str = Field(min_length=1, max_length=200)
    template: str = Field(min_length=1)
    description: str | None = None
    system: str | None = None
    params: ModelParams = Field(default_factory=ModelParams)
    examples: list[Example] = Field(default_factory=list)
    dataset: str | None = None
    suite: dict[str, Any] | None = None

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError("a name is letters, digits, '.', '_' or '-' (at most 200)")
        return value

    def content(self) -> dict[str, Any]:
        """Everything that makes a version, minus the name, in canonical form."""
        return {
            "description": self.description,
            "model": self.model,
            "params": self.params.model_dump(exclude_none=True),
            "system": self.system,
            "template": self.template,
            "examples": [e.model_dump() for e in self.examples],
            "dataset": self.dataset,
            "suite": self.suite,
        }

    def content_hash(self) -> str:
        canonical = json.dumps(self.content(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_prompt_doc(doc: YamlDoc) -> PromptSpec:
    from roles.templates import RenderError, check_syntax, render

    if not isinstance(doc.data, dict):
        raise InputError(f"{doc.source}: a prompt file is a mapping with name, model and template")
    suite_source = doc.where(("suite",))
    suite_doc, suite_root = doc, cast("Loc", ("suite",))
    if isinstance(doc.data.get("suite"), str):
        suite_doc, suite_root = _suite_file(doc)
        suite_source = suite_doc.source
        doc.data = {**doc.data, "suite": suite_doc.data}
    spec = doc.validate(PromptSpec)
    if spec.suite is not None:
        # Imported here: the statistics behind suites are not needed by most commands.
        from roles.data_scientist.suite import parse_suite

        try:
            parse_suite(spec.suite, suite_source)
        except InputError as exc:
            raise InputError(_pinpoint(exc.message, suite_source, suite_doc, suite_root)) from None
    for part in ("template", "system"):
        source = getattr(spec, part)
        if source:
            try:
                check_syntax(source, doc.where((part,)))
            except InputError as exc:
                raise FieldError(exc.message, loc=(part,)) from None
    for index, example in enumerate(spec.examples):
        try:
            render(spec.template, example.input)
        except RenderError as exc:
            what = f"variable '{exc.variable}' is undefined" if exc.variable else exc.message
            raise FieldError(
                f"{doc.where(('examples', index, 'input'))}: few-shot example {index + 1} does "
                f"not render through the template: {what}",
                loc=("examples", index, "input"),
            ) from None
    return spec


def _suite_file(doc: YamlDoc) -> tuple[YamlDoc, Loc]:
    """``suite: evals/triage-suite.yaml``: a suite file beside the prompt file; returns it and
    where the suite's keys start in it (the top, or under a ``suite:`` key)."""
    from roles.yamlfile import load_yaml

    path = Path(doc.source).parent / str(doc.data["suite"])
    suite_doc = load_yaml(path)
    root: Loc = ()
    if isinstance(suite_doc.data, dict) and set(suite_doc.data) == {"suite"}:
        suite_doc.data, root = suite_doc.data["suite"], ("suite",)
    if not isinstance(suite_doc.data, dict):
        raise InputError(f"{path}: a suite file is a mapping with scorers and gate")
    return suite_doc, root


_SUITE_PATH = re.compile(r"^suite((?:\.[A-Za-z_]+|\[\d+\])*)")


def _pinpoint(message: str, source: str, doc: YamlDoc, root: Loc) -> str:
    """Point a suite error at the line of the scorer or gate field it names."""
    rest = message[len(source) + 2 :] if message.startswith(source + ": ") else None
    match = _SUITE_PATH.match(rest or "")
    if rest is None or match is None:
        return message
    parts = re.findall(r"\.([A-Za-z_]+)|\[(\d+)\]", match.group(1))
    loc: Loc = (*root, *(int(i) if i else name for name, i in parts))
    return f"{doc.where(loc)}: {rest}"


def parse_prompt_file(path: Path | str) -> PromptSpec:
    from roles.yamlfile import load_yaml

    return parse_prompt_doc(load_yaml(path))


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and value == value.rstrip(" ") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


@cache
def _dumper() -> type[yaml.SafeDumper]:
    """Multi-line strings as ``|`` blocks, so an exported template reads as written."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(str, _str_representer)
    return Dumper


def yaml_text(value: Any) -> str:
    """``value`` as the YAML of a prompt file (multi-line text as ``|`` blocks)."""
    import yaml

    return str(yaml.dump(value, Dumper=_dumper(), sort_keys=False, allow_unicode=True, width=100))


def export_yaml(spec: PromptSpec) -> str:
    data: dict[str, Any] = {"name": spec.name}
    for key, value in spec.content().items():
        if value not in (None, {}, []):
            data[key] = value
    return yaml_text(data)
