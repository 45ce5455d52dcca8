"""Judge calibration: a record per judge per calibration run; people's labels on dataset items.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 17:00:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import roles.ledger.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Moment = roles.ledger.types.UTCDateTime
Text = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("dataset_item") as batch:
        batch.add_column(sa.Column("human", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("dataset_item") as batch:
        batch.alter_column("human", server_default=None)
    op.create_table(
        "calibration_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("judge_id", Text(length=32), nullable=False),
        sa.Column("label", Text(length=200), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("trigger", Text(length=64), nullable=False),
        sa.Column("flow_run_id", Text(length=64), nullable=True),
        sa.Column("created_at", Moment(timezone=True), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "n",
                "tp",
                "fp",
                "fn",
                "tn",
                "unscored",
                "ties",
                "from_votes",
                "from_dataset",
            )
        ),
        *(
            sa.Column(name, sa.Float(), nullable=True)
            for name in ("kappa", "kappa_low", "kappa_high", "recall_low")
        ),
        sa.Column("trusted", sa.Boolean(), nullable=False),
        *(
            sa.Column(name, sa.JSON(), nullable=False)
            for name in ("reasons", "metrics", "expert_agreement", "slices")
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_calibration_record_judge_created",
        "calibration_record",
        ["judge_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_calibration_record_trusted", "calibration_record", ["trusted"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_calibration_record_trusted", table_name="calibration_record")
    op.drop_index("ix_calibration_record_judge_created", table_name="calibration_record")
    op.drop_table("calibration_record")
    with op.batch_alter_table("dataset_item") as batch:
        batch.drop_column("human")
