"""Queries behind the REST API: pages of marks and employees, one portal's offices, zones,
schedules and assignments. Every read is filtered by the portal: a row of another portal is
simply not found.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from timebot.storage.tables import (
    Department,
    Employee,
    EmployeeOffice,
    Mark,
    Office,
    Schedule,
    ScheduleAssignment,
    Zone,
)

__all__ = ["ApiRepository"]

RowT = TypeVar("RowT", Mark, Employee, Office, Zone, Schedule, ScheduleAssignment, Department)
ID_CHUNK = 5000


class ApiRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def owned(self, table: type[RowT], portal_id: int, row_id: int) -> RowT | None:
        """The row with this id if it belongs to the portal, else None."""
        query = select(table).where(table.id == row_id, table.portal_id == portal_id)
        return (await self.session.scalars(query)).first()

    # --- Marks ----------------------------------------------------------------------------------

    async def marks(
        self,
        portal_id: int,
        *,
        employee_id: int | None,
        since: datetime | None,
        until: datetime | None,
        kinds: Sequence[str],
        standing_only: bool,
        limit: int,
        offset: int,
    ) -> tuple[list[Mark], int]:
        """A page of the portal's marks, newest first, and how many match in all."""
        conditions: list[Any] = [Mark.portal_id == portal_id]
        if employee_id is not None:
            conditions.append(Mark.employee_id == employee_id)
        if since is not None:
            conditions.append(Mark.at >= since)
        if until is not None:
            conditions.append(Mark.at < until)
        if kinds:
            conditions.append(Mark.kind.in_(list(kinds)))
        if standing_only:
            newer = aliased(Mark)
            conditions.append(~exists().where(newer.supersedes_mark_id == Mark.id))
        total = await self.session.scalar(select(func.count()).select_from(Mark).where(*conditions))
        query = (
            select(Mark)
            .where(*conditions)
            .order_by(Mark.at.desc(), Mark.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(await self.session.scalars(query)), int(total or 0)

    async def superseded(self, mark_ids: Sequence[int]) -> set[int]:
        """Which of the marks a later correction replaced."""
        if not mark_ids:
            return set()
        query = select(Mark.supersedes_mark_id).where(Mark.supersedes_mark_id.in_(list(mark_ids)))
        return {int(i) for i in await self.session.scalars(query) if i is not None}

    # --- People ---------------------------------------------------------------------------------

    async def employees(
        self,
        portal_id: int,
        *,
        active: bool | None,
        search: str | None,
        limit: int,
        offset: int,
        department_bitrix_id: int | None = None,
    ) -> tuple[list[Employee], int]:
        """A page of the portal's employees by name, and how many match in all.

        The department and text filters run in Python (department ids are a JSON list, and
        SQLite's `lower()` knows only ASCII): the portal's matching rows are read whole, then
        sliced.
        """
        conditions: list[Any] = [Employee.portal_id == portal_id]
        if active is not None:
            conditions.append(Employee.active.is_(active))
        order = (Employee.name, Employee.id)
        if department_bitrix_id is not None or search:
            wanted = search.casefold() if search else None
            rows = await self.session.scalars(select(Employee).where(*conditions).order_by(*order))
            matching = [
                e
                for e in rows
                if (
                    department_bitrix_id is None
                    or any(str(d) == str(department_bitrix_id) for d in e.department_ids or [])
                )
                and (
                    wanted is None
                    or wanted in e.name.casefold()
                    or wanted in (e.email or "").casefold()
                )
            ]
            return matching[offset : offset + limit], len(matching)
        total = await self.session.scalar(
            select(func.count()).select_from(Employee).where(*conditions)
        )
        query = select(Employee).where(*conditions).order_by(*order).limit(limit).offset(offset)
        return list(await self.session.scalars(query)), int(total or 0)

    async def office_ids_of(self, employee_ids: Sequence[int]) -> dict[int, list[int]]:
        """employee id -> the offices linked to them (used when `all_offices` is false)."""
        if not employee_ids:
            return {}
        rows = await self.session.execute(
            select(EmployeeOffice.employee_id, EmployeeOffice.office_id)
            .where(EmployeeOffice.employee_id.in_(list(employee_ids)))
            .order_by(EmployeeOffice.office_id)
        )
        found: dict[int, list[int]] = {}
        for employee_id, office_id in rows:
            found.setdefault(int(employee_id), []).append(int(office_id))
        return found

    async def set_offices(self, employee_id: int, office_ids: Sequence[int]) -> None:
        await self.session.execute(
            delete(EmployeeOffice).where(EmployeeOffice.employee_id == employee_id)
        )
        for office_id in sorted(set(office_ids)):
            self.session.add(EmployeeOffice(employee_id=employee_id, office_id=office_id))
        await self.session.flush()

    async def departments(self, portal_id: int) -> list[Department]:
        query = (
            select(Department)
            .where(Department.portal_id == portal_id)
            .order_by(Department.name, Department.id)
        )
        return list(await self.session.scalars(query))

    # --- Places ---------------------------------------------------------------------------------

    async def offices(self, portal_id: int, *, active: bool | None) -> list[Office]:
        query = select(Office).where(Office.portal_id == portal_id)
        if active is not None:
            query = query.where(Office.active.is_(active))
        return list(await self.session.scalars(query.order_by(Office.name, Office.id)))

    async def existing_offices(self, portal_id: int, office_ids: Sequence[int]) -> set[int]:
        """Which of the ids are offices of the portal."""
        if not office_ids:
            return set()
        query = select(Office.id).where(
            Office.portal_id == portal_id, Office.id.in_(list(office_ids))
        )
        return {int(i) for i in await self.session.scalars(query)}

    async def zones(self, office_id: int, *, active: bool | None = None) -> list[Zone]:
        query = select(Zone).where(Zone.office_id == office_id)
        if active is not None:
            query = query.where(Zone.active.is_(active))
        return list(await self.session.scalars(query.order_by(Zone.id)))

    # --- Plans ----------------------------------------------------------------------------------

    async def schedules(self, portal_id: int, *, active: bool | None) -> list[Schedule]:
        query = select(Schedule).where(Schedule.portal_id == portal_id)
        if active is not None:
            query = query.where(Schedule.active.is_(active))
        return list(await self.session.scalars(query.order_by(Schedule.name, Schedule.id)))

    async def assignments(self, schedule_id: int) -> list[ScheduleAssignment]:
        query = (
            select(ScheduleAssignment)
            .where(ScheduleAssignment.schedule_id == schedule_id)
            .order_by(ScheduleAssignment.valid_from, ScheduleAssignment.id)
        )
        return list(await self.session.scalars(query))

    async def assignments_of(
        self, portal_id: int, *, scope: str, target_ids: Sequence[int]
    ) -> list[ScheduleAssignment]:
        """Assignments of the portal to these targets (employee ids or Bitrix department ids)."""
        if not target_ids:
            return []
        query = (
            select(ScheduleAssignment)
            .where(
                ScheduleAssignment.portal_id == portal_id,
                ScheduleAssignment.scope == scope,
                ScheduleAssignment.target_id.in_(list(target_ids)),
            )
            .order_by(ScheduleAssignment.valid_from, ScheduleAssignment.id)
        )
        return list(await self.session.scalars(query))

    async def delete_row(self, row: Any) -> None:
        await self.session.delete(row)
        await self.session.flush()
