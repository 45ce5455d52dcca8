"""Slack requests the gateway acted on: a replay inside Slack's 5-minute window counts once.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 15:00:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import roles.ledger.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Moment = roles.ledger.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "slack_request",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("sent_at", Moment(timezone=True), nullable=False),
        sa.Column("received_at", Moment(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_slack_request_sent_at", "slack_request", ["sent_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_slack_request_sent_at", table_name="slack_request")
    op.drop_table("slack_request")
