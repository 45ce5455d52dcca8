"""What ``change_request.links`` held, as typed columns; the JSON bag goes.

``links`` carried why nothing evaluates a change (``not_evaluated``), the evaluation's
flow run, and why the last evaluation could not conclude (error, kind, time, log). Each
is now a column the database types and the code names; the values are copied over.
The evaluator's pid/host (the detached launcher's) are dropped: pipelines run on Prefect.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 14:00:00
"""

import json
from datetime import datetime

import sqlalchemy as sa
from alembic import op

import roles.ledger.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COLUMNS = {
    "not_evaluated": "not_evaluated",
    "evaluate_flow_run_id": "evaluate_flow_run_id",
    "evaluation_error": "evaluation_error",
    "evaluation_error_kind": "evaluation_error_kind",
    "evaluation_error_at": "evaluation_error_at",
    "evaluation_log": "evaluation_log",
}
UTC = roles.ledger.types.UTCDateTime(timezone=True)


def _columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("not_evaluated", sa.Text(), nullable=True),
        sa.Column("evaluate_flow_run_id", sa.String(length=64), nullable=True),
        sa.Column("evaluation_error", sa.Text(), nullable=True),
        sa.Column("evaluation_error_kind", sa.String(length=16), nullable=True),
        sa.Column("evaluation_error_at", UTC, nullable=True),
        sa.Column("evaluation_log", sa.Text(), nullable=True),
    ]


def _table(*names: str) -> sa.TableClause:
    types = {c.name: c.type for c in _columns()}
    return sa.table(
        "change_request",
        sa.column("id", sa.Integer()),
        *(sa.column(n, types.get(n, sa.JSON())) for n in names),
    )


def _when(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _drop(column: str) -> None:
    # Plain ALTER TABLE, not a batch copy: SQLite (3.35+) drops a column in place, and a
    # copy of change_request would trip the foreign keys that point at it.
    op.execute(f"ALTER TABLE change_request DROP COLUMN {column}")


def upgrade() -> None:
    for column in _columns():
        op.add_column("change_request", column)
    bind = op.get_bind()
    old = _table("links")
    new = _table(*COLUMNS)
    for change_id, links in bind.execute(sa.select(old.c.id, old.c.links)).all():
        if isinstance(links, str):
            links = json.loads(links or "{}")
        values = {column: (links or {}).get(key) for column, key in COLUMNS.items()}
        values["evaluation_error_at"] = _when(values["evaluation_error_at"])
        if any(v is not None for v in values.values()):
            bind.execute(new.update().where(new.c.id == change_id).values(**values))
    _drop("links")


def downgrade() -> None:
    op.add_column("change_request", sa.Column("links", sa.JSON(), nullable=True))
    bind = op.get_bind()
    new = _table(*COLUMNS)
    old = _table("links")
    for row in bind.execute(sa.select(new)).mappings().all():
        links = {key: row[column] for column, key in COLUMNS.items() if row[column] is not None}
        if links.get("evaluation_error_at") is not None:
            links["evaluation_error_at"] = links["evaluation_error_at"].isoformat()
        bind.execute(old.update().where(old.c.id == row["id"]).values(links=links))
    bind.execute(old.update().where(old.c.links.is_(None)).values(links={}))
    if bind.dialect.name != "sqlite":  # SQLite cannot tighten a column in place
        op.alter_column("change_request", "links", nullable=False)
    for column in _columns():
        _drop(column.name)
