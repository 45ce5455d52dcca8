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
