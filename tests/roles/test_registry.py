"""The prompt registry, prompt files and templates: versions, dedupe, labels, validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import load, submit
from sqlmodel import Session, select

from roles.errors import ConflictError, InputError, PolicyError, RoleError
from roles.ledger import ChangeRequest, PromptVersion
from roles.pm import submit_change
from roles.prompt_file import export_yaml, parse_prompt_file
from roles.registry import (
    find_prompt,
    label_history,
    labels_of,
    move_label,
    push,
    resolve,
    spec_of,
)
from roles.roster import find_member
from roles.sample import sample_path
from roles.templates import RenderError, render_messages


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_identical_push_returns_the_existing_version(session: Session) -> None:
    load(session)
    spec = parse_prompt_file(sample_path("support-triage.yaml"))
    version, created = push(session, spec=spec, actor="dana")
    assert (version.number, created) == (1, False)
    changed = spec.model_copy(update={"template": spec.template + "Answer:"})
    v2, created = push(session, spec=changed, actor="dana")
    assert (v2.number, created) == (2, True)
    again, created = push(session, spec=changed, actor="omar")
    assert (again.id, created) == (v2.id, False)


def test_push_needs_an_author_role(session: Session) -> None:
    load(session)
    spec = parse_prompt_file(sample_path("support-triage-change.yaml"))
    with pytest.raises(RoleError, match="sam"):
        push(session, spec=spec, actor="sam")


def test_export_round_trips_to_the_same_version(session: Session) -> None:
    load(session)
    spec = parse_prompt_file(sample_path("support-triage-change.yaml"))
    version, _ = push(session, spec=spec, actor="maya")
    text = export_yaml(spec_of(version, name="support-triage"))
    from roles.prompt_file import parse_prompt_doc
    from roles.yamlfile import load_yaml_text

    reread = parse_prompt_doc(load_yaml_text(text, "export.yaml"))
    assert reread.content_hash() == version.content_hash
    assert push(session, spec=reread, actor="maya") == (version, False)


def test_label_history_records_every_move(session: Session) -> None:
    load(session)
    prompt = find_prompt(session, name="support-triage")
    spec = parse_prompt_file(sample_path("support-triage-change.yaml"))
    v2, _ = push(session, spec=spec, actor="maya")
    v1 = resolve(session, name="support-triage", version=1)
    lee = find_member(session, handle="lee")
    move_label(session, prompt=prompt, label="staging", version=v2, actor=lee)
    move_label(
        session, prompt=prompt, label="production", version=v2, actor=lee, expected_from=v1.id
    )
    move_label(session, prompt=prompt, label="production", version=v1, actor=lee, note="back")
    session.commit()
    moves = [
        (m.label, m.from_version, m.to_version, m.actor)
        for m in label_history(session, prompt=prompt)
    ]
    assert moves == [
        ("production", None, 1, "lee"),
        ("staging", None, 2, "lee"),
        ("production", 1, 2, "lee"),
        ("production", 2, 1, "lee"),
    ]
    assert labels_of(session, prompt=prompt) == {"production": 1, "staging": 2}


def test_stale_label_move_conflicts_and_writes_nothing(session: Session) -> None:
    load(session)
    prompt = find_prompt(session, name="support-triage")
    v2, _ = push(
        session, spec=parse_prompt_file(sample_path("support-triage-change.yaml")), actor="maya"
    )
    lee = find_member(session, handle="lee")
    with pytest.raises(ConflictError):
        move_label(
            session, prompt=prompt, label="production", version=v2, actor=lee, expected_from=v2.id
        )
    session.rollback()
    assert len(label_history(session, prompt=prompt)) == 1


def test_submit_refuses_a_template_that_does_not_render_naming_item_and_variable(
    session: Session, tmp_path: Path
) -> None:
    load(session)
    text = (
        sample_path("support-triage-change.yaml")
        .read_text()
        .replace("Ticket: {{ ticket }}", "Ticket: {{ ticket }} from {{ customer_name }}")
        .replace("examples:", "examples_unused:")
        .split("examples_unused:")[0]
    )
    spec = parse_prompt_file(write(tmp_path, "bad.yaml", text))
    with pytest.raises(InputError) as info:
        submit_change(session, spec=spec, author="maya")
    message = str(info.value)
    assert (
        "item 'b01'" in message
        and "'customer_name'" in message
        and "nothing was written" in message
    )
    session.rollback()
    assert session.exec(select(ChangeRequest)).all() == []
    assert len(session.exec(select(PromptVersion)).all()) == 1


def test_submit_refuses_identical_to_production(session: Session) -> None:
    load(session)
    with pytest.raises(InputError, match="identical to production"):
        submit_change(
            session, spec=parse_prompt_file(sample_path("support-triage.yaml")), author="maya"
        )


def test_submit_needs_pm_or_expert(session: Session) -> None:
    load(session)
    spec = parse_prompt_file(sample_path("support-triage-change.yaml"))
    with pytest.raises(PolicyError, match="pm or expert"):
        submit_change(session, spec=spec, author="dana")


def test_an_open_change_is_not_proposed_twice(session: Session) -> None:
    load(session)
    submit(session)
    with pytest.raises(PolicyError, match="already proposes"):
        submit(session, author="omar")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("name: x\nmodel: m\ntemplate: [unclosed\n", "bad.yaml, line 4: not valid YAML"),
        ("name: x\nmodel: m\n", "bad.yaml, line 1: template: Field required"),
        (
            "name: x\nmodel: m\ntemplate: hi\nparams:\n  temprature: 1\n",
            "bad.yaml, line 5: params.temprature",
        ),
        (
            "name: x\nmodel: m\ntemplate: hi\nparams:\n  temperature: 9\n",
            "bad.yaml, line 5: params.temperature",
        ),
        ("name: x\nmodel: m\ntemplate: '{{ a '\n", "bad.yaml, line 3: template error"),
        ("- a\n- b\n", "bad.yaml: a prompt file is a mapping"),
        ("name: 'bad name'\nmodel: m\ntemplate: hi\n", "bad.yaml, line 1: name"),
    ],
)
def test_bad_prompt_files_name_file_and_line(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        parse_prompt_file(write(tmp_path, "bad.yaml", text))
    assert words in str(info.value)


def test_rendering_is_sandboxed_and_strict() -> None:
    messages = render_messages(
        system="Be brief about {{ topic }}.",
        template="Q: {{ q }}",
        examples=[{"input": {"q": "2+2"}, "output": "4"}],
        variables={"q": "3+3", "topic": "maths"},
    )
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    with pytest.raises(RenderError) as info:
        render_messages(system=None, template="{{ missing }}", examples=[], variables={})
    assert info.value.variable == "missing"
    with pytest.raises(RenderError, match="sandbox"):
        render_messages(
            system=None, template="{{ x.__class__.__mro__ }}", examples=[], variables={"x": 1}
        )


def test_submit_refuses_a_prompt_without_a_dataset(session: Session, tmp_path: Path) -> None:
    load(session)
    text = (
        sample_path("support-triage-change.yaml")
        .read_text()
        .replace("dataset: support-tickets\n", "")
    )
    spec = parse_prompt_file(
        write(tmp_path, "p.yaml", text.replace("name: support-triage", "name: fresh"))
    )
    push(session, spec=spec.model_copy(update={"template": "v1 {{ ticket }}"}), actor="maya")
    with pytest.raises(InputError, match="names no eval dataset"):
        submit_change(session, spec=spec, author="maya")


def test_revise_refuses_production_and_rebases_on_it(session: Session, tmp_path: Path) -> None:
    from helpers import walk

    from roles.pm import revise_change
    from roles.states import State

    load(session)
    change = submit(session)
    walk(session, change.id, State.CHANGES_REQUESTED)
    production = parse_prompt_file(sample_path("support-triage.yaml"))
    with pytest.raises(InputError, match="identical to production"):
        revise_change(session, change_id=change.id, spec=production, author="maya")
    session.rollback()
    # production moves on (an admin), then the author revises: judged against the new base
    prompt = find_prompt(session, name="support-triage")
    other = production.model_copy(update={"template": production.template + "Be brief.\n"})
    v3, _ = push(session, spec=other, actor="dana")
    move_label(
        session,
        prompt=prompt,
        label="production",
        version=v3,
        actor=find_member(session, handle="lee"),
    )
    revised = parse_prompt_file(sample_path("support-triage-change.yaml"))
    revised = revised.model_copy(update={"template": revised.template + "One word.\n"})
    revise_change(session, change_id=change.id, spec=revised, author="maya")
    session.commit()
    assert session.get(ChangeRequest, change.id).base_version_id == v3.id


def test_push_refuses_a_missing_dataset_and_unrenderable_items(
    session: Session, tmp_path: Path
) -> None:
    load(session)
    text = sample_path("support-triage-change.yaml").read_text()
    missing = parse_prompt_file(
        write(tmp_path, "a.yaml", text.replace("dataset: support-tickets", "dataset: nodata"))
    )
    with pytest.raises(InputError, match="dataset 'nodata', which does not exist"):
        push(session, spec=missing, actor="maya")
    broken = parse_prompt_file(
        write(
            tmp_path,
            "b.yaml",
            sample_path("support-triage.yaml").read_text().replace("{{ ticket }}", "{{ nope }}"),
        )
    )
    with pytest.raises(InputError, match=r"item 'b01'.*'nope'"):
        push(session, spec=broken, actor="maya")
