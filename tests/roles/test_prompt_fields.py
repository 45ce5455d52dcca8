"""A prompt as a form's fields and back: the same document `change submit` reads, with
errors that name their field."""

from __future__ import annotations

import pytest

from roles.errors import FieldError
from roles.prompt_fields import field_texts, fields_doc, too_long
from roles.prompt_file import parse_prompt_doc, parse_prompt_file
from roles.sample import sample_path
from roles.yamlfile import load_yaml_text


@pytest.mark.parametrize("name", ["support-triage.yaml", "support-triage-change.yaml"])
def test_the_fields_read_back_to_the_same_version(name: str) -> None:
    spec = parse_prompt_file(sample_path(name))
    again = parse_prompt_doc(fields_doc(spec, field_texts(spec)))
    assert again.content_hash() == spec.content_hash()


def test_a_trailing_newline_slack_dropped_changes_nothing() -> None:
    spec = parse_prompt_file(sample_path("support-triage.yaml"))
    texts = {k: v.rstrip("\n") for k, v in field_texts(spec).items()}
    assert parse_prompt_doc(fields_doc(spec, texts)).content_hash() == spec.content_hash()


def test_a_field_left_out_keeps_its_value_and_an_emptied_one_is_cleared() -> None:
    spec = parse_prompt_file(sample_path("support-triage-change.yaml"))
    assert spec.examples and spec.system
    kept = parse_prompt_doc(fields_doc(spec, {"template": "T {{ ticket }}"}))
    assert kept.examples == spec.examples and kept.system == spec.system
    cleared = parse_prompt_doc(fields_doc(spec, {"examples": "", "system": ""}))
    assert cleared.examples == [] and cleared.system is None


@pytest.mark.parametrize(
    ("edits", "loc", "said"),
    [
        ({"examples": "- input: {ticket: x}\n  output: billing\n- input: {ticket: y}"},
         ("examples", 1, "output"), "the few-shot examples field, line 3: examples.1.output"),
        ({"params": "max_tokens: 0"}, ("params", "max_tokens"), "the model parameters field, line 1"),
        ({"params": "temperature: .nan"}, ("params",), "NaN and infinity are not allowed"),
        ({"model": ""}, ("model",), "the model field: model: String should have at least 1"),
        ({"template": "{{ ticket }"}, ("template",), "the template field: template error"),
    ],
)  # fmt: skip
def test_an_error_names_its_field(
    edits: dict[str, str], loc: tuple[object, ...], said: str
) -> None:
    spec = parse_prompt_file(sample_path("support-triage.yaml"))
    with pytest.raises(FieldError) as caught:
        parse_prompt_doc(fields_doc(spec, {**field_texts(spec), **edits}))
    assert caught.value.loc == loc
    assert said in caught.value.message


def test_a_prompt_file_says_where_too() -> None:
    text = "name: x\nmodel: m\ntemplate: 'Hi {{ name }}'\nparams: {temperature: 9}\n"
    with pytest.raises(FieldError) as caught:
        parse_prompt_doc(load_yaml_text(text, "p.yaml"))
    assert caught.value.loc == ("params", "temperature")
    assert caught.value.message.startswith("p.yaml, line 4: params.temperature")


def test_too_long_names_the_fields_a_form_cannot_hold() -> None:
    spec = parse_prompt_file(sample_path("support-triage.yaml"))
    assert too_long(spec, 3000) == []
    assert too_long(spec.model_copy(update={"template": "x" * 3001}), 3000) == ["template"]
