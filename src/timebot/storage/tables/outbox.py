"""The outbox: side effects (chat messages, timeman calls, e-mail) written in the same
transaction as the facts that cause them, delivered later by the dispatcher.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from timebot.storage.tables.base import Base, created_at_column, id_column, portal_column
from timebot.storage.types import json_type


class OutboxMessage(Base):
    """One delivery. Claimed by setting `locked_until`/`locked_by` (FOR UPDATE SKIP LOCKED)."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("portal_id", "dedupe_key"),
        Index(None, "status", "next_attempt_at"),
    )

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column(index=False)
    kind: Mapped[str] = mapped_column(String(16))  # "message" | "timeman" | "email" | "rest"
    method: Mapped[str] = mapped_column(String(128))  # REST method or channel-specific verb
    payload: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)
    # Same key, same portal: the second enqueue is a no-op (re-run jobs, retried handlers).
    dedupe_key: Mapped[str | None] = mapped_column(String(191))
    # "pending" | "sent" | "dead" | "dropped" (a dead letter an admin dismissed: kept, never sent)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
    sent_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None] = mapped_column(json_type())
