"""One open change per candidate version: the database guarantees it, the loser is told.

Two ``change submit``s of the same file at the same moment used to open two changes for
one version (SQLite, 2 of 19 trials).
"""

from __future__ import annotations

import pytest
from helpers import all_at_once, load, while_uncommitted
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from integrations.db import get_engine
from roles.errors import PolicyError
from roles.ledger import ChangeRequest
from roles.pm import submit_change
from roles.prompt_file import PromptSpec, parse_prompt_file
from roles.registry import push
from roles.sample import sample_path


def change_spec(trial: int = 0) -> PromptSpec:
    spec = parse_prompt_file(sample_path("support-triage-change.yaml"))
    return spec.model_copy(update={"system": f"{spec.system} (trial {trial})"})


def open_changes(version_id: int | None = None) -> list[ChangeRequest]:
    with Session(get_engine()) as s:
        query = select(ChangeRequest).where(ChangeRequest.state == "submitted")
        if version_id is not None:
            query = query.where(ChangeRequest.candidate_version_id == version_id)
        return list(s.exec(query).all())


def test_the_database_refuses_a_second_open_change_for_one_version(session: Session) -> None:
    """Even a writer that skips every check in roles/ cannot open a duplicate."""
    load(session)
    first = submit_change(session, spec=change_spec(), author="maya")
    session.commit()
    copy = first.model_dump(exclude={"id"})
    session.add(ChangeRequest(**copy))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    # A closed change no longer holds its version: the same version may be proposed again.
    session.add(ChangeRequest(**{**copy, "state": "withdrawn"}))
    session.commit()


def test_a_submit_that_loses_the_race_names_the_change_that_won(session: Session) -> None:
    """A has written its change but not committed; B checks, finds nothing, and writes:
    the database holds B until A commits, then refuses B, and B names A's change."""
    load(session)
    version, _ = push(session, spec=change_spec(), actor="maya")  # both find this version
    session.commit()
    first = Session(get_engine())
    winner = submit_change(first, spec=change_spec(), author="maya").id

    error = while_uncommitted(
        first, lambda second: submit_change(second, spec=change_spec(), author="maya")
    )

    assert isinstance(error, PolicyError), error
    assert error.exit_code == 1
    assert error.message == (
        f"change {winner} already proposes version {version.number} of 'support-triage' "
        f"(submitted); see `promptloop change show {winner}`"
    )
    assert [c.id for c in open_changes(version.id)] == [winner]


def test_simultaneous_submits_of_one_file_open_exactly_one_change(session: Session) -> None:
    """Three threads released together, several times, each time with a new version."""
    load(session)
    engine = get_engine()
    for trial in range(4):
        results = all_at_once(
            *(
                lambda s, trial=trial: submit_change(s, spec=change_spec(trial), author="maya").id
                for _ in range(3)
            )
        )
        opened = [r for r in results if isinstance(r, int)]
        assert len(opened) == 1, results
        for loser in (r for r in results if not isinstance(r, int)):
            assert str(loser).startswith(f"change {opened[0]} already proposes version"), loser
    with Session(engine) as s:
        per_version = s.exec(
            select(ChangeRequest.candidate_version_id, func.count()).group_by(
                ChangeRequest.candidate_version_id
            )
        ).all()
    assert len(per_version) == 4 and all(n == 1 for _, n in per_version)
