"""The event inbox: a row per Bitrix24 event received, stored before it is answered, applied later.

The unique (portal, event key) makes the insert the dedupe: webhook and polling, or a retried
delivery, may bring one event twice and only the first insert lands. A pending row carries the
event's payload; applying it runs the bot and marks it applied in one transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from timebot.storage.tables.base import Base, id_column, portal_column

EVENT_STATUSES = ("pending", "applied", "dead")


class ProcessedEvent(Base):
    """One received event. `status`: "pending" (payload waiting to be applied), "applied" (its
    effects are stored; payload dropped) or "dead" (parked after repeated failures, payload kept).

    Rows written without a payload (lifecycle events handled at once) are plain dedupe markers,
    hence the "applied" default.
    """

    __tablename__ = "processed_events"
    __table_args__ = (
        UniqueConstraint("portal_id", "event_key"),
        # Only pending rows are searched (claims and the per-person order check); partial, so
        # the index stays the size of the backlog, not of the history.
        Index(
            None,
            "portal_id",
            "person_key",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = id_column()
    portal_id: Mapped[int] = portal_column(index=False)
    event_key: Mapped[str] = mapped_column(String(128))
    # When intake received the event: the time its marks carry. Indexed for pruning old rows.
    received_at: Mapped[datetime] = mapped_column(index=True)
    # Events of one person are applied in the order received ("" for portal-wide events).
    person_key: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # "webhook" (a pushed body, tokens removed) or "fetch" (an imbot.v2.Event.get item).
    source: Mapped[str] = mapped_column(String(16), default="webhook", server_default="webhook")
    # The event as received, JSON text (text, not JSONB: any string the portal sent stores).
    payload: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="applied", server_default="applied")
    # Claims so far; the row is parked as "dead" when they run out.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # After a failure: not before this. NULL means due at once.
    next_attempt_at: Mapped[datetime | None]
    # A claim's lease: another applier may take the row over once it has run out.
    locked_until: Mapped[datetime | None]
    locked_by: Mapped[str | None] = mapped_column(String(128))
    applied_at: Mapped[datetime | None]
    # What applying it did ("accepted", "ignored", …), for diagnosis.
    outcome: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(Text)
