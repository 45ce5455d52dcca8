"""Outages apart from verdicts; eval runs that say who runs them and when they last wrote.

An item whose call failed through the endpoint (connection refused, a timeout, 5xx or
429 after every retry, a refused key, a wrong URL) is an outage, not the item's error; a
run with such items has status ``outage`` and is never reused. Rows written before this
revision are classified from their recorded error text, so an old all-error run stops
being reused too.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 06:00:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import roles.ledger.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# How the model client has always worded an endpoint's failures.
_OUTAGE_PREFIXES = (
    "connection error",
    "timeout",
    "HTTP 5",
    "HTTP 429",
    "HTTP 408",
    "HTTP 409",
    "HTTP 401",
    "HTTP 403",
    "HTTP 404",
    "the endpoint did not answer like the OpenAI chat API: got JSON",
    "cannot call ",
    "set ",
    "no endpoint for model",
)


def _like_any(column: str) -> str:
    return " OR ".join(f"{column} LIKE '{p}%'" for p in _OUTAGE_PREFIXES)


def upgrade() -> None:
    # Plain ADD COLUMN on every database (no batch copy of a table full of results).
    op.add_column(
        "eval_result",
        sa.Column("outage", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "eval_run", sa.Column("outage_items", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("eval_run", sa.Column("pid", sa.Integer(), nullable=True))
    op.add_column(
        "eval_run", sa.Column("host", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True)
    )
    op.add_column(
        "eval_run",
        sa.Column("updated_at", roles.ledger.types.UTCDateTime(timezone=True), nullable=True),
    )
    judge_failed = " OR ".join(
        f"s.reason LIKE 'judge call failed: {p}%'" for p in _OUTAGE_PREFIXES
    )
    op.execute(
        "UPDATE eval_result SET outage = TRUE WHERE "
        f"({_like_any('error')}) OR id IN "
        f"(SELECT s.result_id FROM eval_score s WHERE s.unscored AND ({judge_failed}))"
    )
    op.execute(
        "UPDATE eval_run SET outage_items = (SELECT count(*) FROM eval_result r "
        "WHERE r.run_id = eval_run.id AND r.outage)"
    )
    op.execute("UPDATE eval_run SET status = 'outage' WHERE status = 'finished' AND outage_items > 0")


def downgrade() -> None:
    op.execute("UPDATE eval_run SET status = 'failed' WHERE status = 'outage'")
    # Plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35), not a batch copy: on SQLite a batch
    # drops and recreates eval_run, and with foreign keys on that cascades to every result.
    for column in ("updated_at", "host", "pid", "outage_items"):
        op.drop_column("eval_run", column)
    op.drop_column("eval_result", "outage")
