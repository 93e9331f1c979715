"""Bulk reads for reports (timesheets, weekly statistics): many employees at once.

Each method is one query (or one per chunk of ids for very long id lists), never one per
person, and reads plain columns rather than ORM objects where the rows are many.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Row,
    Select,
    String,
    case,
    cast,
    extract,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from timebot.domain.marks import Mark as DomainMark
from timebot.domain.marks import MarkKind
from timebot.domain.tally import MARK_CODES, MarkTrack
from timebot.storage.tables import Employee, EmployeeOffice, Mark, Office, OutboxMessage, Shift

__all__ = ["ID_CHUNK", "EmployeeFact", "LocatedMarkFact", "MarkFact", "ReportingRepository"]

# Bound parameters per IN list: far below SQLite's and asyncpg's limits (32,766 / 32,767).
ID_CHUNK = 5000


class EmployeeFact(NamedTuple):
    """The columns of an employee that reports read (the ORM row costs ten times as much)."""

    id: int
    bitrix_user_id: int
    name: str
    timezone: str | None
    department_ids: list[Any]
    active: bool
    all_offices: bool


class MarkFact(NamedTuple):
    """The columns of a standing mark that a work day is assembled from."""

    id: int
    employee_id: int
    kind: str
    at: datetime
    provisional: bool


class LocatedMarkFact(NamedTuple):
    """A standing mark's presence verdict: what `services.digest.location_findings` reads."""

    id: int
    employee_id: int
    at: datetime
    location_verdict: str | None
    distance_m: float | None
    flags: list[Any]


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


_NAIVE_EPOCH = datetime(1970, 1, 1)  # noqa: DTZ001 - SQLite's stored text is naive UTC
_MICRO = timedelta(microseconds=1)


def _gather_text_rows(rows: Sequence[Sequence[Any]], found: dict[int, MarkTrack]) -> None:
    """Tracks from (employee, code, stored text of `at`) rows ordered by employee."""
    parse = datetime.fromisoformat
    current: int | None = None
    codes: list[str] = []
    instants: list[int] = []
    for employee_id, code, text in rows:
        if employee_id != current:  # rows come by employee: one look-up per run
            if current is not None:
                found[current] = MarkTrack("".join(codes), instants)
            current, codes, instants = employee_id, [], []
        codes.append(code)
        instants.append((parse(text) - _NAIVE_EPOCH) // _MICRO)
    if current is not None:
        found[current] = MarkTrack("".join(codes), instants)


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

    async def located_marks(
        self,
        portal_id: int,
        *,
        since: datetime,
        until: datetime,
        employee_ids: Sequence[int] | None = None,
    ) -> dict[int, list[LocatedMarkFact]]:
        """Standing marks of the portal (or of `employee_ids`) in [since, until) that carry a
        presence verdict, by employee, each list in time order (ties by id). Only the few marks
        with a verdict are read, so violations cost one small query beside `standing_marks`."""
        base = (
            select(
                Mark.id,
                Mark.employee_id,
                Mark.at,
                Mark.location_verdict,
                Mark.distance_m,
                Mark.flags,
            )
            .where(
                Mark.portal_id == portal_id,
                Mark.at >= since,
                Mark.at < until,
                Mark.location_verdict.is_not(None),
                _standing(),
            )
            .order_by(Mark.employee_id, Mark.at, Mark.id)
        )
        queries = (
            [base]
            if employee_ids is None
            else [base.where(Mark.employee_id.in_(c)) for c in _chunks(sorted(set(employee_ids)))]
        )
        found: dict[int, list[LocatedMarkFact]] = {}
        for query in queries:
            for mark_id, employee_id, at, verdict, distance, flags in await self.session.execute(
                query
            ):
                found.setdefault(employee_id, []).append(
                    LocatedMarkFact(mark_id, employee_id, at, verdict, distance, list(flags or []))
                )
        return found

    async def standing_mark_tracks(
        self,
        portal_id: int,
        *,
        since: datetime,
        until: datetime,
        employee_ids: Sequence[int] | None = None,
    ) -> dict[int, MarkTrack]:
        """The standing marks of the portal (or of `employee_ids`) in [since, until) as one
        compact track per employee (`domain.tally`), each in time order, ties by id.

        PostgreSQL aggregates them: one row per employee with the kinds as one string and the
        instants as an array of microseconds, so half a million marks cost no Python object
        each on the way. SQLite (no ordered aggregates before 3.44) reads one row per mark
        with `at` as its stored text, parsed here.
        """
        connection = await self.session.connection()
        found: dict[int, MarkTrack] = {}
        postgres = connection.dialect.name == "postgresql"
        for query in self._track_queries(portal_id, since, until, employee_ids, postgres):
            result = await connection.execute(query)
            if postgres:
                for employee_id, codes, instants in result:
                    found[employee_id] = MarkTrack(codes, instants)
                continue
            # The driver's rows as they are, without a SQLAlchemy Row per mark: no column
            # here has a result hook to apply.
            cursor = result.cursor
            rows = cursor.fetchall() if cursor is not None else result.all()
            result.close()
            _gather_text_rows(rows, found)
        return found

    def _track_queries(
        self,
        portal_id: int,
        since: datetime,
        until: datetime,
        employee_ids: Sequence[int] | None,
        postgres: bool,
    ) -> list[Select[tuple[int, str, Any]]]:
        code = case(
            {kind.value: letter for kind, letter in MARK_CODES.items()},
            value=Mark.kind,
            else_=literal("?"),
        )
        where = (Mark.portal_id == portal_id, Mark.at >= since, Mark.at < until, _standing())
        base: Select[tuple[int, str, Any]]
        if postgres:
            micros = cast(extract("epoch", Mark.at) * 1_000_000, BigInteger)
            base = (
                select(
                    Mark.employee_id,
                    func.string_agg(code, literal("")).aggregate_order_by(Mark.at, Mark.id),
                    func.array_agg(micros).aggregate_order_by(Mark.at, Mark.id),
                )
                .where(*where)
                .group_by(Mark.employee_id)
            )
        else:
            # The stored text as it is: no per-row result hook on half a million rows.
            base = (
                select(Mark.employee_id, code, type_coerce(Mark.at, String))
                .where(*where)
                .order_by(Mark.employee_id, Mark.at, Mark.id)
            )
        if employee_ids is None:
            return [base]
        return [base.where(Mark.employee_id.in_(c)) for c in _chunks(sorted(set(employee_ids)))]

    async def employees(self, portal_id: int) -> list[EmployeeFact]:
        """Every employee of the portal, active or not, by Bitrix24 user id."""
        rows = await self.session.execute(
            select(
                Employee.id,
                Employee.bitrix_user_id,
                Employee.name,
                Employee.timezone,
                Employee.department_ids,
                Employee.active,
                Employee.all_offices,
            )
            .where(Employee.portal_id == portal_id)
            .order_by(Employee.bitrix_user_id)
        )
        return [EmployeeFact(*row) for row in rows]

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
