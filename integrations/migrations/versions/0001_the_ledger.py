"""The ledger: members, prompts, labels, datasets, change requests, handoffs.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 22:17:54.298814
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import roles.ledger.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handle", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("slack_user_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", roles.ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", roles.ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_member_handle"), ["handle"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_member_slack_user_id"), ["slack_user_id"], unique=False
        )

    op.create_table(
        "prompt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", roles.ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("prompt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prompt_name"), ["name"], unique=True)

    op.create_table(
        "dataset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", roles.ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["member.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "content_hash"),
        sa.UniqueConstraint("name", "version"),
    )
    with op.batch_alter_table("dataset", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dataset_name"), ["name"], unique=False)

    op.create_table(
        "member_role",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("member_id", "role"),
    )
    op.create_table(
        "prompt_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("system", sa.Text(), nullable=True),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("examples", sa.JSON(), nullable=False),
        sa.Column("dataset", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("suite", sa.JSON(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", roles.ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["member.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompt.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prompt_id", "content_hash"),
        sa.UniqueConstraint("prompt_id", "number"),
    )
    with op.batch_alter_table("prompt_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_prompt_version_prompt_id"), ["prompt_id"], unique=False
        )

    op.create_table(
        "change_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("base_version_id", sa.Integer(), nullable=True),
        sa.Column("candidate_version_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("flow_run_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("created_at", roles.ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", roles.ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["member.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["base_version_id"], ["prompt_version.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(
            ["candidate_version_id"], ["prompt_version.id"], ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompt.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("change_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_change_request_prompt_id"), ["prompt_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_change_request_state"), ["state"], unique=False)

    op.create_table(
        "dataset_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("expected", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["dataset.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "item_id"),
    )
    with op.batch_alter_table("dataset_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_item_dataset_id"), ["dataset_id"], unique=False
        )

    op.create_table(
        "label",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", roles.ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompt.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["version_id"], ["prompt_version.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prompt_id", "name"),
    )
    with op.batch_alter_table("label", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_label_prompt_id"), ["prompt_id"], unique=False)

    op.create_table(
        "handoff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("from_state", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("to_state", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("at", roles.ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["member.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["change_id"], ["change_request.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("handoff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_handoff_change_id"), ["change_id"], unique=False)

    op.create_table(
        "label_move",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.Integer(), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("from_version_id", sa.Integer(), nullable=True),
        sa.Column("to_version_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("change_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", roles.ledger.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["member.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["change_id"], ["change_request.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["from_version_id"], ["prompt_version.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["prompt_id"], ["prompt.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["to_version_id"], ["prompt_version.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("label_move", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_label_move_prompt_id"), ["prompt_id"], unique=False)
    _append_only("handoff")
    _append_only("label_move")
    _seed_system_member()


APPEND_ONLY_SQLITE = """
CREATE TRIGGER {table}_append_only_{op} BEFORE {op} ON {table}
BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END
"""

APPEND_ONLY_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION promptloop_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME; END;
$$ LANGUAGE plpgsql
"""


def _append_only(table: str) -> None:
    """The database itself refuses to update or delete these rows."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_PG_FUNCTION)
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION promptloop_append_only()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(APPEND_ONLY_SQLITE.format(table=table, op=operation))


def _seed_system_member() -> None:
    """The automation's own identity: every automatic handoff names it."""
    op.execute(
        sa.text(
            "INSERT INTO member (handle, name, active, created_at, updated_at) "
            "VALUES ('promptloop', 'promptloop (automation)', true, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )
    )
    op.execute(
        sa.text(
            "INSERT INTO member_role (member_id, role) "
            "SELECT id, 'system' FROM member WHERE handle = 'promptloop'"
        )
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS promptloop_append_only() CASCADE")
    with op.batch_alter_table("label_move", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_label_move_prompt_id"))

    op.drop_table("label_move")
    with op.batch_alter_table("handoff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handoff_change_id"))

    op.drop_table("handoff")
    with op.batch_alter_table("label", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_label_prompt_id"))

    op.drop_table("label")
    with op.batch_alter_table("dataset_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_item_dataset_id"))

    op.drop_table("dataset_item")
    with op.batch_alter_table("change_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_request_state"))
        batch_op.drop_index(batch_op.f("ix_change_request_prompt_id"))

    op.drop_table("change_request")
    with op.batch_alter_table("prompt_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prompt_version_prompt_id"))

    op.drop_table("prompt_version")
    op.drop_table("member_role")
    with op.batch_alter_table("dataset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_name"))

    op.drop_table("dataset")
    with op.batch_alter_table("prompt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prompt_name"))

    op.drop_table("prompt")
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_slack_user_id"))
        batch_op.drop_index(batch_op.f("ix_member_handle"))

    op.drop_table("member")
