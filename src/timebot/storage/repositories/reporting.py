"""Bulk reads for reports (timesheets, weekly statistics): many employees at once.

Each method is one query (or one per chunk of ids for very long id lists), never one per
person, and reads plain columns rather than ORM objects where the rows are many.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement, DateTime, Row, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from timebot.domain.marks import Mark as DomainMark
from timebot.domain.marks import MarkKind
from timebot.storage.tables import EmployeeOffice, Mark, Office, OutboxMessage, Shift

__all__ = ["ID_CHUNK", "MarkFact", "ReportingRepository"]

# Bound parameters per IN list: far below SQLite's and asyncpg's limits (32,766 / 32,767).
ID_CHUNK = 5000


class MarkFact(NamedTuple):
    """The columns of a standing mark that a work day is assembled from."""

    id: int
    employee_id: int
    kind: str
    at: datetime
    provisional: bool


def _standing() -> ColumnElement[bool]:
    # NOT IN over the (few) superseded ids: the database hashes them once, where NOT EXISTS
    # may turn into one index probe per mark when the planner misjudges the row counts.
    newer = aliased(Mark)
    return Mark.id.not_in(
        select(newer.supersedes_mark_id).where(newer.supersedes_mark_id.is_not(None))
    )


def _utc(at: datetime) -> datetime:
    if at.tzinfo is UTC:
        return at
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), ID_CHUNK):
        yield list(ids[i : i + ID_CHUNK])


class ReportingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def standing_marks(
        self,
        portal_id: int,
        *,
        since: datetime,
        until: datetime,
        employee_ids: Sequence[int] | None = None,
    ) -> list[MarkFact]:
        """Standing marks of the portal (or of `employee_ids`) in [since, until), ordered by
        employee, time and id: one query for the whole portal."""
        found: list[MarkFact] = []
        for rows in await self._standing_rows(portal_id, since, until, employee_ids):
            found.extend(
                MarkFact(mid, eid, kind, when if when.tzinfo is UTC else _utc(when), provisional)
                for mid, eid, kind, when, provisional in rows
            )
        return found

    async def _standing_rows(
        self,
        portal_id: int,
        since: datetime,
        until: datetime,
        employee_ids: Sequence[int] | None,
    ) -> list[Sequence[Row[int, int, str, datetime, bool]]]:
        # `at` read as a plain timestamp (no per-row UtcDateTime hook): asyncpg returns it in
        # UTC already, SQLite as naive UTC, tagged below.
        at = type_coerce(Mark.at, DateTime(timezone=True))
        base = (
            select(Mark.id, Mark.employee_id, Mark.kind, at, Mark.provisional)
            .where(Mark.portal_id == portal_id, Mark.at >= since, Mark.at < until, _standing())
            .order_by(Mark.employee_id, Mark.at, Mark.id)
        )
        queries = (
            [base]
            if employee_ids is None
            else [base.where(Mark.employee_id.in_(c)) for c in _chunks(sorted(set(employee_ids)))]
        )
        # Core execution on the session's connection: plain rows, without the ORM's per-row
        # loading machinery (half a million rows for a big portal's month).
        connection = await self.session.connection()
        # Each result fetched at once, not row by row.
        return [(await connection.execute(query)).all() for query in queries]

    async def standing_marks_by_employee(
        self,
        portal_id: int,
        *,
        since: datetime,
        until: datetime,
        employee_ids: Sequence[int] | None = None,
    ) -> dict[int, list[DomainMark]]:
        """`standing_marks` as domain marks by employee, each list in time order: one pass over
        the rows with no intermediate records (a big portal's month is ~500,000 marks)."""
        found: dict[int, list[DomainMark]] = {}
        kinds = {k.value: k for k in MarkKind}
        current: int | None = None
        bucket: list[DomainMark] = []
        for rows in await self._standing_rows(portal_id, since, until, employee_ids):
            for mark_id, employee_id, kind, at, provisional in rows:
                if employee_id != current:  # rows come by employee: one look-up per run
                    current = employee_id
                    bucket = found.setdefault(employee_id, [])
                when = at if at.tzinfo is UTC else _utc(at)
                bucket.append(DomainMark(kinds[kind], when, mark_id, provisional))
        return found

    async def office_zones(self, portal_id: int) -> dict[int, str | None]:
        """Active offices of the portal: id -> time zone (None when unset)."""
        rows = await self.session.execute(
            select(Office.id, Office.timezone).where(
                Office.portal_id == portal_id, Office.active.is_(True)
            )
        )
        return {int(oid): tz for oid, tz in rows}

    async def office_links(self, employee_ids: Sequence[int]) -> dict[int, set[int]]:
        """employee id -> the offices they are restricted to (for `all_offices = false`)."""
        links: dict[int, set[int]] = {}
        for chunk in _chunks(sorted(set(employee_ids))):
            rows = await self.session.execute(
                select(EmployeeOffice.employee_id, EmployeeOffice.office_id).where(
                    EmployeeOffice.employee_id.in_(chunk)
                )
            )
            for eid, oid in rows:
                links.setdefault(int(eid), set()).add(int(oid))
        return links

    async def shifts(
        self, portal_id: int, *, start: datetime, end: datetime
    ) -> dict[int, list[Shift]]:
        """Planned shifts of the portal overlapping [start, end), by employee, in time order."""
        query = (
            select(Shift)
            .where(Shift.portal_id == portal_id, Shift.starts_at < end, Shift.ends_at > start)
            .order_by(Shift.employee_id, Shift.starts_at)
        )
        found: dict[int, list[Shift]] = {}
        for row in await self.session.scalars(query):
            found.setdefault(row.employee_id, []).append(row)
        return found

    async def queued_keys(self, portal_id: int, keys: Sequence[str]) -> set[str]:
        """Which of the outbox dedupe `keys` the portal has queued already."""
        found: set[str] = set()
        for i in range(0, len(keys), ID_CHUNK):
            rows = await self.session.scalars(
                select(OutboxMessage.dedupe_key).where(
                    OutboxMessage.portal_id == portal_id,
                    OutboxMessage.dedupe_key.in_(list(keys[i : i + ID_CHUNK])),
                )
            )
            found.update(k for k in rows if k)
        return found
