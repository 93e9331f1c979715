"""The bulk timesheet (compact mark tracks, the lean tally) against the per-person domain path
on a real SQLite and PostgreSQL database: a month with a DST change, people in three zones,
night work, forgotten check-outs, stray marks, corrections, marks at any microsecond and a day
still open at "now"; night workers on two shift schedules (30 and 60 min breaks) with some
shifts' own breaks. Every cell, total and late-day count must be the same."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support.rows import (
    assignment_row,
    employee_row,
    flushed,
    mark_row,
    migrated_with,
    portal_row,
    schedule_row,
    shift_row,
)
from timebot.bot.people import person_for, plan_for, portal_calendar
from timebot.domain.marks import Mark as DomainMark
from timebot.domain.marks import MarkKind
from timebot.domain.tally import to_micros, track_of
from timebot.domain.timesheet import TimesheetBuilder
from timebot.domain.timezones import local_day_bounds
from timebot.domain.workday import assemble
from timebot.services.timesheet import MonthTimesheet, gather_timesheet, late_by, month_bounds
from timebot.services.tracking import to_domain
from timebot.storage import Database, UnitOfWork
from timebot.storage.repositories.reporting import ReportingRepository

YEAR, MONTH = 2025, 10  # Europe/Berlin leaves summer time on 26 October
FIRST, LAST = month_bounds(YEAR, MONTH)
NOW = datetime(2025, 10, 20, 11, 30, tzinfo=UTC)  # mid-month: later days are still ahead
ZONES = [None, "Europe/Berlin", "Asia/Yekaterinburg"]  # None: the portal's (Moscow)
TIE = datetime(2025, 10, 8, 7, 0, 0, 123456, tzinfo=UTC)
OWN_BREAKS = (None, None, 0, None, 90)  # every few shifts a break of their own


async def night_roster(
    uow: UnitOfWork, portal_id: int, employee_id: int, schedule: int, tz: ZoneInfo
) -> None:
    """Shifts 22:00-06:00 local on the person's weekdays, some with a break of their own."""
    uow.session.add(
        assignment_row(portal_id, schedule, employee_id=employee_id, valid_from=date(2025, 9, 1))
    )
    d, i = FIRST - timedelta(days=1), 0
    while d <= LAST:
        if d.weekday() < 5:
            starts = datetime.combine(d, time(22), tzinfo=tz)
            row = shift_row(
                portal_id, employee_id, starts, starts + timedelta(hours=8), schedule_id=schedule
            )
            row.break_minutes = OWN_BREAKS[i % len(OWN_BREAKS)]
            uow.session.add(row)
            i += 1
        d += timedelta(days=1)


def local(d: date, minutes: int, tz: ZoneInfo, rng: random.Random) -> datetime:
    at = datetime.combine(d, time(), tzinfo=tz) + timedelta(minutes=minutes)
    return at.astimezone(UTC) + timedelta(microseconds=rng.randrange(60_000_000))


