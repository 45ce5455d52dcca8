"""Datasets from JSONL and the roster from team.yaml: bad lines named, nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from roles.datasets import find_dataset, items_of, parse_jsonl, push_dataset
from roles.errors import InputError
from roles.ledger import Dataset, Member
from roles.roster import read_team_file, roles_of, sync_team
from roles.sample import load_sample
from roles.states import Role
from roles.who import Who

ANA = Who(handle="ana")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = '{"id": "a", "input": {"q": "1"}, "expected": "x", "tags": ["t"]}\n'


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (GOOD + "{not json}\n", "line 2: not valid JSON"),
        (GOOD + '{"id": "b"}\n', "line 2: input: Field required"),
        (GOOD + '\n{"id": "a", "input": {}}\n', "line 3: duplicate item id 'a' (first on line 1)"),
        (GOOD + '{"id": "c", "input": {}, "colour": 1}\n', "line 2: colour: Extra inputs"),
        ('{"id": "c", "input": []}\n', "line 1: input"),
        ("\n\n", "no items"),
    ],
)
def test_bad_jsonl_names_file_and_line(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        parse_jsonl(write(tmp_path, "d.jsonl", text))
    assert words in str(info.value) and "d.jsonl" in str(info.value)


def test_dataset_versions_and_dedupe(session: Session, tmp_path: Path) -> None:
    items = parse_jsonl(write(tmp_path, "d.jsonl", GOOD))
    first, created = push_dataset(session, name="qa", items=items)
    assert (first.version, created) == (1, True)
    assert push_dataset(session, name="qa", items=items) == (first, False)
    more = parse_jsonl(write(tmp_path, "e.jsonl", GOOD + '{"id": 7, "input": {"q": "2"}}\n'))
    second, created = push_dataset(session, name="qa", items=more)
    session.commit()
    assert (second.version, created) == (2, True)
    assert find_dataset(session, name="qa").version == 2
    assert [i.item_id for i in items_of(session, dataset=second)] == ["a", "7"]


TEAM = """people:
  - handle: ana
    name: Ana
    roles: [pm, expert, admin]
    slack_user_id: U1
  - handle: bo
    name: Bo
    roles: [engineer]
"""


def test_team_sync_adds_updates_and_deactivates(session: Session, tmp_path: Path) -> None:
    report = sync_team(session, people=read_team_file(write(tmp_path, "t.yaml", TEAM)))
    assert report.added == ["ana", "bo"]
    smaller = TEAM.split("  - handle: bo")[0].replace("name: Ana", "name: Ana B.")
    report = sync_team(session, people=read_team_file(write(tmp_path, "t2.yaml", smaller)), who=ANA)
    session.commit()
    assert (report.updated, report.deactivated) == (["ana"], ["bo"])
    bo = session.exec(select(Member).where(Member.handle == "bo")).one()
    assert bo.active is False  # kept, with its history, but cannot act
    ana = session.exec(select(Member).where(Member.handle == "ana")).one()
    assert roles_of(session, member_id=ana.id) == [Role.PM, Role.EXPERT, Role.ADMIN]
    report = sync_team(session, people=read_team_file(write(tmp_path, "t.yaml", TEAM)), who=ANA)
    assert report.updated == ["ana", "bo"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "people:\n  - handle: a\n    name: A\n    roles: [chef]\n",
            "t.yaml, line 4: people.0.roles.0",
        ),
        (
            "people:\n  - handle: A B\n    name: A\n    roles: [pm]\n",
            "t.yaml, line 2: people.0.handle",
        ),
        (
            "people:\n  - handle: a\n    roles: [pm]\n",
            "t.yaml, line 2: people.0.name: Field required",
        ),
        (
            "people:\n  - {handle: a, name: A, roles: [pm]}\n  - {handle: a, name: B, roles: [pm]}\n",
            "t.yaml, line 3: handle 'a' is listed twice",
        ),
        ("people:\n  - handle: promptloop\n    name: x\n    roles: [pm]\n", "reserved"),
        ("people: [\n", "t.yaml, line 2: not valid YAML"),
    ],
)
def test_bad_team_files_name_file_and_line(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        read_team_file(write(tmp_path, "t.yaml", text))
    assert words in str(info.value)


def test_sample_load_is_idempotent(session: Session) -> None:
    first = load_sample(session)
    session.commit()
    counts = {t: len(session.exec(select(t)).all()) for t in (Member, Dataset)}
    second = load_sample(session)
    session.commit()
    assert first.changed and not second.changed
    assert counts == {t: len(session.exec(select(t)).all()) for t in (Member, Dataset)}
