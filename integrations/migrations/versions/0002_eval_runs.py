"""Eval runs, per-item results and per-scorer scores.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 22:26:35.320673
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import roles.ledger.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "eval_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt_version_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("suite_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("suite", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("flow_run_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("cache_hits", sa.Integer(), nullable=False),
        sa.Column("model_calls", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("cost_known", sa.Boolean(), nullable=False),
        sa.Column("wall_s", sa.Float(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("started_at", roles.ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", roles.ledger.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["change_id"], ["change_request.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["dataset_id"], ["dataset.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["prompt_version_id"], ["prompt_version.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("eval_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_eval_run_change_id"), ["change_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_eval_run_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_eval_run_prompt_version_id"), ["prompt_version_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_eval_run_status"), ["status"], unique=False)

    op.create_table(
        "eval_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("latency_s", sa.Float(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("cached", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["eval_run.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "item_id"),
    )
    with op.batch_alter_table("eval_result", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_eval_result_run_id"), ["run_id"], unique=False)

    op.create_table(
        "eval_score",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=False),
        sa.Column("metric", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("unscored", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("raw_answer", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["result_id"], ["eval_result.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("result_id", "metric"),
    )
    with op.batch_alter_table("eval_score", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_eval_score_result_id"), ["result_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("eval_score", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eval_score_result_id"))

    op.drop_table("eval_score")
    with op.batch_alter_table("eval_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eval_result_run_id"))

    op.drop_table("eval_result")
    with op.batch_alter_table("eval_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_eval_run_status"))
        batch_op.drop_index(batch_op.f("ix_eval_run_prompt_version_id"))
        batch_op.drop_index(batch_op.f("ix_eval_run_dataset_id"))
        batch_op.drop_index(batch_op.f("ix_eval_run_change_id"))

    op.drop_table("eval_run")
