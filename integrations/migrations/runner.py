"""Run Alembic programmatically against an engine (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

HERE = Path(__file__).resolve().parent
# Any constant will do: it only has to be the same in every promptloop process.
_PG_LOCK_KEY = 0x70726F6D  # "prom"


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    if engine is not None:
        config.set_main_option(
            "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return config


def script_head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade to ``revision``; concurrent callers on PostgreSQL wait for each other."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
