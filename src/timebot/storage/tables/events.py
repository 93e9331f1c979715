"""Inbound event dedupe: a row per Bitrix24 event already handled (insert-or-conflict)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from timebot.storage.tables.base import Base, id_column, portal_column


class ProcessedEvent(Base):
    """Webhook delivery and polling may both bring an event; the unique key lets one through."""

    __tablename__ = "processed_events"
    __table_args__ = (UniqueConstraint("portal_id", "event_key"),)

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column(index=False)
    event_key: Mapped[str] = mapped_column(String(128))
    # Indexed for pruning old rows.
    received_at: Mapped[datetime] = mapped_column(index=True)
