"""A hand move of production (an admin's ``prompt label NAME production``) is a deployment
of its own kind, ``manual``, with its webhook event, like a deploy and a rollback.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 02:30:00
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployment", schema=None) as batch_op:
        batch_op.drop_constraint("deployment_kind", type_="check")
        batch_op.create_check_constraint(
            "deployment_kind", "kind IN ('deploy', 'rollback', 'manual')"
        )


def downgrade() -> None:
    op.execute("DELETE FROM deployment WHERE kind = 'manual'")
    with op.batch_alter_table("deployment", schema=None) as batch_op:
        batch_op.drop_constraint("deployment_kind", type_="check")
        batch_op.create_check_constraint("deployment_kind", "kind IN ('deploy', 'rollback')")
