"""The reminders job on real SQLite and PostgreSQL, driven by a fixed clock: reminders become
outbox rows once, a forgotten day is closed provisionally once — also with two workers at once —
and the scan reads a fixed number of queries however many people the portal has.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select, update

from tests.support.rows import (
    employee_row,
    flushed,
    migrated_with,
    office_row,
    portal_row,
    stored_person,
)
from timebot.bot.people import person_for
from timebot.bot.tracking import duration
from timebot.domain.clock import FixedClock
from timebot.domain.marks import MarkKind
from timebot.gateway.config import GatewayConfig
from timebot.jobs.reminders import run_reminders, scan_portal
from timebot.services.plans import DEFAULT_SCHEDULE, load_plan
from timebot.services.timesheet import load_people
from timebot.services.tracking import Recorded, record_mark
from timebot.storage import Database
from timebot.storage.tables import AuditEntry, Employee, EmployeeOffice, Mark, OutboxMessage, Portal

MSK = ZoneInfo("Europe/Moscow")
MONDAY = date(2026, 11, 23)
CONFIG = GatewayConfig()


def msk(d: date, hh: int, mm: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=MSK).astimezone(UTC)


@dataclass
class World:
    db: Database
    url: str
    portal_id: int

    async def employee(
        self,
        user_id: int,
        *,
        tz: str | None = None,
        office_tz: str | None = None,
        language: str | None = None,
        active: bool = True,
    ) -> int:
        async with self.db.unit_of_work() as uow:
            e = await flushed(
                uow,
                employee_row(
                    self.portal_id,
                    user_id,
                    tz=tz,
                    language=language,
                    active=active,
                    all_offices=office_tz is None,
                ),
            )
            if office_tz is not None:
                office = office_row(self.portal_id, name=f"Office {user_id}", timezone=office_tz)
                await flushed(uow, office)
                uow.session.add(EmployeeOffice(employee_id=e.id, office_id=office.id))
            await uow.commit()
            return e.id

    async def act(self, employee_id: int, kind: MarkKind, now: datetime) -> None:
        async with self.db.unit_of_work() as uow:
            portal, _, person = await stored_person(uow, self.portal_id, employee_id)
            today = now.astimezone(person.tz).date()
            plan = await load_plan(
                uow,
                portal_id=portal.id,
                employee_id=employee_id,
                department_ids=(),
                tz=person.tz,
                start=today - timedelta(days=3),
                end=today,
                calendar=None,
            )
            assert isinstance(await record_mark(uow, person, kind, plan=plan, now=now), Recorded)
            await uow.commit()

    async def settings(self, **values: Any) -> None:
        async with self.db.unit_of_work() as uow:
            await uow.session.execute(
                update(Portal).where(Portal.id == self.portal_id).values(settings=values)
            )
            await uow.commit()

    async def outbox(self) -> dict[str, dict[str, Any]]:
        """Queued messages by dedupe key."""
        async with self.db.unit_of_work() as uow:
            rows = await uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.portal_id == self.portal_id)
            )
            return {r.dedupe_key or "": r.payload["params"] for r in rows}

    async def marks(self, employee_id: int) -> list[Mark]:
        async with self.db.unit_of_work() as uow:
            rows = await uow.session.scalars(
                select(Mark).where(Mark.employee_id == employee_id).order_by(Mark.at, Mark.id)
            )
            found = list(rows)
            uow.session.expunge_all()  # keep them readable after the session ends
            return found

    async def run(self, at: datetime) -> dict[str, int]:
        return (await run_reminders(self.db, clock=FixedClock(at), config=CONFIG)).done


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    db, portal_id = await migrated_with(database_url, portal_row(bot_id=77))
    try:
        yield World(db, database_url, portal_id)
    finally:
        await db.dispose()


def buttons(params: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (b["COMMAND"], b.get("COMMAND_PARAMS", ""))
        for b in params["fields"]["keyboard"]["BUTTONS"]
        if b.get("COMMAND")
    ]


async def test_forgotten_checkout_reminded_once_then_closed_provisionally(world: World) -> None:
    maria = await world.employee(3)
    await world.act(maria, MarkKind.CHECK_IN, msk(MONDAY, 9, 2))

    assert await world.run(msk(MONDAY, 18, 29)) == {}
    assert await world.run(msk(MONDAY, 18, 30)) == {"checkout": 1}
    assert await world.run(msk(MONDAY, 18, 31)) == {}  # the job runs again: nothing new
    queued = await world.outbox()
    key = f"remind:checkout:{maria}:2026-11-23"
    assert list(queued) == [key]
    reminder = queued[key]
    assert reminder["dialogId"] == "3"
    assert reminder["botId"] == 77
    assert "Рабочий день по графику закончился" in reminder["fields"]["message"]
    assert buttons(reminder) == [
        ("stillworking", ""),
        ("leftat", msk(MONDAY, 18).isoformat()),
        ("forgot", ""),
    ]
    texts = [b["TEXT"] for b in reminder["fields"]["keyboard"]["BUTTONS"] if b.get("TEXT")]
    assert texts == ["Ещё работаю", "Ушёл в 18:00", "Забыл отметиться"]

    assert await world.run(msk(MONDAY, 21, 59)) == {}
    assert await world.run(msk(MONDAY, 22, 0)) == {"autoclose": 1}
    assert await world.run(msk(MONDAY, 22, 5)) == {}
    marks = await world.marks(maria)
    assert [m.kind for m in marks] == ["check_in", "check_out"]
    out = marks[-1]
    assert out.at == msk(MONDAY, 18)
    assert out.recorded_at == msk(MONDAY, 22)
    assert out.provisional is True
    assert out.flags == ["auto_closed"]
    assert out.source == "auto_close"
    told = (await world.outbox())[f"remind:autoclose:{maria}:2026-11-23"]
    assert "закрыт автоматически" in told["fields"]["message"]
    worked = duration(timedelta(hours=8, minutes=58), "ru")  # 09:02–18:00
    assert f"Отработано: {worked}." in told["fields"]["message"]
    async with world.db.unit_of_work() as uow:
        audit = await uow.session.scalars(
            select(AuditEntry.action).where(AuditEntry.portal_id == world.portal_id)
        )
        assert "mark.auto_closed" in list(audit)


async def test_still_working_answer_snoozes_and_moves_the_close(world: World) -> None:
    ivan = await world.employee(4, language="en")
    await world.act(ivan, MarkKind.CHECK_IN, msk(MONDAY, 9, 0))
    assert await world.run(msk(MONDAY, 18, 30)) == {"checkout": 1}
    async with world.db.unit_of_work() as uow:  # what the "Still working" button leaves behind
        uow.audit.record(
            portal_id=world.portal_id,
            at=msk(MONDAY, 18, 45),
            actor="user:4",
            action="reminder.still_working",
            entity="employee",
            entity_id=ivan,
        )
        await uow.commit()
    assert await world.run(msk(MONDAY, 19, 44)) == {}
    assert await world.run(msk(MONDAY, 19, 45)) == {"checkout": 1}
    assert f"remind:checkout:{ivan}:2026-11-23:1" in await world.outbox()
    assert await world.run(msk(MONDAY, 22, 0)) == {}  # the cut-off moved to 22:45
    assert await world.run(msk(MONDAY, 22, 45)) == {"autoclose": 1}
    out = (await world.marks(ivan))[-1]
    assert out.kind == "check_out"
    assert out.at == msk(MONDAY, 18, 45)  # vouched for until the answer
    message = (await world.outbox())[f"remind:autoclose:{ivan}:2026-11-23"]["fields"]["message"]
    assert "closed automatically" in message  # in the person's language


async def test_morning_reminder_only_where_the_portal_wants_it(world: World) -> None:
    came = await world.employee(2)
    late = await world.employee(3)
    gone = await world.employee(5, active=False)
    await world.act(came, MarkKind.CHECK_IN, msk(MONDAY, 8, 55))
    assert await world.run(msk(MONDAY, 9, 30)) == {}  # off by default
    await world.settings(remind_checkin_after_minutes=15)
    assert await world.run(msk(MONDAY, 9, 14)) == {}
    assert await world.run(msk(MONDAY, 9, 15)) == {"checkin": 1}
    assert await world.run(msk(MONDAY, 10, 0)) == {}
    queued = await world.outbox()
    assert list(queued) == [f"remind:checkin:{late}:2026-11-23"]
    assert buttons(queued[f"remind:checkin:{late}:2026-11-23"])[0] == ("checkin", "")
    assert gone not in (late, came)
    # Saturday is a day off: nobody is expected, nobody is reminded.
    assert await world.run(msk(date(2026, 11, 28), 10, 0)) == {}
    # Tuesday: a new day, a new reminder (and Monday's still open day of `came` gets closed).
    done = await world.run(msk(MONDAY + timedelta(days=1), 9, 20))
    assert done == {"checkin": 1, "autoclose": 1}


async def test_two_workers_at_once_close_and_remind_exactly_once(world: World) -> None:
    people = [await world.employee(100 + i) for i in range(6)]
    for emp in people[:3]:
        await world.act(emp, MarkKind.CHECK_IN, msk(MONDAY, 9, 0))
    for emp in people[3:]:
        await world.act(emp, MarkKind.CHECK_IN, msk(MONDAY, 13, 0))
    await world.settings(auto_close_after_minutes=0, remind_checkout_after_minutes=0)
    # 18:00 sharp: with a zero cut-off every open day closes now.
    other = Database.from_url(world.url)
    try:
        clock = FixedClock(msk(MONDAY, 18, 0))
        results = await asyncio.gather(
            run_reminders(world.db, clock=clock, config=CONFIG),
            run_reminders(other, clock=clock, config=CONFIG),
            run_reminders(other, clock=clock, config=CONFIG),
        )
    finally:
        await other.dispose()
    assert sum(r.done.get("autoclose", 0) for r in results) == 6
    for emp in people:
        kinds = [m.kind for m in await world.marks(emp)]
        assert kinds == ["check_in", "check_out"], emp
    assert len(await world.outbox()) == 6


async def test_the_scan_reads_the_same_few_queries_for_any_headcount(world: World) -> None:
    async def statements_for(headcount: int, first_user: int) -> int:
        for i in range(headcount):
            emp = await world.employee(first_user + i, office_tz="Asia/Omsk" if i % 2 else None)
            await world.act(emp, MarkKind.CHECK_IN, msk(MONDAY, 9, i % 50))
        with count_statements(world.db) as counted:
            await scan_portal(world.db, world.portal_id, now=msk(MONDAY, 12), country="RU")
        return counted[0]

    await world.settings(remind_checkin_after_minutes=15)
    few = await statements_for(3, 1000)
    many = await statements_for(30, 2000)
    assert few == many, (few, many)
    assert few <= 12


@contextmanager
def count_statements(db: Database) -> Iterator[list[int]]:
    counted = [0]

    def before(*_: Any) -> None:
        counted[0] += 1

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    try:
        yield counted
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", before)


async def test_batched_zones_match_person_for(world: World) -> None:
    ids = [
        await world.employee(1, tz="Asia/Yekaterinburg", office_tz="Europe/Kaliningrad"),
        await world.employee(2, office_tz="Asia/Vladivostok"),
        await world.employee(3),
        await world.employee(4, tz="Not/AZone"),
    ]
    async with world.db.unit_of_work() as uow:
        portal = await uow.portals.get(world.portal_id)
        assert portal is not None
        employees = [await uow.session.get(Employee, i) for i in ids]
        batched = await load_people(uow, portal, [e for e in employees if e is not None])
        for e in employees:
            assert e is not None
            assert batched[e.id] == await person_for(uow, portal, e)
    assert batched[ids[1]].tz == ZoneInfo("Asia/Vladivostok")
    # Several offices in different zones: the portal's zone for those allowed everywhere.
    assert batched[ids[2]].tz == ZoneInfo("Europe/Moscow")
    assert DEFAULT_SCHEDULE.expected_for(MONDAY, MSK, None) is not None
