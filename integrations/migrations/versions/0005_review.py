"""The experts' review: reviews per change evaluation, their sampled items, append-only votes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 06:30:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import roles.ledger.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
Moment = roles.ledger.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("candidate_run_id", sa.Integer(), nullable=False),
        sa.Column("baseline_run_id", sa.Integer(), nullable=True),
        sa.Column("items_needed", sa.Integer(), nullable=False),
        sa.Column("votes_per_item", sa.Integer(), nullable=False),
        sa.Column("min_experts", sa.Integer(), nullable=False),
        sa.Column("max_fail_share", sa.Float(), nullable=False),
        sa.Column("fail_categories", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("deadline_at", Moment(timezone=True), nullable=False),
        sa.Column("status", String(length=16), nullable=False),
        sa.Column("outcome", String(length=16), nullable=True),
        sa.Column("created_at", Moment(timezone=True), nullable=False),
        sa.Column("updated_at", Moment(timezone=True), nullable=False),
        sa.Column("concluded_at", Moment(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'complete', 'expired', 'cancelled')", name="review_status"
        ),
        sa.ForeignKeyConstraint(["change_id"], ["change_request.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoff.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["candidate_run_id"], ["eval_run.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["baseline_run_id"], ["eval_run.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("handoff_id"),
    )
    op.create_index("ix_review_change_id", "review", ["change_id"])
    op.create_index("ix_review_status", "review", ["status"])

    op.create_table(
        "review_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("item_id", String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("strategy", String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["review_id"], ["review.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("review_id", "item_id"),
        sa.UniqueConstraint("review_id", "position"),
    )
    op.create_index("ix_review_item_review_id", "review_item", ["review_id"])

    op.create_table(
        "vote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_item_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("verdict", String(length=8), nullable=False),
        sa.Column("category", String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source", String(length=16), nullable=False),
        sa.Column("created_at", Moment(timezone=True), nullable=False),
        sa.CheckConstraint("verdict IN ('pass', 'fail')", name="vote_verdict"),
        sa.CheckConstraint("source IN ('cli', 'slack')", name="vote_source"),
        sa.ForeignKeyConstraint(["review_item_id"], ["review_item.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_vote_review_item_id", "vote", ["review_item_id"])
    op.create_index("ix_vote_member_id", "vote", ["member_id"])
    _append_only("vote")


def _append_only(table: str) -> None:
    """The database refuses to update or delete votes (0001 made the PostgreSQL function)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION promptloop_append_only()"
        )
        return
    for operation in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_append_only_{operation} BEFORE {operation} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END"
        )


def downgrade() -> None:
    op.drop_table("vote")  # its triggers go with it
    op.drop_table("review_item")
    op.drop_table("review")
