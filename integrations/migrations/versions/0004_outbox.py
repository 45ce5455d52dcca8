"""The Slack outbox: one row per message, delivered in order per channel.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 06:15:58
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import roles.ledger.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _time() -> roles.ledger.types.UTCDateTime:
    return roles.ledger.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("channel", _string(64), nullable=False),
        sa.Column("kind", _string(32), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("key", _string(200), nullable=True),
        sa.Column("blocks", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", _string(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("delivered_revision", sa.Integer(), nullable=False),
        sa.Column("ts", _string(32), nullable=True),
        sa.Column("posted_channel", _string(64), nullable=True),
        sa.Column("delivered_locally", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("claimed_by", _string(255), nullable=True),
        sa.Column("claimed_at", _time(), nullable=True),
        sa.Column("next_attempt_at", _time(), nullable=True),
        sa.Column("sent_at", _time(), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.Column("delivered_at", _time(), nullable=True),
        sa.ForeignKeyConstraint(["change_id"], ["change_request.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["parent_id"], ["outbox.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    for column in ("change_id", "channel", "status"):
        op.create_index(f"ix_outbox_{column}", "outbox", [column], unique=False)


def downgrade() -> None:
    for column in ("status", "channel", "change_id"):
        op.drop_index(f"ix_outbox_{column}", table_name="outbox")
    op.drop_table("outbox")
