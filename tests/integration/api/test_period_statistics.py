"""`services.api_reports.gather_period` on real SQLite and PostgreSQL: which marks make a period's
days (the window around it), and the presence verdicts its violations read
(`ReportingRepository.located_marks`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support.rows import (
    employee_row,
    flushed,
    mark_row,
    migrated_with,
    portal_row,
    work_day_rows,
)
from timebot.domain.violations import ViolationKind
from timebot.services.api_reports import PersonPeriod, gather_period
from timebot.storage import Database
from timebot.storage.repositories.reporting import ReportingRepository

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)  # Wednesday 12:00 in Moscow
MONDAY = date(2026, 11, 9)
FRIDAY = date(2026, 11, 13)


def msk(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(d, time(hour, minute), tzinfo=MSK).astimezone(UTC)


@dataclass
class Portal:
    db: Database
    id: int
    other_id: int


@pytest.fixture
async def portal(database_url: str) -> AsyncIterator[Portal]:
    db, portal_id = await migrated_with(database_url, portal_row(member_id="stats"))
    async with db.unit_of_work() as uow:
        other = await flushed(uow, portal_row(member_id="other"))
        await uow.commit()
        other_id = other.id
    try:
        yield Portal(db, portal_id, other_id)
    finally:
        await db.dispose()


async def person(portal: Portal, user_id: int, *marks: tuple[str, datetime]) -> int:
    async with portal.db.unit_of_work() as uow:
        employee = await flushed(uow, employee_row(portal.id, user_id, name=f"User {user_id}"))
        uow.session.add_all(mark_row(portal.id, employee.id, k, at) for k, at in marks)
        await uow.commit()
        return employee.id


async def period(
    portal: Portal, employee_ids: list[int], first: date, last: date, *, violations: bool = False
) -> list[PersonPeriod]:
    async with portal.db.unit_of_work() as uow:
        row = await uow.portals.get(portal.id)
        assert row is not None
        employees = [e for e in await uow.employees.all(portal.id) if e.id in employee_ids]
        return await gather_period(
            uow,
            row,
            employees,
            first=first,
            last=last,
            now=NOW,
            calendar=None,
            with_violations=violations,
        )


async def test_a_day_closed_the_next_afternoon_counts_to_its_check_out(portal: Portal) -> None:
    # In on Friday 20:00, out on Saturday 14:00: more than 12 hours past the period's end.
    night = await person(
        portal, 1, ("check_in", msk(FRIDAY, 20)), ("check_out", msk(FRIDAY + timedelta(1), 14))
    )
    (found,) = await period(portal, [night], MONDAY, FRIDAY)
    assert found.worked == timedelta(hours=18)  # not counted on to NOW as an open day
    assert (found.open_days, found.days_worked) == (0, 1)
    assert found.days[-1].last_out == msk(FRIDAY + timedelta(1), 14)


async def test_a_day_left_open_before_the_period_takes_none_of_its_check_ins(
    portal: Portal,
) -> None:
    # Checked in on Thursday the 5th and never out; the bot took new check-ins from Monday.
    marks = [("check_in", msk(date(2026, 11, 5), 9))]
    employee = await person(portal, 2, *marks)
    async with portal.db.unit_of_work() as uow:
        for n in range(5):
            uow.session.add_all(
                work_day_rows(portal.id, employee, MONDAY + timedelta(n), MSK, time(9))
            )
        await uow.commit()
    (found,) = await period(portal, [employee], MONDAY, FRIDAY)
    assert (found.days_worked, found.worked, found.open_days) == (5, timedelta(hours=40), 0)


async def test_located_marks_are_the_standing_ones_with_a_verdict(portal: Portal) -> None:
    async with portal.db.unit_of_work() as uow:
        a = await flushed(uow, employee_row(portal.id, 3))
        b = await flushed(uow, employee_row(portal.id, 4))
        stranger = await flushed(uow, employee_row(portal.other_id, 3))
        outside = mark_row(
            portal.id,
            a.id,
            "check_in",
            msk(MONDAY, 9),
            location_verdict="outside",
            distance_m=2100.0,
        )
        plain = mark_row(portal.id, a.id, "check_out", msk(MONDAY, 18))
        replaced = await flushed(
            uow,
            mark_row(
                portal.id,
                a.id,
                "check_in",
                msk(MONDAY + timedelta(1), 9),
                location_verdict="uncertain",
            ),
        )
        correction = mark_row(
            portal.id,
            a.id,
            "check_in",
            msk(MONDAY + timedelta(1), 8, 30),
            source="correction",
            supersedes_mark_id=replaced.id,
            location_verdict="inside",
        )
        flagged = mark_row(
            portal.id,
            a.id,
            "check_out",
            msk(MONDAY + timedelta(1), 18),
            location_verdict="uncertain",
            flags=["implausible_speed"],
        )
        later = mark_row(
            portal.id, a.id, "check_in", msk(MONDAY + timedelta(7), 9), location_verdict="outside"
        )
        theirs = mark_row(portal.id, b.id, "check_in", msk(MONDAY, 9), location_verdict="inside")
        foreign = mark_row(
            portal.other_id, stranger.id, "check_in", msk(MONDAY, 9), location_verdict="outside"
        )
        uow.session.add_all([outside, plain, correction, flagged, later, theirs, foreign])
        await uow.commit()
        a_id, b_id = a.id, b.id
        expected = {a_id: [outside.id, correction.id, flagged.id], b_id: [theirs.id]}

    async with portal.db.unit_of_work() as uow:
        found = await ReportingRepository(uow.session).located_marks(
            portal.id, since=msk(MONDAY, 0), until=msk(MONDAY + timedelta(5), 0)
        )
        only_a = await ReportingRepository(uow.session).located_marks(
            portal.id,
            since=msk(MONDAY, 0),
            until=msk(MONDAY + timedelta(5), 0),
            employee_ids=[a_id],
        )
    assert {e: [m.id for m in marks] for e, marks in found.items()} == expected
    assert list(only_a) == [a_id]
    first = only_a[a_id][0]
    assert (first.at, first.location_verdict, first.distance_m, first.flags) == (
        msk(MONDAY, 9),
        "outside",
        2100.0,
        [],
    )
    assert only_a[a_id][2].flags == ["implausible_speed"]

    (quiet,) = await period(portal, [a_id], MONDAY, MONDAY + timedelta(1))
    assert quiet.violations == ()
    (checked,) = await period(portal, [a_id], MONDAY, MONDAY + timedelta(1), violations=True)
    located = [
        (v.kind, v.local_date, v.detail)
        for v in checked.violations
        if v.kind in (ViolationKind.OUTSIDE_GEOFENCE, ViolationKind.SUSPICIOUS_LOCATION)
    ]
    assert located == [
        (ViolationKind.OUTSIDE_GEOFENCE, MONDAY, None),
        (ViolationKind.SUSPICIOUS_LOCATION, MONDAY + timedelta(1), "uncertain,implausible_speed"),
    ]


async def test_people_who_left_are_listed_only_with_marks_around_the_period(
    portal: Portal,
) -> None:
    staying = await person(portal, 6)
    # Left after a night shift that began the evening before the period.
    night = await person(
        portal,
        7,
        ("check_in", msk(MONDAY - timedelta(1), 22)),
        ("check_out", msk(MONDAY, 6)),
    )
    gone = await person(portal, 8, ("check_in", msk(MONDAY - timedelta(7), 9)))
    async with portal.db.unit_of_work() as uow:
        for row in await uow.employees.all(portal.id):
            row.active = row.id == staying
        await uow.commit()
    everyone = [staying, night, gone]
    asked = await period(portal, everyone, MONDAY, FRIDAY)
    assert [p.employee_id for p in asked] == everyone
    async with portal.db.unit_of_work() as uow:
        row = await uow.portals.get(portal.id)
        assert row is not None
        listed = await gather_period(
            uow,
            row,
            [e for e in await uow.employees.all(portal.id) if e.id in everyone],
            first=MONDAY,
            last=FRIDAY,
            now=NOW,
            calendar=None,
            with_violations=True,
            departed_if_marked=True,
        )
    assert [p.employee_id for p in listed] == [staying, night]
    assert listed[1].worked == timedelta()  # the shift belongs to the Sunday


async def test_nobody_asked_for_reads_nothing(portal: Portal) -> None:
    assert await period(portal, [], MONDAY, FRIDAY) == []
    employee = await person(portal, 5)
    with pytest.raises(ValueError, match="ends before it starts"):
        await period(portal, [employee], FRIDAY, MONDAY)
