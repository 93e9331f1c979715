"""The event inbox: store received events (the insert is the dedupe), claim them in per-person
order under a lease, and settle them as applied, for a retry, or dead.

Claims take rows with `FOR UPDATE SKIP LOCKED` (PostgreSQL), so appliers in several processes
share the work; a row is only eligible while no earlier pending row of the same person exists,
which keeps each person's events in the order they were stored. Status tests are SQL literals
so that the partial index on pending rows applies (a bound parameter would hide it from SQLite's
planner and from PostgreSQL's generic plans).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from timebot.storage.tables import ProcessedEvent

PENDING: ColumnElement[str] = literal_column("'pending'")
EVENT_KEY_LENGTH = 128
PERSON_KEY_LENGTH = 64


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """A received event to store."""

    portal_id: int
    event_key: str
    person_key: str
    source: str
    payload: str
    received_at: datetime

    @property
    def key(self) -> tuple[int, str]:
        return self.portal_id, self.event_key[:EVENT_KEY_LENGTH]


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    """A stored event leased to one applier."""

    id: int
    portal_id: int
    event_key: str
    person_key: str
    source: str
    payload: str | None
    received_at: datetime
    attempts: int  # including this claim


_STORE: dict[bool, Any] = {}


def _store_statement(postgres: bool) -> Any:
    """The insert-or-ignore of pending events, built once per dialect (it is on the hot path of
    every webhook request)."""
    if postgres not in _STORE:
        insert = pg_insert if postgres else sqlite_insert
        _STORE[postgres] = (
            insert(ProcessedEvent)
            .on_conflict_do_nothing(index_elements=["portal_id", "event_key"])
            .returning(ProcessedEvent.portal_id, ProcessedEvent.event_key)
        )
    return _STORE[postgres]


async def store_events(
    executor: AsyncSession | AsyncConnection,
    entries: Sequence[InboxEntry],
    *,
    postgres: bool,
) -> set[tuple[int, str]]:
    """Insert pending events; returns the (portal id, event key) of those stored now (the
    others were stored before: duplicates). Keys must be distinct within `entries`.

    Takes a session or a bare connection: the intake's group commit uses a connection, which
    costs a fraction of a session per transaction."""
    if not entries:
        return set()
    rows = [
        {
            "portal_id": e.portal_id,
            "event_key": e.event_key[:EVENT_KEY_LENGTH],
            "person_key": e.person_key[:PERSON_KEY_LENGTH],
            "source": e.source,
            "payload": e.payload,
            "received_at": e.received_at,
            "status": "pending",
            "attempts": 0,
        }
        for e in entries
    ]
    result = await executor.execute(_store_statement(postgres), rows)
    return {(int(p), str(k)) for p, k in result.all()}


class ProcessedEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _postgres(self) -> bool:
        return bool(self.session.bind and self.session.bind.dialect.name == "postgresql")

    async def first_time(self, portal_id: int, event_key: str, at: datetime) -> bool:
        """Record an event handled at once; False when it was recorded before (a duplicate).

        ON CONFLICT DO NOTHING instead of catching IntegrityError: no aborted transaction on
        PostgreSQL, and two concurrent deliveries cannot both see "new".
        """
        insert = pg_insert if self._postgres() else sqlite_insert
        stmt = (
            insert(ProcessedEvent)
            .values(
                portal_id=portal_id,
                event_key=event_key[:EVENT_KEY_LENGTH],
                received_at=at,
                status="applied",
                applied_at=at,
            )
            .on_conflict_do_nothing(index_elements=["portal_id", "event_key"])
        )
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def store(self, entries: Sequence[InboxEntry]) -> set[tuple[int, str]]:
        """Insert pending events in the session's transaction (see `store_events`)."""
        return await store_events(self.session, entries, postgres=self._postgres())

    async def claim(
        self,
        *,
        now: datetime,
        worker: str,
        lease: timedelta,
        limit: int,
        received_before: datetime | None = None,
    ) -> list[ClaimedEvent]:
        """Lease up to `limit` due events to `worker`, at most one per person: the earliest
        pending one. Commit right after, to publish the lease (and the attempt it counts)."""
        e = ProcessedEvent
        earlier = aliased(ProcessedEvent)
        blocked = exists().where(
            earlier.portal_id == e.portal_id,
            earlier.person_key == e.person_key,
            earlier.status == PENDING,
            earlier.id < e.id,
        )
        stmt = (
            select(
                e.id,
                e.portal_id,
                e.event_key,
                e.person_key,
                e.source,
                e.payload,
                e.received_at,
                e.attempts,
            )
            .where(
                e.status == PENDING,
                or_(e.next_attempt_at.is_(None), e.next_attempt_at <= now),
                or_(e.locked_until.is_(None), e.locked_until < now),
                ~blocked,
            )
            .order_by(e.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=e)
        )
        if received_before is not None:
            stmt = stmt.where(e.received_at < received_before)
        rows = (await self.session.execute(stmt)).all()
        if not rows:
            return []
        await self.session.execute(
            update(e)
            .where(e.id.in_([r.id for r in rows]))
            .values(locked_until=now + lease, locked_by=worker, attempts=e.attempts + 1)
        )
        return [
            ClaimedEvent(
                id=r.id,
                portal_id=r.portal_id,
                event_key=r.event_key,
                person_key=r.person_key,
                source=r.source,
                payload=r.payload,
                received_at=r.received_at,
                attempts=r.attempts + 1,
            )
            for r in rows
        ]

    @staticmethod
    def _leased(event_id: int, worker: str) -> ColumnElement[bool]:
        e = ProcessedEvent
        return and_(e.id == event_id, e.locked_by == worker, e.status == PENDING)

    async def settle(self, event_id: int, *, worker: str, now: datetime, outcome: str) -> bool:
        """Mark a leased event applied (in the transaction of its effects); False when the
        lease was lost to another applier (then roll the effects back)."""
        result = await self.session.execute(
            update(ProcessedEvent)
            .where(self._leased(event_id, worker))
            .values(
                status="applied",
                applied_at=now,
                outcome=outcome[:16],
                payload=None,
                locked_until=None,
                locked_by=None,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def fail(
        self, event_id: int, *, worker: str, error: str, retry_at: datetime | None
    ) -> str:
        """Record a failed attempt: back in the queue from `retry_at`, or parked as dead when
        `retry_at` is None. Returns "retry", "dead" or "lost" (the lease had passed on)."""
        result = await self.session.execute(
            update(ProcessedEvent)
            .where(self._leased(event_id, worker))
            .values(
                status="pending" if retry_at is not None else "dead",
                next_attempt_at=retry_at,
                last_error=error[:4000],
                locked_until=None,
                locked_by=None,
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return "lost"
        return "retry" if retry_at is not None else "dead"

    async def revive(
        self, ids: Sequence[int] | None = None, *, portal_id: int | None = None
    ) -> list[tuple[int, int]]:
        """Put dead events back in the queue (all, or the given ids; of one portal, if given)
        with fresh attempts; returns the (id, portal id) of each one revived. Conditional on
        "dead", so of two concurrent revivals of one event only one revives it."""
        stmt = (
            update(ProcessedEvent)
            .where(ProcessedEvent.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=None)
            .returning(ProcessedEvent.id, ProcessedEvent.portal_id)
            .execution_options(synchronize_session=False)
        )
        if ids:
            stmt = stmt.where(ProcessedEvent.id.in_(list(ids)))
        if portal_id is not None:
            stmt = stmt.where(ProcessedEvent.portal_id == portal_id)
        rows = (await self.session.execute(stmt)).all()
        return sorted((int(i), int(p)) for i, p in rows)

    async def recent(
        self, *, status: str | None = None, portal_id: int | None = None, limit: int = 100
    ) -> Sequence[ProcessedEvent]:
        """The newest stored events (of one status and portal, if given), newest first."""
        stmt = select(ProcessedEvent).order_by(ProcessedEvent.id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(ProcessedEvent.status == status)
        if portal_id is not None:
            stmt = stmt.where(ProcessedEvent.portal_id == portal_id)
        return (await self.session.scalars(stmt)).all()

    async def counts(self, *, portal_id: int | None = None) -> dict[str, int]:
        stmt = select(ProcessedEvent.status, func.count()).group_by(ProcessedEvent.status)
        if portal_id is not None:
            stmt = stmt.where(ProcessedEvent.portal_id == portal_id)
        rows = await self.session.execute(stmt)
        return {str(status): int(n) for status, n in rows.all()}

    async def prune(self, older_than: datetime) -> int:
        """Forget applied events received before `older_than` (their dedupe window is over);
        pending and dead ones stay."""
        result = await self.session.execute(
            delete(ProcessedEvent).where(
                ProcessedEvent.received_at < older_than, ProcessedEvent.status == "applied"
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
