"""The review estimates the candidate's failure rate: strata fixed when it opens, items
added in batches while the bound cannot decide, and a named person deciding at the cap.

``max_fail_share`` (a share of a purposeful sample) becomes ``max_failure_rate`` (the
tolerable rate the bound is held to); a review opened before this has no strata and is
counted as a census of its items.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 17:10:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
STATUSES = "'open', 'complete', 'expired', 'cancelled'"


def upgrade() -> None:
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.alter_column("max_fail_share", new_column_name="max_failure_rate")
        batch_op.add_column(
            sa.Column("batch_size", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("max_items", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("confidence", sa.Float(), nullable=False, server_default="0.95")
        )
        batch_op.add_column(sa.Column("strata", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("decider", String(length=64), nullable=True))
        batch_op.add_column(sa.Column("decided_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_review_decided_by_member", "member", ["decided_by"], ["id"], ondelete="RESTRICT"
        )
        batch_op.drop_constraint("review_status", type_="check")
        batch_op.create_check_constraint("review_status", f"status IN ({STATUSES}, 'undecided')")
    with op.batch_alter_table("review_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stratum", String(length=1), nullable=True))
        batch_op.add_column(sa.Column("batch", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.execute("UPDATE review SET status = 'open' WHERE status = 'undecided'")
    with op.batch_alter_table("review_item", schema=None) as batch_op:
        batch_op.drop_column("batch")
        batch_op.drop_column("stratum")
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_constraint("review_status", type_="check")
        batch_op.create_check_constraint("review_status", f"status IN ({STATUSES})")
        batch_op.drop_constraint("fk_review_decided_by_member", type_="foreignkey")
        for column in ("decided_by", "decider", "strata", "confidence", "max_items", "batch_size"):
            batch_op.drop_column(column)
        batch_op.alter_column("max_failure_rate", new_column_name="max_fail_share")
