"""A prompt as the separate text fields of a form (the Slack modal), and back.

A form edits part of a prompt file: the system text, the template, the few-shot examples
and the model parameters (YAML or JSON, as in the file), and the model. The rest (name,
description, dataset, suite) stays as in the version the form was opened from. The
fields read back into the same :class:`~roles.yamlfile.YamlDoc` a file is read into, so
``change submit``'s checks (``roles.pm.submit_doc``) run on it unchanged, and an error
names its field (``FieldError.loc[0]``)::

    texts = field_texts(spec)                        # {"template": "Ticket: …", …}
    doc = fields_doc(spec, {**texts, "template": edited})
    submit_doc(session, doc=doc, author="maya")      # the CLI's rules, the CLI's errors
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from roles.errors import FieldError, InputError
from roles.prompt_file import PromptSpec, yaml_text
from roles.yamlfile import Loc, YamlDoc, load_yaml_text

# The form's fields, in the order it shows them, and what each is called in an error.
FIELDS: dict[str, str] = {
    "system": "system text",
    "template": "template",
    "examples": "few-shot examples",
    "params": "model parameters",
    "model": "model",
}
STRUCTURED = ("examples", "params")  # YAML (or JSON) text in the form


def field_texts(spec: PromptSpec) -> dict[str, str]:
    """Each field's text as the form shows it; ``fields_doc`` reads it back to ``spec``."""
    content = spec.content()
    texts = {"system": spec.system or "", "template": spec.template, "model": spec.model}
    for name in STRUCTURED:
        value = content[name]
        texts[name] = yaml_text(value) if value else ""
    return texts


@dataclass
class FieldsDoc(YamlDoc):
    """A prompt document put together from a form: ``where`` names the field (and the line
    inside a YAML field) instead of a file's line."""

    parts: dict[str, YamlDoc] = field(default_factory=dict)

    def where(self, loc: Sequence[str | int]) -> str:
        if loc and loc[0] in self.parts:
            return self.parts[str(loc[0])].where(tuple(loc[1:]))
        if loc and loc[0] in FIELDS:
            return f"the {FIELDS[str(loc[0])]} field"
        return self.source


def fields_doc(base: PromptSpec, texts: Mapping[str, str | None]) -> FieldsDoc:
    """``base`` with the fields of ``texts`` replaced (a field missing from ``texts`` keeps
    ``base``'s value). Raises FieldError for a YAML field that does not parse."""
    data: dict[str, Any] = {"name": base.name}
    data.update({k: v for k, v in base.content().items() if v not in (None, {}, [])})
    parts: dict[str, YamlDoc] = {}
    shown = field_texts(base)
    for name in FIELDS:
        text = texts.get(name)
        if text is None:
            continue
        kept = _unchanged(shown[name], text)
        if name in STRUCTURED:
            parts[name] = _structured(name, kept)
            data[name] = parts[name].data
        else:
            data[name] = kept if kept or name != "system" else None
    data = {k: v for k, v in data.items() if v is not None}
    return FieldsDoc(source=f"the form for '{base.name}'", data=data, parts=parts)


def _unchanged(shown: str, typed: str) -> str:
    """Slack may drop a field's trailing newline: a field that differs from what was shown
    only there is what was shown (else an untouched form would differ from production)."""
    return shown if typed.rstrip() == shown.rstrip() else typed


def _structured(name: str, text: str) -> YamlDoc:
    where = f"the {FIELDS[name]} field"
    if not text.strip():
        return YamlDoc(source=where, data=[] if name == "examples" else {})
    loc: Loc = (name,)
    try:
        doc = load_yaml_text(text, where)
    except InputError as exc:
        raise FieldError(exc.message, loc=loc) from None
    wanted = list if name == "examples" else dict
    if not isinstance(doc.data, wanted):
        shape = "a list of {input: {…}, output: …}" if name == "examples" else "a mapping"
        raise FieldError(f"{where}: the {FIELDS[name]} are {shape} (YAML or JSON)", loc=loc)
    return doc


def too_long(spec: PromptSpec, limit: int) -> list[str]:
    """The fields whose text is longer than a form's input holds: never cut, so the form
    leaves them as they are (the CLI edits them)."""
    return [name for name, text in field_texts(spec).items() if len(text) > limit]


__all__ = ["FIELDS", "FieldsDoc", "field_texts", "fields_doc", "too_long"]
