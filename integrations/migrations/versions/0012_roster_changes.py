"""The roster's history (who changed which member, role, Slack id or policy, from where)
and the team's settings (the identity policy, the last serve with Slack).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 02:00:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import roles.ledger.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
Moment = roles.ledger.types.UTCDateTime
WHATS = (
    "member_added",
    "deactivated",
    "reactivated",
    "role_added",
    "role_removed",
    "slack_user_id",
    "name",
    "email",
    "identity_policy",
)


def upgrade() -> None:
    op.create_table(
        "roster_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("what", String(length=32), nullable=False),
        sa.Column("old_value", String(length=400), nullable=True),
        sa.Column("new_value", String(length=400), nullable=True),
        sa.Column("source", String(length=16), nullable=False),
        sa.Column("os_user", String(length=64), nullable=True),
        sa.Column("host", String(length=255), nullable=True),
        sa.Column("created_at", Moment(timezone=True), nullable=False),
        sa.CheckConstraint(
            "what IN (" + ", ".join(f"'{w}'" for w in WHATS) + ")", name="roster_change_what"
        ),
        sa.ForeignKeyConstraint(["actor_id"], ["member.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_roster_change_member_id", "roster_change", ["member_id"])
    op.create_index("ix_roster_change_created_at", "roster_change", ["created_at"])
    op.create_table(
        "team_setting",
        sa.Column("name", String(length=64), nullable=False),
        sa.Column("value", String(length=400), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("set_at", Moment(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["set_by_id"], ["member.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("team_setting")
    op.drop_index("ix_roster_change_created_at", table_name="roster_change")
    op.drop_index("ix_roster_change_member_id", table_name="roster_change")
    op.drop_table("roster_change")
