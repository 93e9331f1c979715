"""Statistics of a period for the reports page: `services.api_reports.gather_period` (the path
of the REST API's statistics too) over the people in view, by name."""

from __future__ import annotations

from datetime import date, datetime

from timebot.domain.calendar import ProductionCalendar
from timebot.services.api_reports import PeopleTotals, gather_period
from timebot.services.timesheet import department_ids_of
from timebot.storage import UnitOfWork
from timebot.storage.tables import Employee, Portal

__all__ = ["MAX_PERIOD_DAYS", "period_stats"]

# A longer period is refused by the page (a year of a big portal is a timesheet job).
MAX_PERIOD_DAYS = 93


async def period_stats(
    uow: UnitOfWork,
    portal: Portal,
    *,
    first: date,
    last: date,
    departments: frozenset[int] | None,
    calendar: ProductionCalendar | None,
    now: datetime,
) -> PeopleTotals:
    """Statistics of local dates [first, last] with violations for the people in `departments`
    (Bitrix ids; None: everyone), by name. Active people are listed, and people who left but
    have marks then."""
    employees: list[Employee] = await uow.employees.all(portal.id)
    if departments is not None:
        employees = [e for e in employees if set(department_ids_of(e)) & departments]
    people = await gather_period(
        uow,
        portal,
        employees,
        first=first,
        last=last,
        now=now,
        calendar=calendar,
        with_violations=True,
        departed_if_marked=True,
    )
    people.sort(key=lambda p: (p.name.casefold(), p.user_id))
    return PeopleTotals(first, last, tuple(people))
