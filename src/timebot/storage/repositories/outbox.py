"""Outbox rows: enqueue in the caller's transaction; claim with a lease; settle after sending.

Claiming takes rows whose lease is free under `FOR UPDATE SKIP LOCKED` (PostgreSQL) — several
dispatchers share the work without waiting on each other or sending a row twice in the normal
path. A dispatcher that dies leaves a lease that simply expires: delivery is at-least-once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from timebot.storage.tables import OutboxMessage


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _dialect(self) -> str:
        return self.session.bind.dialect.name if self.session.bind else "sqlite"

    async def enqueue(
        self,
        *,
        portal_id: int,
        kind: str,
        method: str,
        payload: Mapping[str, Any],
        now: datetime,
        dedupe_key: str | None = None,
    ) -> bool:
        """Queue one delivery; False when `dedupe_key` was queued for this portal before."""
        insert = pg_insert if self._dialect() == "postgresql" else sqlite_insert
        stmt = insert(OutboxMessage).values(
            portal_id=portal_id,
            kind=kind,
            method=method,
            payload=dict(payload),
            dedupe_key=dedupe_key,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        if dedupe_key is not None:
            stmt = stmt.on_conflict_do_nothing(index_elements=["portal_id", "dedupe_key"])
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def claim(
        self,
        *,
        now: datetime,
        worker: str,
        lease: timedelta,
        limit: int,
        kinds: Sequence[str] | None = None,
        exclude_kinds: Sequence[str] = (),
        portal_id: int | None = None,
    ) -> Sequence[OutboxMessage]:
        """Lease up to `limit` due rows to `worker` (commit right after to publish the lease).

        `kinds` / `exclude_kinds` split the work between dispatchers (Bitrix24 REST vs SMTP);
        `portal_id` takes one portal's rows only.
        """
        stmt = select(OutboxMessage).where(
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now),
        )
        if kinds is not None:
            stmt = stmt.where(OutboxMessage.kind.in_(list(kinds)))
        if exclude_kinds:
            stmt = stmt.where(OutboxMessage.kind.not_in(list(exclude_kinds)))
        if portal_id is not None:
            stmt = stmt.where(OutboxMessage.portal_id == portal_id)
        stmt = stmt.order_by(OutboxMessage.id).limit(limit).with_for_update(skip_locked=True)
        rows = (await self.session.execute(stmt)).scalars().all()
        for row in rows:
            row.locked_until = now + lease
            row.locked_by = worker
        return rows

    async def mark_sent(
        self, row_id: int, *, now: datetime, worker: str, result: Any = None
    ) -> bool:
        """Settle a delivered row; False if our lease was lost (another worker took it over)."""
        res = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == row_id,
                OutboxMessage.status == "pending",
                OutboxMessage.locked_by == worker,
            )
            .values(
                status="sent",
                sent_at=now,
                locked_until=None,
                attempts=OutboxMessage.attempts + 1,
                result=result if isinstance(result, dict) else {"result": result},
            )
        )
        return bool(res.rowcount)  # type: ignore[attr-defined]

    async def mark_failed(
        self,
        row_id: int,
        *,
        now: datetime,
        worker: str,
        error: str,
        retry_in: timedelta,
        max_attempts: int,
        final: bool = False,
    ) -> str:
        """Record a failed attempt; the row goes back to the queue or becomes a dead letter."""
        row = await self.session.get(OutboxMessage, row_id, populate_existing=True)
        if row is None or row.status != "pending" or row.locked_by != worker:
            return "lost"
        row.attempts += 1
        row.last_error = error[:2000]
        row.locked_until = None
        row.locked_by = None
        if final or row.attempts >= max_attempts:
            row.status = "dead"
            return "dead"
        row.next_attempt_at = now + retry_in
        return "retry"

    async def renew(self, ids: Sequence[int], *, worker: str, until: datetime) -> set[int]:
        """Extend `worker`'s lease on the pending rows among `ids` to `until`; returns the ids
        still held (a row another worker took over after our lease ran out is not)."""
        if not ids:
            return set()
        res = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(list(ids)),
                OutboxMessage.status == "pending",
                OutboxMessage.locked_by == worker,
            )
            .values(locked_until=until)
            .returning(OutboxMessage.id)
        )
        return {int(row_id) for row_id in res.scalars()}

    async def release(self, row_id: int, *, worker: str, at: datetime) -> None:
        """Give a leased row back untouched (e.g. the portal is rate limited right now)."""
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id, OutboxMessage.locked_by == worker)
            .values(locked_until=None, locked_by=None, next_attempt_at=at)
        )

    async def list(
        self, *, status: str | None = None, portal_id: int | None = None, limit: int = 100
    ) -> Sequence[OutboxMessage]:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(OutboxMessage.status == status)
        if portal_id is not None:
            stmt = stmt.where(OutboxMessage.portal_id == portal_id)
        return (await self.session.execute(stmt)).scalars().all()

    async def retry_dead(self, *, now: datetime, ids: Sequence[int] | None = None) -> int:
        """Put dead letters back in the queue (all of them, or the given ids)."""
        stmt = (
            update(OutboxMessage)
            .where(OutboxMessage.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=now, last_error=None)
        )
        if ids:
            stmt = stmt.where(OutboxMessage.id.in_(list(ids)))
        res = await self.session.execute(stmt)
        return int(res.rowcount)  # type: ignore[attr-defined]

    async def counts(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return {status: int(n) for status, n in rows.all()}
