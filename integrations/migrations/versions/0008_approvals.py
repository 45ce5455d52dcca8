"""The engineers' gate: approval decisions (refused attempts too) and deployments.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 14:30:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import roles.ledger.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

String = sqlmodel.sql.sqltypes.AutoString
Moment = roles.ledger.types.UTCDateTime
ONE_APPROVAL_INDEX = "uq_approval_one_per_engineer"


def upgrade() -> None:
    op.create_table(
        "approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("candidate_version_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("slack_user_id", String(length=32), nullable=True),
        sa.Column("decision", String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("override", sa.Boolean(), nullable=False),
        sa.Column("source", String(length=16), nullable=False),
        sa.Column("os_user", String(length=64), nullable=True),
        sa.Column("host", String(length=255), nullable=True),
        sa.Column("created_at", Moment(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('approve', 'reject', 'refused')", name="approval_decision"
        ),
        sa.ForeignKeyConstraint(["change_id"], ["change_request.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(
            ["candidate_version_id"], ["prompt_version.id"], ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_approval_change_id", "approval", ["change_id"])
    op.create_index(
        ONE_APPROVAL_INDEX,
        "approval",
        ["change_id", "candidate_version_id", "member_id"],
        unique=True,
        sqlite_where=sa.text("decision = 'approve'"),
        postgresql_where=sa.text("decision = 'approve'"),
    )
    op.create_table(
        "deployment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=True),
        sa.Column("kind", String(length=16), nullable=False),
        sa.Column("from_version_id", sa.Integer(), nullable=True),
        sa.Column("to_version_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", Moment(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('deploy', 'rollback')", name="deployment_kind"),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompt.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["change_id"], ["change_request.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["from_version_id"], ["prompt_version.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["to_version_id"], ["prompt_version.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["actor_id"], ["member.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_deployment_prompt_id", "deployment", ["prompt_id"])
    op.create_index("ix_deployment_change_id", "deployment", ["change_id"])


def downgrade() -> None:
    op.drop_table("deployment")
    op.drop_index(ONE_APPROVAL_INDEX, table_name="approval")
    op.drop_table("approval")
