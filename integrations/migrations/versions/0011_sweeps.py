"""Regression sweeps: one row per prompt per sweep (verdict, runs compared, alert sent).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 09:00:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import roles.ledger.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
Moment = roles.ledger.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "sweep",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("eval_run_id", sa.Integer(), nullable=False),
        sa.Column("baseline_run_id", sa.Integer(), nullable=True),
        sa.Column("baseline_source", String(length=16), nullable=True),
        sa.Column("verdict", String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("flow_run_id", String(length=64), nullable=True),
        sa.Column("created_at", Moment(timezone=True), nullable=False),
        sa.CheckConstraint(
            "verdict IN ('ok', 'regression', 'recovered', 'outage', 'no_baseline')",
            name="sweep_verdict",
        ),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompt.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["version_id"], ["prompt_version.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["eval_run_id"], ["eval_run.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["baseline_run_id"], ["eval_run.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["alert_id"], ["outbox.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sweep_prompt_id", "sweep", ["prompt_id"])
    op.create_index("ix_sweep_created_at", "sweep", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_sweep_created_at", table_name="sweep")
    op.drop_index("ix_sweep_prompt_id", table_name="sweep")
    op.drop_table("sweep")
