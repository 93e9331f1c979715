"""Keeping time across awkward days, on real databases: a night shift, a DST change, a person
whose zone differs from the office's, back-dated marks and corrections' "standing" marks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support.rows import (
    assignment_row,
    employee_row,
    flushed,
    migrated_with,
    office_row,
    portal_row,
    schedule_row,
    shift_row,
    stored_person,
)
from timebot.bot.people import plan_for
from timebot.domain.marks import MarkKind, WorkState
from timebot.domain.workday import Refusal
from timebot.services.tracking import (
    Person,
    Recorded,
    Refused,
    day_view,
    record_mark,
    summarize_days,
)
from timebot.storage import Database
from timebot.storage.tables import EmployeeOffice


@dataclass
class World:
    db: Database
    portal_id: int

    async def employee(
        self, user_id: int, *, tz: str | None = None, office_tz: str | None = None
    ) -> int:
        async with self.db.unit_of_work() as uow:
            e = await flushed(
                uow, employee_row(self.portal_id, user_id, tz=tz, all_offices=office_tz is None)
            )
            if office_tz is not None:
                office = await flushed(uow, office_row(self.portal_id, timezone=office_tz))
                uow.session.add(EmployeeOffice(employee_id=e.id, office_id=office.id))
            await uow.commit()
            return e.id

    async def person(self, employee_id: int) -> Person:
        async with self.db.unit_of_work() as uow:
            _, _, person = await stored_person(uow, self.portal_id, employee_id)
            return person

    async def act(
        self, employee_id: int, kind: MarkKind, now: datetime, **kw: object
    ) -> Recorded | Refused:
        async with self.db.unit_of_work() as uow:
            portal, _, person = await stored_person(uow, self.portal_id, employee_id)
            today = now.astimezone(person.tz).date()
            plan = await plan_for(
                uow, portal, person, start=today - timedelta(days=3), end=today, country="RU"
            )
            result = await record_mark(uow, person, kind, plan=plan, now=now, **kw)  # type: ignore[arg-type]
            await uow.commit()
            return result

    async def view(self, employee_id: int, now: datetime):  # type: ignore[no-untyped-def]
        async with self.db.unit_of_work() as uow:
            portal, _, person = await stored_person(uow, self.portal_id, employee_id)
            today = now.astimezone(person.tz).date()
            plan = await plan_for(
                uow, portal, person, start=today - timedelta(days=14), end=today, country="RU"
            )
            view = await day_view(uow, person, plan=plan, now=now)
            week = await summarize_days(
                uow, person, plan=plan, first=today - timedelta(days=6), last=today, now=now
            )
            return view, week


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    db, portal_id = await migrated_with(database_url, portal_row())
    try:
        yield World(db, portal_id)
    finally:
        await db.dispose()


async def test_a_night_shift_belongs_to_the_day_it_started(world: World) -> None:
    emp = await world.employee(10)
    async with world.db.unit_of_work() as uow:
        schedule = await flushed(
            uow,
            schedule_row(
                world.portal_id,
                name="Nights",
                kind="shift",
                definition={"break": 30},
                tolerance_min=5,
            ),
        )
        uow.session.add(assignment_row(world.portal_id, schedule.id, employee_id=emp))
        # 22:00 Moscow on Tuesday 10 March until 07:00 on Wednesday.
        uow.session.add(
            shift_row(
                world.portal_id,
                emp,
                datetime(2026, 3, 10, 19, 0, tzinfo=UTC),
                datetime(2026, 3, 11, 4, 0, tzinfo=UTC),
                schedule_id=schedule.id,
            )
        )
        await uow.commit()
    start = datetime(2026, 3, 10, 19, 2, tzinfo=UTC)
    result = await world.act(emp, MarkKind.CHECK_IN, start)
    assert isinstance(result, Recorded)
    assert result.view.expectation is not None
    assert result.view.expectation.minimum == timedelta(hours=8, minutes=30)
    assert result.view.late_by is None  # 2 minutes, within 5
    after_midnight = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)  # 04:00 Wednesday in Moscow
    view, _ = await world.view(emp, after_midnight)
    assert view.state is WorkState.WORKING
    assert view.day is not None
    assert view.day.local_date == date(2026, 3, 10)
    assert view.worked == timedelta(hours=5, minutes=58)
    out = await world.act(emp, MarkKind.CHECK_OUT, datetime(2026, 3, 11, 4, 2, tzinfo=UTC))
    assert isinstance(out, Recorded)
    assert out.view.worked == timedelta(hours=9)
    _, week = await world.view(emp, datetime(2026, 3, 11, 9, 0, tzinfo=UTC))
    by_date = {d.local_date: d for d in week}
    assert by_date[date(2026, 3, 10)].worked == timedelta(hours=9)
    assert by_date[date(2026, 3, 11)].worked == timedelta()  # nothing counted twice


async def test_a_day_across_the_spring_dst_change_counts_real_hours(world: World) -> None:
    # New York moves clocks forward at 02:00 on 8 March 2026: that night has 23 hours.
    emp = await world.employee(11, tz="America/New_York")
    person = await world.person(emp)
    assert person.tz == ZoneInfo("America/New_York")
    check_in = datetime(2026, 3, 7, 22, 0, tzinfo=ZoneInfo("America/New_York"))
    check_out = datetime(2026, 3, 8, 6, 0, tzinfo=ZoneInfo("America/New_York"))
    assert isinstance(await world.act(emp, MarkKind.CHECK_IN, check_in.astimezone(UTC)), Recorded)
    out = await world.act(emp, MarkKind.CHECK_OUT, check_out.astimezone(UTC))
    assert isinstance(out, Recorded)
    # 22:00 → 06:00 on the wall clock is 8 hours, but only 7 passed.
    assert out.view.worked == timedelta(hours=7)
    assert out.view.day is not None
    assert out.view.day.local_date == date(2026, 3, 7)


async def test_zone_comes_from_the_person_then_the_office_then_the_portal(world: World) -> None:
    own = await world.employee(12, tz="Asia/Yekaterinburg", office_tz="Europe/Kaliningrad")
    office = await world.employee(13, office_tz="Asia/Vladivostok")
    portal = await world.employee(14)
    assert (await world.person(own)).tz == ZoneInfo("Asia/Yekaterinburg")
    assert (await world.person(office)).tz == ZoneInfo("Asia/Vladivostok")
    assert (await world.person(portal)).tz == ZoneInfo("Europe/Moscow")
    # 08:30 Moscow on a Monday is 10:30 in Yekaterinburg: late there by 90 minutes (09:00).
    monday_0830_msk = datetime(2026, 3, 2, 5, 30, tzinfo=UTC)
    late = await world.act(own, MarkKind.CHECK_IN, monday_0830_msk)
    on_time = await world.act(portal, MarkKind.CHECK_IN, monday_0830_msk)
    assert isinstance(late, Recorded)
    assert late.view.late_by == timedelta(hours=1, minutes=30)
    assert isinstance(on_time, Recorded)
    assert on_time.view.late_by is None
    # The schedule's 09:00 is the person's 09:00: the Vladivostok one is expected at 23:00 UTC.
    result = await world.act(office, MarkKind.CHECK_IN, datetime(2026, 3, 1, 23, 0, tzinfo=UTC))
    assert isinstance(result, Recorded)
    assert result.view.expectation is not None
    assert result.view.expectation.start == datetime(2026, 3, 1, 23, 0, tzinfo=UTC)


async def test_wrong_state_actions_record_nothing(world: World) -> None:
    emp = await world.employee(15)
    now = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    for kind, reason in [
        (MarkKind.CHECK_OUT, Refusal.ALREADY_OFF),
        (MarkKind.BREAK_START, Refusal.NOT_WORKING),
        (MarkKind.BREAK_END, Refusal.NOT_ON_BREAK),
    ]:
        result = await world.act(emp, kind, now)
        assert isinstance(result, Refused)
        assert result.reason is reason
    assert isinstance(await world.act(emp, MarkKind.CHECK_IN, now), Recorded)
    again = await world.act(emp, MarkKind.CHECK_IN, now + timedelta(minutes=1))
    assert isinstance(again, Refused)
    assert again.reason is Refusal.ALREADY_WORKING
    view, _ = await world.view(emp, now + timedelta(hours=1))
    assert view.day is not None
    assert len(view.day.marks) == 1


async def test_back_dated_marks_must_follow_the_last_one(world: World) -> None:
    emp = await world.employee(16)
    now = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    await world.act(emp, MarkKind.CHECK_IN, now)
    with pytest.raises(ValueError, match="precede"):
        await world.act(
            emp, MarkKind.CHECK_OUT, now + timedelta(hours=9), at=now - timedelta(minutes=1)
        )
    with pytest.raises(ValueError, match="future"):
        await world.act(
            emp, MarkKind.CHECK_OUT, now + timedelta(hours=9), at=now + timedelta(hours=10)
        )
    stated = await world.act(
        emp,
        MarkKind.CHECK_OUT,
        now + timedelta(hours=12),
        at=now + timedelta(hours=9),
        provisional=True,
        flags=("stated_time",),
    )
    assert isinstance(stated, Recorded)
    assert stated.view.day is not None
    assert stated.view.day.provisional
    assert stated.view.worked == timedelta(hours=9)
