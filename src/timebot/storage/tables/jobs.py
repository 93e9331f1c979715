"""Scheduled job occurrences: a unique row per (job, scope, period) is the cluster-wide claim."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from timebot.storage.tables.base import Base, id_column


class JobRun(Base):
    """Whoever inserts the row runs the occurrence; everyone else gets an IntegrityError."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job_name", "scope", "period_key"),)

    id: Mapped[int] = id_column()
    job_name: Mapped[str] = mapped_column(String(64))
    # "" for a global job, "portal:3" for one portal's.
    scope: Mapped[str] = mapped_column(String(64), default="", server_default="")
    period_key: Mapped[str] = mapped_column(String(32))  # "2026-11-20", "2026-W47"
    # "running" | "done" | "failed"
    status: Mapped[str] = mapped_column(String(16), default="running", server_default="running")
    claimed_by: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    detail: Mapped[str] = mapped_column(Text, default="", server_default="")
