"""Migrations: HEAD matches the scripts, and the migrated schema matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from integrations.db import current_revision, get_engine
from integrations.migrations import HEAD
from integrations.migrations.runner import script_head


def test_head_constant_matches_the_scripts() -> None:
    assert script_head() == HEAD


def test_migrated_schema_matches_the_models(ledger: str) -> None:
    engine = get_engine()
    assert current_revision(engine) == HEAD
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
