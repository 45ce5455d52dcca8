"""Inputs a careless or hostile user may give: refused with a line number, never half-written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from roles.datasets import parse_jsonl_text
from roles.errors import InputError
from roles.ledger import Member
from roles.prompt_file import parse_prompt_doc
from roles.roster import read_team_file, sync_team
from roles.sample import load_sample
from roles.templates import RenderError, render
from roles.who import Who
from roles.yamlfile import load_yaml_text

LEE = Who(handle="lee")  # the sample's admin


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "name: x\nname: y\nmodel: m\ntemplate: t\n",
            "p.yaml, line 2: not valid YAML: key 'name' is given twice",
        ),
        (
            "name: x\nmodel: m\ntemplate: t\nparams: {temperature: .nan}\n",
            "p.yaml, line 4: params.temperature: NaN",
        ),
        (
            "name: x\nmodel: m\ntemplate: '{{ text }}'\nexamples:\n  - input: {tixket: a}\n    output: b\n",
            "p.yaml, line 5: few-shot example 1 does not render through the template: variable 'text'",
        ),
    ],
)
def test_prompt_files_refuse_duplicates_non_finite_numbers_and_broken_examples(
    text: str, words: str
) -> None:
    with pytest.raises(InputError) as info:
        parse_prompt_doc(load_yaml_text(text, "p.yaml"))
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('{"id": "a", "id": "b", "input": {}}', "line 1: key 'id' is given twice"),
        ('{"id": "a", "input": {"x": NaN}}', "line 1: NaN is not a number JSON allows"),
        ('{"id": "a", "input": {"x": -Infinity}}', "line 1: -Infinity is not a number"),
    ],
)
def test_jsonl_refuses_duplicate_keys_and_non_finite_numbers(line: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        parse_jsonl_text(line + "\n", "d.jsonl")
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("template", "words"),
    [
        (
            "{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}{% endfor %}",
            "loops more than",
        ),
        ("{{ 'x' * 100000000 }}", "over 1000000 long"),
        ("{{ 2 ** 99999999 }}", "exponents above 64"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "recurses too deeply"),
    ],
)
def test_templates_cannot_take_the_machine(template: str, words: str) -> None:
    with pytest.raises(RenderError, match=words):
        render(template, {})


def test_one_slack_user_is_one_person(tmp_path: Path, session: Session) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "people:\n  - {handle: a, name: A, roles: [pm], slack_user_id: U1}\n"
        "  - {handle: b, name: B, roles: [engineer], slack_user_id: U1}\n"
    )
    with pytest.raises(InputError, match=r"t.yaml, line 3: slack_user_id U1 is already that of 'a'"):
        read_team_file(path)
    load_sample(session)
    session.commit()
    path.write_text("people:\n  - {handle: zed, name: Z, roles: [pm], slack_user_id: U01MAYA}\n")
    with pytest.raises(InputError, match="already belongs to 'maya'"):
        sync_team(session, people=read_team_file(path), deactivate_missing=False, who=LEE)


def test_the_sample_never_brings_back_someone_the_team_removed(
    tmp_path: Path, session: Session
) -> None:
    load_sample(session)
    path = tmp_path / "t.yaml"
    path.write_text("people:\n  - {handle: ana, name: Ana, roles: [pm, admin]}\n")
    sync_team(session, people=read_team_file(path), who=LEE)
    session.commit()
    report = load_sample(session)
    session.commit()
    assert not report.changed
    active = {m.handle for m in session.exec(select(Member).where(Member.active)).all()}
    assert active == {"ana", "promptloop"}


SUITE_PROMPT = """name: s
model: m
template: "{{ q }}"
suite:
  scorers:
    - exact_match
    - name: numeric
      args: {tolerance: 1}
"""


def test_suite_errors_point_at_the_scorer_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"p.yaml, line 7: suite.scorers\[1\]: scorer 'numeric'"):
        parse_prompt_doc(load_yaml_text(SUITE_PROMPT, str(tmp_path / "p.yaml")))
    (tmp_path / "suite.yaml").write_text("scorers:\n  - exact_match\ngate:\n  guardrails: [nope]\n")
    (tmp_path / "q.yaml").write_text(SUITE_PROMPT.split("suite:")[0] + "suite: suite.yaml\n")
    from roles.prompt_file import parse_prompt_file

    with pytest.raises(InputError, match=r"suite.yaml, line 4: suite.gate.guardrails\[0\].metric"):
        parse_prompt_file(tmp_path / "q.yaml")


def test_yes_and_no_stay_words_as_in_yaml_1_2() -> None:
    data = load_yaml_text("choices: {yes: 1.0, no: 0.0}\nstrict: true\n", "s.yaml").data
    assert data == {"choices": {"yes": 1.0, "no": 0.0}, "strict": True}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (  # never closed: the scanner runs to the end of the file
            'name: x\nmodel: m\ndataset: d\ntemplate: "Ticket: {{ ticket }}\nsystem: hi\n'
            "params: {temperature: 0}\nexamples: []\n",
            "p.yaml, line 4: not valid YAML: the quote opened on this line is not closed on it",
        ),
        (  # closed only by the quote that opens a value three lines later
            'name: x\nmodel: m\ndataset: d\nsystem: "You sort tickets.\ntemplate: |\n'
            '  Ticket: {{ ticket }}\ndescription: "the end"\n',
            "p.yaml, line 4: not valid YAML: the quote opened on this line is not closed on it "
            "(expected <block end>, but found '<scalar>' on line 7)",
        ),
    ],
)
def test_an_unclosed_quote_is_reported_on_the_line_where_it_opens(text: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        load_yaml_text(text, "p.yaml")
    assert words in str(info.value)


def test_a_quote_over_several_lines_that_is_closed_is_not_blamed() -> None:
    text = 'name: x\nsystem: "one\n  two"\nmodel: [m\n'
    with pytest.raises(InputError) as info:
        load_yaml_text(text, "p.yaml")
    assert "line 2" not in str(info.value) and "quote" not in str(info.value)