def month_of_marks(rng: random.Random, n: int, tz: ZoneInfo) -> list[tuple[str, datetime]]:
    """A person's month, one pattern per person number, with noise."""
    marks: list[tuple[str, datetime]] = []
    d = FIRST - timedelta(days=1)  # the night before the month ends in it
    while d <= LAST:
        if d.weekday() < 5 and rng.random() > 0.1:
            if n % 4 == 3:  # nights, 22:00 to 06:00
                marks.append(("check_in", local(d, 22 * 60 + rng.randint(-40, 10), tz, rng)))
                marks.append(("check_out", local(d, 30 * 60 + rng.randint(-10, 40), tz, rng)))
            else:
                start = 9 * 60 + rng.randint(-30, 50)
                marks.append(("check_in", local(d, start, tz, rng)))
                if rng.random() < 0.4:
                    marks.append(("break_start", local(d, 13 * 60, tz, rng)))
                    marks.append(("break_end", local(d, 13 * 60 + rng.randint(20, 70), tz, rng)))
                if rng.random() < 0.1:  # a stray mark the state machine refuses
                    kind = rng.choice(["check_in", "break_end"])
                    marks.append((kind, local(d, 15 * 60, tz, rng)))
                if rng.random() > 0.08:  # else a forgotten check-out
                    marks.append(("check_out", local(d, 18 * 60 + rng.randint(-60, 90), tz, rng)))
        elif rng.random() < 0.08:  # a weekend visit
            marks.append(("check_in", local(d, 11 * 60, tz, rng)))
            marks.append(("check_out", local(d, 15 * 60, tz, rng)))
        d += timedelta(days=1)
    return marks


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[tuple[Database, int, list[int]]]:
    db, portal_id = await migrated_with(database_url, portal_row(timezone="Europe/Moscow"))
    rng = random.Random(20251020)
    ids: list[int] = []
    try:
        async with db.unit_of_work() as uow:
            shift_schedules = [
                (
                    await flushed(
                        uow,
                        schedule_row(
                            portal_id, name=f"Nights {b}", kind="shift", definition={"break": b}
                        ),
                    )
                ).id
                for b in (30, 60)
            ]
            for n in range(24):
                zone = ZONES[n % 3]
                employee = await flushed(
                    uow,
                    employee_row(portal_id, 500 + n, tz=zone, departments=[1 + n % 2]),
                )
                ids.append(employee.id)
                if n % 4 == 3 and n < 16:  # nights: two people on each shift schedule
                    schedule = shift_schedules[n // 8]
                    await night_roster(
                        uow, portal_id, employee.id, schedule, ZoneInfo(zone or "Europe/Moscow")
                    )
                rows = [
                    mark_row(portal_id, employee.id, kind, at)
                    for kind, at in month_of_marks(rng, n, ZoneInfo(zone or "Europe/Moscow"))
                    if at < NOW
                ]
                uow.session.add_all(rows)
                await uow.flush()
                # A correction replaces a check-out now and then: only the new one stands.
                for row in rows:
                    if row.kind == "check_out" and rng.random() < 0.05:
                        uow.session.add(
                            mark_row(
                                portal_id,
                                employee.id,
                                "check_out",
                                row.at + timedelta(minutes=rng.randint(-90, 90)),
                                source="correction",
                                supersedes_mark_id=row.id,
                            )
                        )
                # Two marks at the same microsecond: the older row counts first.
                uow.session.add(mark_row(portal_id, employee.id, "check_in", TIE))
                await uow.flush()
                uow.session.add(mark_row(portal_id, employee.id, "check_out", TIE))
            await uow.commit()
        yield db, portal_id, ids
    finally:
        await db.dispose()


async def timesheet(db: Database, portal_id: int) -> MonthTimesheet:
    async with db.unit_of_work() as uow:
        portal = await uow.portals.get(portal_id)
        assert portal is not None
        calendar = await portal_calendar(uow, portal, country="RU", start=FIRST, end=LAST)
        return await gather_timesheet(
            uow, portal, year=YEAR, month=MONTH, calendar=calendar, now=NOW
        )


async def per_person(
    db: Database, portal_id: int
) -> tuple[dict[object, tuple[object, ...]], dict[int, int]]:
    """The grid and late days, person by person through the domain path."""
    async with db.unit_of_work() as uow:
        portal = await uow.portals.get(portal_id)
        assert portal is not None
        calendar = await portal_calendar(uow, portal, country="RU", start=FIRST, end=LAST)
        builder = TimesheetBuilder(
            YEAR, MONTH, calendar, today=NOW.astimezone(ZoneInfo(portal.timezone)).date()
        )
        late: dict[int, int] = {}
        for e in await uow.employees.all(portal_id):
            person = await person_for(uow, portal, e)
            plan = await plan_for(uow, portal, person, start=FIRST, end=LAST, country="RU")
            since = local_day_bounds(FIRST, person.tz)[0]
            until = min(local_day_bounds(LAST, person.tz)[1] + timedelta(hours=12), NOW)
            rows = await uow.marks.standing(e.id, since=since, until=until)
            builder.add_employee(e.id)
            late[e.id] = 0
            for d in calendar.month_days(YEAR, MONTH):
                builder.add_expectation(e.id, d, plan.expected(d, person.tz))
            dates = set()
            for day in assemble([to_domain(r) for r in rows], person.tz, now=NOW).days:
                builder.add_work_day(e.id, day, person.tz)
                expected = plan.expected(day.local_date, person.tz)
                if FIRST <= day.local_date <= LAST and late_by(day, expected) is not None:
                    dates.add(day.local_date)
            late[e.id] = len(dates)
        sheet = builder.build()
        grid = {
            line.employee_id: (line.cells, line.minutes_worked, line.night_minutes, line.norm_hours)
            for line in sheet.lines
        }
        return grid, late


async def test_the_bulk_timesheet_equals_the_per_person_domain_path(
    db: tuple[Database, int, list[int]],
) -> None:
    database, portal_id, ids = db
    report = await timesheet(database, portal_id)
    grid, late = await per_person(database, portal_id)
    bulk = {
        line.employee_id: (line.cells, line.minutes_worked, line.night_minutes, line.norm_hours)
        for s in report.sections
        for line in s.timesheet.lines
    }
    assert set(bulk) == set(ids)
    assert bulk == grid
    assert {i: report.people[i].late_days for i in ids} == late
    # The data has what the test is about: night work, late days, an open day at "now".
    assert any(v[2] > 0 for v in bulk.values())
    assert any(late.values())
    assert any(c.code is None for v in bulk.values() for c in v[0])
    # Each rostered shift's norm is its length less its own break, else its schedule's.
    norms = {n: bulk[ids[n]][3] for n in (3, 7, 11, 15)}
    assert norms == pytest.approx(
        {3: rostered_norm(30), 7: rostered_norm(30), 11: rostered_norm(60), 15: rostered_norm(60)}
    )
    assert rostered_norm(30) != rostered_norm(60)


def rostered_norm(schedule_break: int) -> float:
    """The month's norm of a `night_roster` person whose schedule has `schedule_break`."""
    d, i, minutes = FIRST - timedelta(days=1), 0, 0
    while d <= LAST:
        if d.weekday() < 5:
            own = OWN_BREAKS[i % len(OWN_BREAKS)]
            if d >= FIRST:
                minutes += 8 * 60 - (schedule_break if own is None else own)
            i += 1
        d += timedelta(days=1)
    return minutes / 60


async def test_tracks_hold_the_standing_marks_in_order_to_the_microsecond(
    db: tuple[Database, int, list[int]],
) -> None:
    database, portal_id, ids = db
    since = datetime(2025, 10, 3, tzinfo=UTC)
    until = datetime(2025, 10, 17, 12, tzinfo=UTC)
    async with database.unit_of_work() as uow:
        reports = ReportingRepository(uow.session)
        everyone = await reports.standing_mark_tracks(portal_id, since=since, until=until)
        some = await reports.standing_mark_tracks(
            portal_id, since=since, until=until, employee_ids=ids[:5]
        )
        assert set(everyone) == set(ids)
        assert some == {i: everyone[i] for i in ids[:5]}
        superseded = 0
        for employee_id in ids:
            rows = await uow.marks.standing(employee_id, since=since, until=until)
            expected = track_of(DomainMark(MarkKind(r.kind), r.at) for r in rows)
            assert (everyone[employee_id].codes, list(everyone[employee_id].instants)) == (
                expected.codes,
                list(expected.instants),
            )
            superseded += sum(1 for r in rows if r.supersedes_mark_id is not None)
        assert superseded > 0  # corrections are in the window, the marks they replace are not
        tie = [
            everyone[i].codes[list(everyone[i].instants).index(to_micros(TIE)) :][:2] for i in ids
        ]
        assert tie == ["io"] * len(ids)  # same microsecond: in the order they were stored
