"""Migrations: HEAD matches the scripts, and the migrated schema matches the models."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from integrations.db import current_revision, get_engine
from integrations.migrations import HEAD
from integrations.migrations.runner import script_head
from roles.ledger import load_all


def test_head_constant_matches_the_scripts() -> None:
    assert script_head() == HEAD


def test_migrated_schema_matches_the_models(ledger: str) -> None:
    engine = get_engine()
    assert current_revision(engine) == HEAD
    load_all()  # the tables load as they are used; the comparison needs all of them
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_runs_from_before_outages_were_told_apart_are_classified(ledger: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An all-connection-error run that the old code marked `finished`: after the upgrade
    to 0003 its items are outages and the run is `outage`, so it is never reused."""
    from alembic import command
    from sqlalchemy import text
    from support import invoke

    from integrations.migrations.runner import alembic_config, upgrade
    from integrations.settings import get_settings

    assert invoke("init", "--sample").code == 0
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    monkeypatch.setenv("PROMPTLOOP_MAX_RETRIES", "0")
    get_settings.cache_clear()
    ran = invoke("eval", "run", "support-triage", "--json")
    assert ran.code == 4, ran.stderr  # an outage: exit 4, and the run says so
    assert "incomplete" in ran.stderr and "connection error" in ran.stderr
    engine = get_engine()
    with engine.begin() as conn:
        config = alembic_config(engine)
        config.attributes["connection"] = conn
        command.downgrade(config, "0002")
        conn.execute(text("UPDATE eval_run SET status = 'finished'"))  # as 0002's code wrote it
    upgrade(engine)
    with engine.connect() as conn:
        status, outage_items, items = conn.execute(
            text("SELECT status, outage_items, items FROM eval_run")
        ).one()
        flagged = conn.execute(text("SELECT count(*) FROM eval_result WHERE outage")).scalar()
    assert (status, outage_items, flagged) == ("outage", items, items) and items == 30


def test_one_open_change_per_version_is_an_index_over_exactly_the_open_states(
    ledger: str,
) -> None:
    from sqlalchemy import inspect

    from roles.states import OPEN_STATES

    migration = _migration("0006")
    assert set(migration.OPEN_STATES) == {s.value for s in OPEN_STATES}
    (index,) = [
        i
        for i in inspect(get_engine()).get_indexes("change_request")
        if i["name"] == "uq_change_request_open_candidate"
    ]
    assert index["unique"] and index["column_names"] == ["candidate_version_id"]
    where = str(index["dialect_options"][f"{get_engine().dialect.name}_where"])
    assert {s.value for s in OPEN_STATES} == set(re.findall(r"'([a-z_]+)'", where))


def test_the_upgrade_withdraws_open_duplicates_it_finds_with_a_handoff(ledger: str) -> None:
    """A ledger where the race already happened still upgrades: the oldest change stays open."""
    from alembic import command
    from sqlalchemy import text
    from sqlmodel import Session, select

    from integrations.migrations.runner import alembic_config, upgrade
    from roles.ledger import ChangeRequest, Handoff
    from roles.pm import submit_change
    from roles.prompt_file import parse_prompt_file
    from roles.sample import load_sample, sample_path

    engine = get_engine()
    with Session(engine) as session:
        load_sample(session)
        spec = parse_prompt_file(sample_path("support-triage-change.yaml"))
        kept = submit_change(session, spec=spec, author="maya")
        session.commit()
        kept_id = kept.id
    with engine.begin() as connection:  # a twin, as the code before 0006 could write it
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.downgrade(config, _migration("0006").down_revision)
        columns = (
            "prompt_id, base_version_id, candidate_version_id, author_id, state, revision, "
            "note, flow_run_id, links, created_at, updated_at"
        )
        connection.execute(
            text(f"INSERT INTO change_request ({columns}) SELECT {columns} FROM change_request")
        )
        twin_id = connection.execute(text("SELECT max(id) FROM change_request")).scalar_one()
        connection.execute(
            text(
                "INSERT INTO handoff (change_id, from_state, to_state, actor_id, role, payload, at)"
                " SELECT :twin, from_state, to_state, actor_id, role, payload, at FROM handoff"
                " WHERE change_id = :kept"
            ).bindparams(twin=twin_id, kept=kept_id)
        )

    upgrade(engine)

    assert current_revision(engine) == HEAD
    with Session(engine) as session:
        assert session.get(ChangeRequest, kept_id).state == "submitted"  # type: ignore[union-attr]
        assert session.get(ChangeRequest, twin_id).state == "withdrawn"  # type: ignore[union-attr]
        last = session.exec(
            select(Handoff).where(Handoff.change_id == twin_id).order_by(Handoff.id.desc())  # type: ignore[union-attr]
        ).first()
    assert last is not None and (last.from_state, last.to_state, last.role) == (
        "submitted",
        "withdrawn",
        "system",
    )
    assert (
        last.note == f"withdrawn by the upgrade: change {kept_id} already proposes the same version"
    )


