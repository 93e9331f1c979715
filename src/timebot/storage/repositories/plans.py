"""Schedules, their assignments, planned shifts and the portal's calendar overrides."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from timebot.storage.tables import (
    CalendarOverride,
    EmployeeOffice,
    Office,
    Schedule,
    ScheduleAssignment,
    Shift,
)


class PlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def assignments(self, portal_id: int) -> list[tuple[ScheduleAssignment, Schedule]]:
        """Every assignment of an active schedule of the portal, with its schedule."""
        query = (
            select(ScheduleAssignment, Schedule)
            .join(Schedule, Schedule.id == ScheduleAssignment.schedule_id)
            .where(ScheduleAssignment.portal_id == portal_id, Schedule.active.is_(True))
            .order_by(ScheduleAssignment.valid_from, ScheduleAssignment.id)
        )
        return [(a, s) for a, s in (await self.session.execute(query)).all()]

    async def shifts(self, employee_id: int, *, start: datetime, end: datetime) -> list[Shift]:
        """Shifts of a person overlapping [start, end)."""
        query = (
            select(Shift)
            .where(Shift.employee_id == employee_id, Shift.starts_at < end, Shift.ends_at > start)
            .order_by(Shift.starts_at)
        )
        return list(await self.session.scalars(query))

    async def definitions(self, schedule_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The stored definitions of these schedules (any state), by id."""
        ids = sorted(set(schedule_ids))
        if not ids:
            return {}
        query = select(Schedule.id, Schedule.definition).where(Schedule.id.in_(ids))
        return {int(i): d or {} for i, d in (await self.session.execute(query)).all()}

    async def overrides(self, portal_id: int, *, start: date, end: date) -> list[CalendarOverride]:
        query = select(CalendarOverride).where(
            CalendarOverride.portal_id == portal_id,
            CalendarOverride.day >= start,
            CalendarOverride.day <= end,
        )
        return list(await self.session.scalars(query))

    def add_schedule(self, schedule: Schedule) -> Schedule:
        self.session.add(schedule)
        return schedule

    def add_assignment(self, assignment: ScheduleAssignment) -> ScheduleAssignment:
        self.session.add(assignment)
        return assignment

    async def office_timezones(
        self, portal_id: int, employee_id: int, *, all_offices: bool
    ) -> set[str | None]:
        """The zones of the active offices a person may work at (None for unset zones)."""
        query = select(Office.timezone).where(
            Office.portal_id == portal_id, Office.active.is_(True)
        )
        if not all_offices:
            query = query.join(EmployeeOffice, EmployeeOffice.office_id == Office.id).where(
                EmployeeOffice.employee_id == employee_id
            )
        return set(await self.session.scalars(query))
