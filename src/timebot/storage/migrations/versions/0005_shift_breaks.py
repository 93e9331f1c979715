"""A break of its own for each shift: `shifts.break_minutes`, NULL meaning the schedule's.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None


def upgrade() -> None:
    # Batch mode: SQLite cannot add a CHECK constraint to an existing table in place.
    with op.batch_alter_table("shifts") as batch:
        batch.add_column(sa.Column("break_minutes", sa.Integer(), nullable=True))
        batch.create_check_constraint("break_range", "break_minutes BETWEEN 0 AND 720")


def downgrade() -> None:
    with op.batch_alter_table("shifts") as batch:
        batch.drop_constraint(op.f("ck_shifts_break_range"), type_="check")
        batch.drop_column("break_minutes")