def _migration(revision: str):  # type: ignore[no-untyped-def]
    from alembic.script import ScriptDirectory

    from integrations.migrations.runner import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_revision(revision).module


def test_what_links_held_becomes_typed_columns_and_back(ledger: str) -> None:
    """0007 moves ``change_request.links`` into columns, values kept; its downgrade packs
    them back into the JSON bag."""
    from alembic import command
    from sqlalchemy import JSON, bindparam, text
    from support import SAMPLES, invoke

    from integrations.migrations.runner import alembic_config, upgrade

    assert invoke("init", "--sample").code == 0
    submitted = invoke(
        "change", "submit", "-f", str(SAMPLES / "support-triage-change.yaml"), "--as", "maya",
        "--no-eval",
    )  # fmt: skip
    assert submitted.code == 0, submitted.stderr
    engine = get_engine()
    with engine.begin() as conn:
        config = alembic_config(engine)
        config.attributes["connection"] = conn
        command.downgrade(config, "0006")
        links = conn.execute(text("SELECT links FROM change_request")).scalar_one()
        assert (links if isinstance(links, dict) else __import__("json").loads(links)) == {
            "not_evaluated": "--no-eval"
        }
        links = {
            "not_evaluated": "--no-eval",
            "evaluation_error": "HTTP 500",
            "evaluation_error_kind": "outage",
            "evaluation_error_at": "2026-12-01T10:00:00Z",
            "evaluator": {"pid": 1, "host": "h"},  # the old launcher's: dropped
        }
        conn.execute(
            text("UPDATE change_request SET links = :links").bindparams(
                bindparam("links", value=links, type_=JSON)
            )
        )
    upgrade(engine)
    shown = invoke("change", "show", "1", "--json").json()
    assert shown["not_evaluated"] == "--no-eval" and "links" not in shown
    assert shown["evaluation_error"] == {
        "message": "HTTP 500", "kind": "outage", "at": "2026-12-01T10:00:00Z", "log": None,
    }  # fmt: skip


def test_sweeps_come_and_go_with_0011_and_keep_their_verdicts_to_the_five(ledger: str) -> None:
    """0011 adds the sweep table (its verdicts checked by the database); its downgrade
    drops it and nothing else."""
    from alembic import command
    from sqlalchemy import inspect

    from integrations.migrations.runner import alembic_config, upgrade
    from roles.ledger.sweeps import SWEEP_VERDICTS

    engine = get_engine()
    [check] = [c for c in inspect(engine).get_check_constraints("sweep")]
    assert check["name"] == "sweep_verdict"
    assert all(f"'{verdict}'" in check["sqltext"] for verdict in SWEEP_VERDICTS)
    with engine.begin() as conn:
        config = alembic_config(engine)
        config.attributes["connection"] = conn
        command.downgrade(config, "0009")
    assert "sweep" not in inspect(engine).get_table_names()
    assert "eval_run" in inspect(engine).get_table_names()
    upgrade(engine)
    assert current_revision(engine) == HEAD
    assert "sweep" in inspect(engine).get_table_names()
