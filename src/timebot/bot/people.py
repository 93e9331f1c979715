"""From a chat context to what services need: the person (with their zone) and their work plan."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

from timebot.bot.router import Context
from timebot.domain.calendar import DayKind, ProductionCalendar
from timebot.domain.timezones import resolve_zone
from timebot.reports.production_calendar import calendar_for
from timebot.services.plans import WorkPlan, load_plan
from timebot.services.tracking import Person
from timebot.storage import UnitOfWork
from timebot.storage.repositories.plans import PlanRepository
from timebot.storage.tables import Employee, Portal

# Portal calendar overrides as the admin enters them → production-calendar day kinds.
OVERRIDE_KINDS = {"holiday": DayKind.HOLIDAY, "short": DayKind.SHORTENED}


@lru_cache(maxsize=32)
def _base_calendar(country: str, years: tuple[int, ...]) -> ProductionCalendar | None:
    try:
        return calendar_for(country, years)
    except ValueError:
        return None  # a country nobody knows: plain weekdays, no holidays


async def portal_calendar(
    uow: UnitOfWork, portal: Portal, *, country: str, start: date, end: date
) -> ProductionCalendar | None:
    """The production calendar for the dates, with the portal's own exceptions applied."""
    years = tuple(range(start.year, end.year + 1))
    base = _base_calendar(str((portal.settings or {}).get("country") or country), years)
    if base is None:
        return None
    rows = await PlanRepository(uow.session).overrides(portal.id, start=start, end=end)
    if not rows:
        return base
    overrides: dict[date, tuple[DayKind, float | None]] = {}
    for row in rows:
        if row.kind == "workday":
            kind = DayKind.WORKING_WEEKEND if row.day.weekday() >= 5 else DayKind.WORKING
        else:
            kind = OVERRIDE_KINDS.get(row.kind, DayKind.HOLIDAY)
        overrides[row.day] = (kind, row.hours)
    return base.with_overrides(overrides)


async def person_for(uow: UnitOfWork, portal: Portal, employee: Employee) -> Person:
    """The person with their zone: their own, else their offices' (when all agree), else the
    portal's."""
    zones = await PlanRepository(uow.session).office_timezones(
        portal.id, employee.id, all_offices=employee.all_offices
    )
    office_tz = zones.pop() if len(zones) == 1 else None
    departments = tuple(int(d) for d in (employee.department_ids or []) if str(d).isdigit())
    return Person(
        portal_id=portal.id,
        employee_id=employee.id,
        user_id=employee.bitrix_user_id,
        tz=resolve_zone(employee.timezone, office_tz, portal.timezone),
        department_ids=departments,
    )


async def plan_for(
    uow: UnitOfWork, portal: Portal, person: Person, *, start: date, end: date, country: str
) -> WorkPlan:
    calendar = await portal_calendar(uow, portal, country=country, start=start, end=end)
    return await load_plan(
        uow,
        portal_id=portal.id,
        employee_id=person.employee_id,
        department_ids=person.department_ids,
        tz=person.tz,
        start=start,
        end=end,
        calendar=calendar,
    )


async def context_person(ctx: Context) -> Person | None:
    if ctx.employee is None:
        return None
    return await person_for(ctx.uow, ctx.portal, ctx.employee)


async def plan_around(
    uow: UnitOfWork,
    portal: Portal,
    person: Person,
    *,
    now: datetime,
    country: str,
    days_back: int = 3,
) -> WorkPlan:
    """The person's plan from a few days back to today: what answering "now" needs (an open
    day may have started before midnight, a forgotten one days ago)."""
    today = now.astimezone(person.tz).date()
    return await plan_for(
        uow, portal, person, start=today - timedelta(days=days_back), end=today, country=country
    )
