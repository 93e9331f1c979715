"""The event inbox: `processed_events` also keeps a received event until it is applied.

Intake now stores the verified event (payload, receipt time, person) in one insert and answers;
an applier runs the bot for it later. Rows from before this revision were handled at once, so
they are "applied" (the column's default).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

# timebot.storage.types.UtcDateTime as of this revision.
TIMESTAMP = sa.DateTime(timezone=True)
PENDING = sa.text("status = 'pending'")
INDEX = "ix_processed_events_portal_id_person_key_id"


def upgrade() -> None:
    with op.batch_alter_table("processed_events") as batch:
        batch.add_column(
            sa.Column("person_key", sa.String(length=64), server_default="", nullable=False)
        )
        batch.add_column(
            sa.Column("source", sa.String(length=16), server_default="webhook", nullable=False)
        )
        batch.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("status", sa.String(length=16), server_default="applied", nullable=False)
        )
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("next_attempt_at", TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("locked_until", TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("locked_by", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("applied_at", TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
    op.create_index(
        INDEX,
        "processed_events",
        ["portal_id", "person_key", "id"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )


def downgrade() -> None:
    # Waiting or parked events would be lost with their payload: refuse rather than drop them.
    kept = op.get_bind().execute(
        sa.text("SELECT count(*) FROM processed_events WHERE status IN ('pending', 'dead')")
    )
    if kept.scalar_one():
        raise RuntimeError(
            "processed_events holds events not applied (pending or dead); apply or delete them"
        )
    op.drop_index(INDEX, table_name="processed_events")
    with op.batch_alter_table("processed_events") as batch:
        for column in (
            "last_error",
            "outcome",
            "applied_at",
            "locked_by",
            "locked_until",
            "next_attempt_at",
            "attempts",
            "status",
            "payload",
            "source",
            "person_key",
        ):
            batch.drop_column(column)
