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
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from roles.errors import InputError
from roles.templates import RenderError, check_syntax, render
from roles.yamlfile import YamlDoc, load_yaml

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class ModelParams(BaseModel):
    """The sampling parameters promptloop passes to the model; anything else is a typo."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    seed: int | None = None
    stop: list[str] | None = Field(default=None, max_length=4)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)


class Example(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: dict[str, Any] = Field(default_factory=dict)
    output: str


class PromptSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
    if not isinstance(doc.data, dict):
        raise InputError(f"{doc.source}: a prompt file is a mapping with name, model and template")
    suite_source = doc.where(("suite",))
    if isinstance(doc.data.get("suite"), str):
        suite_data, suite_source = _suite_file(doc)
        doc.data = {**doc.data, "suite": suite_data}
    spec = doc.validate(PromptSpec)
    if spec.suite is not None:
        # Imported here: the statistics behind suites are not needed by most commands.
        from roles.data_scientist.suite import parse_suite

        parse_suite(spec.suite, suite_source)
    check_syntax(spec.template, doc.where(("template",)))
    if spec.system:
        check_syntax(spec.system, doc.where(("system",)))
    for index, example in enumerate(spec.examples):
        try:
            render(spec.template, example.input)
        except RenderError as exc:
            what = f"variable '{exc.variable}' is undefined" if exc.variable else exc.message
            raise InputError(
                f"{doc.where(('examples', index, 'input'))}: few-shot example {index + 1} does "
                f"not render through the template: {what}"
            ) from None
    return spec


def _suite_file(doc: YamlDoc) -> tuple[Any, str]:
    """``suite: evals/triage-suite.yaml``: a suite file beside the prompt file, inlined;
    returns its data and the name its errors should carry."""
    reference = str(doc.data["suite"])
    path = Path(doc.source).parent / reference
    suite_doc = load_yaml(path)
    data = suite_doc.data
    if isinstance(data, dict) and set(data) == {"suite"}:
        data = data["suite"]
    if not isinstance(data, dict):
        raise InputError(f"{path}: a suite file is a mapping with scorers and gate")
    return data, str(path)


def parse_prompt_file(path: Path | str) -> PromptSpec:
    return parse_prompt_doc(load_yaml(path))


class _Dumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and value == value.rstrip(" ") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def export_yaml(spec: PromptSpec) -> str:
    data: dict[str, Any] = {"name": spec.name}
    for key, value in spec.content().items():
        if value not in (None, {}, []):
            data[key] = value
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
