"""Each shift's break on a real SQLite and PostgreSQL database: a portal with a day-shift
schedule (30 min) and a night-shift one (60 min), shifts with breaks of their own, and one
shift of a schedule nobody follows any more. The bot's plan, the bulk timesheet's plans and the
month's timesheet give every shift its own figure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError

from tests.support.rows import (
    assignment_row,
    employee_row,
    flushed,
    migrated_with,
    portal_row,
    schedule_row,
    shift_row,
    stored_person,
)
from timebot.bot.people import plan_for, portal_calendar
from timebot.services.timesheet import gather_timesheet, load_people, load_plans
from timebot.storage import Database
from timebot.storage.tables import Employee, Schedule

MSK = ZoneInfo("Europe/Moscow")
YEAR, MONTH = 2026, 3
NOW = datetime(2026, 3, 31, 12, tzinfo=UTC)
H = timedelta(hours=1)

# (employee, local start date, start hour, hours, own break) -> the norm the plan must give.
DAY_SHIFTS = [
    (date(2026, 3, 2), 8, 12, None, 11.5 * H),  # the day schedule's 30
    (date(2026, 3, 3), 8, 4, 0, 4 * H),  # a 4-hour shift without a break
    (date(2026, 3, 4), 8, 16, 90, 14.5 * H),  # a double shift with 90
]
NIGHT_SHIFTS = [
    (date(2026, 3, 2), 20, 12, None, 11 * H),  # the night schedule's 60
    (date(2026, 3, 3), 20, 12, 45, 11.25 * H),
    # A shift kept from a schedule nobody follows any more (20 min): its break still counts.
    (date(2026, 3, 5), 20, 8, None, 7 * H + 40 * timedelta(minutes=1)),
]


@dataclass
class World:
    db: Database
    portal_id: int
    day_worker: int
    night_worker: int


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    db, portal_id = await migrated_with(database_url, portal_row(timezone="Europe/Moscow"))
    try:
        async with db.unit_of_work() as uow:
            schedules: dict[str, Schedule] = {}
            for name, minutes, active in (
                ("day", 30, True),
                ("night", 60, True),
                ("old", 20, False),
            ):
                schedules[name] = await flushed(
                    uow,
                    schedule_row(
                        portal_id,
                        name=name,
                        kind="shift",
                        definition={"break": minutes},
                        active=active,
                    ),
                )
            people: dict[str, Employee] = {}
            for name, user_id in (("day", 10), ("night", 11)):
                people[name] = await flushed(uow, employee_row(portal_id, user_id))
                uow.session.add(
                    assignment_row(
                        portal_id,
                        schedules[name].id,
                        employee_id=people[name].id,
                        valid_from=date(2026, 2, 1),
                    )
                )
            for who, shifts in (("day", DAY_SHIFTS), ("night", NIGHT_SHIFTS)):
                for i, (d, hour, hours, own, _) in enumerate(shifts):
                    starts = datetime.combine(d, time(hour), tzinfo=MSK)
                    schedule = schedules["old" if i == 2 and who == "night" else who]
                    row = shift_row(
                        portal_id,
                        people[who].id,
                        starts,
                        starts + hours * H,
                        schedule_id=schedule.id,
                    )
                    row.break_minutes = own
                    uow.session.add(row)
            await uow.commit()
        yield World(db, portal_id, people["day"].id, people["night"].id)
    finally:
        await db.dispose()


async def test_the_bots_plan_gives_each_shift_its_own_break(world: World) -> None:
    for employee_id, shifts in ((world.day_worker, DAY_SHIFTS), (world.night_worker, NIGHT_SHIFTS)):
        async with world.db.unit_of_work() as uow:
            portal, _, person = await stored_person(uow, world.portal_id, employee_id)
            first, last = date(2026, 3, 1), date(2026, 3, 31)
            plan = await plan_for(uow, portal, person, start=first, end=last, country="RU")
            for d, _, _, _, norm in shifts:
                expected = plan.expected(d, person.tz)
                assert expected is not None
                assert expected.minimum == norm, (employee_id, d)


async def test_the_bulk_plans_and_the_timesheet_agree_shift_by_shift(world: World) -> None:
    first, last = date(2026, 3, 1), date(2026, 3, 31)
    async with world.db.unit_of_work() as uow:
        portal = await uow.portals.get(world.portal_id)
        assert portal is not None
        calendar = await portal_calendar(uow, portal, country="RU", start=first, end=last)
        people = await load_people(uow, portal, await uow.employees.all(world.portal_id))
        book = await load_plans(
            uow, world.portal_id, people.values(), start=first, end=last, calendar=calendar
        )
        sheet = await gather_timesheet(
            uow, portal, year=YEAR, month=MONTH, calendar=calendar, now=NOW
        )
        minima = {
            (employee_id, d): book.expected(employee_id, d, MSK)
            for employee_id, shifts in (
                (world.day_worker, DAY_SHIFTS),
                (world.night_worker, NIGHT_SHIFTS),
            )
            for d, *_ in shifts
        }
    norms = {
        line.employee_id: line.norm_hours for s in sheet.sections for line in s.timesheet.lines
    }
    for employee_id, shifts in ((world.day_worker, DAY_SHIFTS), (world.night_worker, NIGHT_SHIFTS)):
        for d, _, _, _, norm in shifts:
            expected = minima[employee_id, d]
            assert expected is not None
            assert expected.minimum == norm, (employee_id, d)
        total = sum((n for *_, n in shifts), timedelta())
        assert norms[employee_id] == pytest.approx(total / H, abs=0.006)  # shown to 0.01 h


@pytest.mark.parametrize("minutes", [-1, 721])
async def test_the_database_refuses_a_break_out_of_range(world: World, minutes: int) -> None:
    starts = datetime(2026, 3, 20, 5, tzinfo=UTC)
    async with world.db.unit_of_work() as uow:
        row = shift_row(world.portal_id, world.day_worker, starts, starts + 8 * H)
        row.break_minutes = minutes
        uow.session.add(row)
        with pytest.raises(IntegrityError, match="break_range"):
            await uow.flush()
