"""One open change per candidate version: a partial unique index on change_request.

Two ``change submit``s of the same file at the same moment could both open a change for
one version (SQLite showed it). Open changes that already share a version are resolved
first: the oldest stays open, the others are withdrawn by promptloop with a handoff that
says why (the handoff table is append-only, so nothing is rewritten).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:00:00
"""

import sqlalchemy as sa
from alembic import op

import roles.ledger.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEX = "uq_change_request_open_candidate"
# The open states as of this migration (roles.states.OPEN_STATES); a test compares them.
OPEN_STATES = (
    "awaiting_approval",
    "changes_requested",
    "eval_failed",
    "evaluating",
    "in_review",
    "submitted",
)
OPEN_STATE_SQL = "state IN ({})".format(", ".join(f"'{s}'" for s in OPEN_STATES))

change_request = sa.table(
    "change_request",
    sa.column("id", sa.Integer()),
    sa.column("candidate_version_id", sa.Integer()),
    sa.column("state", sa.String()),
    sa.column("revision", sa.Integer()),
    sa.column("updated_at", roles.ledger.types.UTCDateTime(timezone=True)),
)
handoff = sa.table(
    "handoff",
    sa.column("change_id", sa.Integer()),
    sa.column("from_state", sa.String()),
    sa.column("to_state", sa.String()),
    sa.column("actor_id", sa.Integer()),
    sa.column("role", sa.String()),
    sa.column("note", sa.Text()),
    sa.column("payload", sa.JSON()),
    sa.column("at", roles.ledger.types.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    _withdraw_duplicates()
    op.create_index(
        INDEX,
        "change_request",
        ["candidate_version_id"],
        unique=True,
        sqlite_where=sa.text(OPEN_STATE_SQL),
        postgresql_where=sa.text(OPEN_STATE_SQL),
    )


def _withdraw_duplicates() -> None:
    from roles.clock import utcnow

    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            change_request.c.id, change_request.c.candidate_version_id, change_request.c.state
        )
        .where(change_request.c.state.in_(OPEN_STATES))
        .order_by(change_request.c.id)
    ).all()
    first: dict[int, int] = {}
    duplicates = []
    for change_id, version_id, state in rows:
        kept = first.setdefault(version_id, change_id)
        if kept != change_id:
            duplicates.append((change_id, state, kept))
    if not duplicates:
        return
    system = bind.execute(sa.text("SELECT id FROM member WHERE handle = 'promptloop'")).scalar_one()
    now = utcnow()
    for change_id, state, kept in duplicates:
        bind.execute(
            change_request.update()
            .where(change_request.c.id == change_id)
            .values(state="withdrawn", revision=change_request.c.revision + 1, updated_at=now)
        )
        bind.execute(
            handoff.insert().values(
                change_id=change_id,
                from_state=state,
                to_state="withdrawn",
                actor_id=system,
                role="system",
                note=f"withdrawn by the upgrade: change {kept} already proposes the same version",
                payload={"duplicate_of": kept},
                at=now,
            )
        )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="change_request")
