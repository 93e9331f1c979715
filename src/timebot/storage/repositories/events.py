"""Processed events: insert-or-ignore on (portal, event key) decides "first time seen"."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from timebot.storage.tables import ProcessedEvent


class ProcessedEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def first_time(self, portal_id: int, event_key: str, at: datetime) -> bool:
        """Record the event; False when it was recorded before (a duplicate delivery).

        ON CONFLICT DO NOTHING instead of catching IntegrityError: no aborted transaction on
        PostgreSQL, and two concurrent deliveries cannot both see "new".
        """
        dialect = self.session.bind.dialect.name if self.session.bind else "sqlite"
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = (
            insert(ProcessedEvent)
            .values(portal_id=portal_id, event_key=event_key[:128], received_at=at)
            .on_conflict_do_nothing(index_elements=["portal_id", "event_key"])
        )
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def prune(self, older_than: datetime) -> int:
        result = await self.session.execute(
            delete(ProcessedEvent).where(ProcessedEvent.received_at < older_than)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
