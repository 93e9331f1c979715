"""The monthly timesheet from a real SQLite and PostgreSQL database: a department of three over
November 2026 (a public holiday on the 4th, a shortened 3rd), a late day, a missed day ("НН"),
work on the holiday ("РВ"), night shifts in another zone (one crossing into December), people
who left, and the reads: a fixed number of queries, one of them for the month's marks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from tests.support.rows import (
    assignment_row,
    department_row,
    employee_row,
    flushed,
    mark_row,
    migrated_with,
    portal_row,
    schedule_row,
    shift_row,
)
from timebot.bot.people import portal_calendar
from timebot.domain.timesheet import TimesheetCode
from timebot.reports.timesheet import cell_text, line_totals
from timebot.services.timesheet import MonthTimesheet, gather_timesheet
from timebot.storage import Database

MSK = ZoneInfo("Europe/Moscow")
YEKT = ZoneInfo("Asia/Yekaterinburg")
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=MSK)
NOV = [date(2026, 11, d) for d in range(1, 31)]
HOLIDAY = date(2026, 11, 4)
SHORT = date(2026, 11, 3)
LATE = date(2026, 11, 5)
MISSED = date(2026, 11, 12)
SHIFTS = [date(2026, 11, d) for d in (9, 10, 11, 12, 13, 30)]
SHIFT_MISSED = date(2026, 11, 13)
ACCOUNTING, WAREHOUSE = 5, 8


def at(d: date, hh: int, mm: int = 0, tz: ZoneInfo = MSK) -> datetime:
    return datetime.combine(d, time(hh, mm), tzinfo=tz).astimezone(UTC)


def working_days() -> list[date]:
    # Weekdays of November 2026 but the 4th (the official calendar: 20 working days).
    return [d for d in NOV if d.weekday() < 5 and d != HOLIDAY]


@dataclass
class Org:
    """A portal with departments, people, schedules and marks, written straight into tables."""

    db: Database
    portal_id: int
    _users: int = 100

    async def department(self, bitrix_id: int, name: str, head: int | None = None) -> None:
        async with self.db.unit_of_work() as uow:
            uow.session.add(department_row(self.portal_id, bitrix_id, name=name, head=head))
            await uow.commit()

    async def employee(
        self,
        name: str,
        departments: list[int],
        *,
        tz: str | None = None,
        active: bool = True,
        user_id: int | None = None,
        language: str | None = None,
    ) -> int:
        if user_id is None:
            self._users += 1
            user_id = self._users
        async with self.db.unit_of_work() as uow:
            e = employee_row(
                self.portal_id,
                user_id,
                name=name,
                tz=tz,
                departments=departments,
                language=language,
                active=active,
            )
            uow.session.add(e)
            await uow.commit()
            return e.id

    async def marks(self, employee_id: int, *spans: tuple[datetime, datetime]) -> None:
        """Check-in/check-out pairs; a third-hour break is not needed: spans are net work."""
        async with self.db.unit_of_work() as uow:
            for start, end in spans:
                for kind, when in (("check_in", start), ("check_out", end)):
                    uow.session.add(mark_row(self.portal_id, employee_id, kind, when))
            await uow.commit()

    async def office_day(
        self, employee_id: int, d: date, start: tuple[int, int], end: tuple[int, int]
    ) -> None:
        """A day with a 13:00-14:00 break."""
        async with self.db.unit_of_work() as uow:
            for kind, when in (
                ("check_in", at(d, *start)),
                ("break_start", at(d, 13)),
                ("break_end", at(d, 14)),
                ("check_out", at(d, *end)),
            ):
                uow.session.add(mark_row(self.portal_id, employee_id, kind, when))
            await uow.commit()

    async def night_shifts(self, employee_id: int, days: list[date], tz: ZoneInfo) -> None:
        """A shift schedule (30 min break) assigned to the person, shifts 22:00-06:00 local."""
        async with self.db.unit_of_work() as uow:
            schedule = await flushed(
                uow,
                schedule_row(
                    self.portal_id,
                    name="Ночные смены",
                    kind="shift",
                    definition={"break": 30},
                    tolerance_min=5,
                ),
            )
            uow.session.add(assignment_row(self.portal_id, schedule.id, employee_id=employee_id))
            for d in days:
                uow.session.add(
                    shift_row(
                        self.portal_id,
                        employee_id,
                        at(d, 22, tz=tz),
                        at(d + timedelta(days=1), 6, tz=tz),
                        schedule_id=schedule.id,
                    )
                )
            await uow.commit()

    async def timesheet(
        self, *, department_id: int | None = None, now: datetime = NOW
    ) -> MonthTimesheet:
        async with self.db.unit_of_work() as uow:
            portal = await uow.portals.get(self.portal_id)
            assert portal is not None
            calendar = await portal_calendar(uow, portal, country="RU", start=NOV[0], end=NOV[-1])
            return await gather_timesheet(
                uow,
                portal,
                year=2026,
                month=11,
                calendar=calendar,
                now=now,
                department_id=department_id,
            )


async def make_org(database_url: str, *, settings: dict[str, object] | None = None) -> Org:
    portal = portal_row(settings=settings or {"company_name": "ООО «Ромашка»"}, bot_id=77)
    db, portal_id = await migrated_with(database_url, portal)
    return Org(db, portal_id)


@dataclass
class People:
    anna: int
    boris: int
    vera: int
    oleg: int
    left: int


async def populate(org: Org) -> People:
    """Accounting: Anna (office hours, one late day), Boris (misses the 12th, works the
    holiday), Vera (night shifts in Yekaterinburg); Oleg in the warehouse; Lev left in
    November after two days; Nina left long ago."""
    await org.department(ACCOUNTING, "Бухгалтерия", head=900)
    await org.department(WAREHOUSE, "Склад", head=901)
    anna = await org.employee("Анна Смирнова", [ACCOUNTING])
    boris = await org.employee("Борис Петров", [str(ACCOUNTING)])  # an older sync's string id
    vera = await org.employee("Вера Ночная", [ACCOUNTING], tz="Asia/Yekaterinburg")
    oleg = await org.employee("Олег Складской", [WAREHOUSE])
    left = await org.employee("Лев Ушедший", [ACCOUNTING], active=False)
    await org.employee("Нина Давняя", [ACCOUNTING], active=False)
    for d in working_days():
        end = (17, 0) if d == SHORT else (18, 0)
        if d == LATE:
            await org.office_day(anna, d, (9, 25), (18, 25))
        else:
            await org.office_day(anna, d, (9, 0), end)
        if d != MISSED:
            await org.office_day(boris, d, (9, 0), end)
    await org.marks(boris, (at(HOLIDAY, 10), at(HOLIDAY, 14)))
    await org.night_shifts(vera, SHIFTS, YEKT)
    await org.marks(
        vera,
        *[
            (at(d, 22, tz=YEKT), at(d + timedelta(days=1), 6, tz=YEKT))
            for d in SHIFTS
            if d != SHIFT_MISSED
        ],
    )
    await org.marks(oleg, (at(date(2026, 11, 2), 8), at(date(2026, 11, 2), 17)))
    await org.marks(left, (at(date(2026, 11, 2), 9), at(date(2026, 11, 2), 18)))
    return People(anna, boris, vera, oleg, left)


@pytest.fixture
async def org(database_url: str) -> AsyncIterator[Org]:
    org = await make_org(database_url)
    try:
        yield org
    finally:
        await org.db.dispose()


def row_of(report: MonthTimesheet, section: str, employee_id: int) -> tuple[list[str], list[float]]:
    for s in report.sections:
        if s.name != section:
            continue
        for line in s.timesheet.lines:
            if line.employee_id == employee_id:
                totals = line_totals(line, report.people[employee_id])
                return [cell_text(c) for c in line.cells], list(totals.values())
    raise AssertionError(f"{employee_id} not on sheet {section}")


async def test_a_department_month_with_holiday_lateness_absence_and_night_shifts(
    org: Org,
) -> None:
    people = await populate(org)
    report = await org.timesheet(department_id=ACCOUNTING)

    assert report.organisation == "ООО «Ромашка»"
    assert (report.working_days, report.calendar_norm_hours) == (20, 159)
    assert HOLIDAY in report.days_off
    assert report.shortened == frozenset({SHORT})
    assert [s.name for s in report.sections] == ["Бухгалтерия"]
    lines = report.sections[0].timesheet.lines
    # In name order; Lev left but has marks this month; Nina left with none: not listed.
    assert [report.people[int(str(line.employee_id))].name for line in lines] == [
        "Анна Смирнова",
        "Борис Петров",
        "Вера Ночная",
        "Лев Ушедший",
    ]

    cells, totals = row_of(report, "Бухгалтерия", people.anna)
    assert cells[SHORT.day - 1] == "Я 7"
    assert cells[LATE.day - 1] == "Я 8"
    assert cells[HOLIDAY.day - 1] == "В"
    assert cells[0] == "В"  # Sunday 1 November
    # days, hours, night, on days off, norm, difference, late days, НН
    assert totals == [20, 159, 0, 0, 159, 0, 1, 0]

    cells, totals = row_of(report, "Бухгалтерия", people.boris)
    assert cells[MISSED.day - 1] == "НН"
    assert cells[HOLIDAY.day - 1] == "РВ 4"
    assert totals == [20, 155, 0, 4, 159, -4, 0, 1]

    # Vera: 22:00-06:00 in her own zone, all of it at night; the 30th ends on 1 December.
    cells, totals = row_of(report, "Бухгалтерия", people.vera)
    for d in SHIFTS:
        expected = "НН" if d == SHIFT_MISSED else "Н 8"
        assert cells[d.day - 1] == expected, d
    assert cells[date(2026, 11, 2).day - 1] == "В"  # no shift rostered: a day off
    assert report.sections[0].timesheet.lines[2].cells[SHIFTS[0].day - 1].code is (
        TimesheetCode.PRESENT
    )
    # Five shifts of 8 h worked; the norm is six rostered shifts of 7.5 h (30 min break).
    assert totals == [5, 40, 40, 0, 45, -5, 0, 1]

    _, totals = row_of(report, "Бухгалтерия", people.left)
    assert totals[:2] == [1, 9]
    assert report.people[people.left].active is False
    assert all(s.department_id == ACCOUNTING for s in report.sections)


async def test_the_portal_timesheet_has_a_sheet_per_department(org: Org) -> None:
    people = await populate(org)
    lonely = await org.employee("Яна Без Отдела", [])
    report = await org.timesheet()
    assert [s.name for s in report.sections] == ["Бухгалтерия", "Склад", "Без подразделения"]
    cells, totals = row_of(report, "Склад", people.oleg)
    assert cells[1] == "Я 9"
    assert totals[:2] == [1, 9]
    cells, _ = row_of(report, "Без подразделения", lonely)
    assert cells[1] == "НН"  # planned, passed, nothing recorded
    assert report.lines == 6


async def test_days_not_yet_come_are_empty(org: Org) -> None:
    people = await populate(org)
    report = await org.timesheet(
        department_id=ACCOUNTING, now=datetime(2026, 11, 16, 8, tzinfo=MSK)
    )
    cells, totals = row_of(report, "Бухгалтерия", people.anna)
    assert cells[13 - 1] == "Я 8"
    assert cells[16 - 1] == ""  # today (Monday 16th), before anyone came
    assert cells[21 - 1] == "В"  # a day off ahead is still a day off
    # Marks already in the table for later dates are not read: 2, 3, 5, 6, 9 .. 13 worked.
    assert totals[0] == 9
    assert totals[4] == 159  # the month's norm, days ahead included


@contextmanager
def count_queries(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)


async def test_the_reads_do_not_grow_with_the_head_count(org: Org) -> None:
    await populate(org)
    with count_queries(org.db) as small:
        await org.timesheet(department_id=ACCOUNTING)
        await org.timesheet()
    for i in range(25):
        extra = await org.employee(f"Сотрудник {i:02d}", [ACCOUNTING, WAREHOUSE])
        await org.marks(extra, (at(date(2026, 11, 2), 9), at(date(2026, 11, 2), 18)))
    with count_queries(org.db) as big:
        report = await org.timesheet(department_id=ACCOUNTING)
        await org.timesheet()
    assert len(big) == len(small)
    assert len(report.sections[0].timesheet.lines) == 4 + 25
    per_call = [s for s in big if "FROM marks" in s]
    assert len(per_call) == 2  # one query for the month's marks per timesheet
