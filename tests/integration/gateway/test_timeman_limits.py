"""Importing people's work-time limits from Bitrix24 (`timeman.settings`) during the directory
sync, against the sandbox portal over real HTTP, on SQLite and PostgreSQL: off by default,
fixed and flexible schedules, a hand-made assignment wins, unchanged limits change nothing,
and changed ones start a new assignment."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.integration.gateway.webhook import WebhookSetup, running_sandbox, webhook_setup
from timebot.gateway.directory import SyncResult, sync_directory
from timebot.gateway.timeman_limits import (
    IMPORTED_FROM,
    TIMEMAN_SETTINGS_IMPORT,
    TimemanLimits,
    parse_limits,
    schedule_of,
)
from timebot.sandbox import Portal as SandboxPortal
from timebot.sandbox.state import TimemanSettings
from timebot.services.plans import load_plan
from timebot.storage.repositories.people import EmployeeRepository
from timebot.storage.tables import Schedule, ScheduleAssignment

START = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)  # Monday 09:00 in Moscow
MSK = ZoneInfo("Europe/Moscow")


class Setup(WebhookSetup):
    async def sync(self) -> SyncResult:
        return await sync_directory(self.database, self.client, self.portal_id, clock=self.clock)

    async def turn_on(self) -> None:
        async with self.database.unit_of_work() as uow:
            portal = await uow.portals.get(self.portal_id)
            assert portal is not None
            portal.settings = {**(portal.settings or {}), TIMEMAN_SETTINGS_IMPORT: True}
            await uow.commit()

    async def employee_id(self, bitrix_user_id: int) -> int:
        async with self.database.unit_of_work() as uow:
            row = await EmployeeRepository(uow.session).by_bitrix_id(self.portal_id, bitrix_user_id)
            assert row is not None
            return row.id

    async def assignments(self) -> list[tuple[int | None, date, str, dict[str, Any]]]:
        async with self.database.unit_of_work() as uow:
            rows = await uow.session.execute(
                select(ScheduleAssignment, Schedule)
                .join(Schedule, Schedule.id == ScheduleAssignment.schedule_id)
                .order_by(ScheduleAssignment.id)
            )
            return [(a.target_id, a.valid_from, s.kind, dict(s.definition)) for a, s in rows]

    async def expected(self, bitrix_user_id: int, d: date) -> Any:
        employee_id = await self.employee_id(bitrix_user_id)
        async with self.database.unit_of_work() as uow:
            plan = await load_plan(
                uow,
                portal_id=self.portal_id,
                employee_id=employee_id,
                department_ids=(),
                tz=MSK,
                start=d,
                end=d,
                calendar=None,
            )
            return plan.expected(d, MSK)


@pytest.fixture
def sandbox() -> Iterator[SandboxPortal]:
    with running_sandbox() as portal:
        yield portal


@pytest.fixture
async def setup(database_url: str, sandbox: SandboxPortal) -> AsyncIterator[Setup]:
    async with webhook_setup(Setup, database_url, sandbox, "limits-test", START) as setup:
        yield setup


def limits(**fields: Any) -> TimemanSettings:
    return TimemanSettings(**{"max_start": "09:00:00", "min_finish": "18:00:00", **fields})


async def test_limits_are_not_read_unless_the_portal_asks(setup: Setup) -> None:
    setup.sandbox.reset_stats()
    result = await setup.sync()
    assert result.schedules_imported == 0
    assert setup.sandbox.stats.batch_commands == 2  # department.get and user.get only
    assert await setup.assignments() == []


async def test_each_persons_limits_become_their_schedule(setup: Setup) -> None:
    people = [u.id for u in setup.sandbox.state.employees()]
    office, free, long_day, untracked, *_ = people
    state = setup.sandbox.state
    state.users[office].timeman = limits(min_duration="08:00:00")
    state.users[free].timeman = limits(free=True, min_duration="07:30:00")
    state.users[long_day].timeman = limits(min_finish="17:00:00", min_duration="09:00:00")
    state.users[untracked].timeman = limits(enabled=False)
    await setup.turn_on()
    setup.sandbox.reset_stats()

    result = await setup.sync()
    assert result.schedules_imported == len(people) - 1  # all but the untracked one
    assert setup.sandbox.stats.batch_commands == 2 + len(people)
    found = {
        target: (kind, definition) for target, _, kind, definition in await setup.assignments()
    }
    assert await setup.employee_id(untracked) not in found
    kind, definition = found[await setup.employee_id(office)]
    assert kind == "fixed"
    assert definition["week"][0] == {"start": "09:00", "end": "18:00", "break": 60}
    assert definition["week"][5:] == [None, None]
    assert definition[IMPORTED_FROM] == "timeman.settings"

    monday = START.astimezone(MSK).date()
    expected = await setup.expected(office, monday)
    assert expected.start == datetime(2025, 3, 3, 9, tzinfo=MSK)
    assert expected.latest_start == expected.start  # later than UF_TM_MAX_START is late
    assert expected.minimum == timedelta(hours=8)
    flexible = await setup.expected(free, monday)
    assert (flexible.schedule_kind, flexible.minimum, flexible.core_start) == (
        "flexible",
        timedelta(hours=7, minutes=30),
        None,
    )
    core = await setup.expected(long_day, monday)
    assert (core.schedule_kind, core.minimum) == ("flexible", timedelta(hours=9))
    assert core.core_start == datetime(2025, 3, 3, 9, tzinfo=MSK)
    assert core.core_end == datetime(2025, 3, 3, 17, tzinfo=MSK)
    assert await setup.expected(office, monday + timedelta(days=5)) is None  # Saturday


async def test_a_hand_made_assignment_wins_and_resyncs_change_only_what_changed(
    setup: Setup,
) -> None:
    people = [u.id for u in setup.sandbox.state.employees()]
    chosen, changing, *_ = people
    await setup.sync()
    chosen_id = await setup.employee_id(chosen)
    async with setup.database.unit_of_work() as uow:
        schedule = Schedule(
            portal_id=setup.portal_id, name="Своё", kind="flexible", definition={}, created_at=START
        )
        uow.session.add(schedule)
        await uow.flush()
        uow.session.add(
            ScheduleAssignment(
                portal_id=setup.portal_id,
                schedule_id=schedule.id,
                scope="employee",
                target_id=chosen_id,
                valid_from=date(2025, 1, 1),
                created_at=START,
            )
        )
        await uow.commit()
    await setup.turn_on()

    first = await setup.sync()
    assert first.schedules_imported == len(people) - 1
    before = await setup.assignments()
    hand = [a for a in before if a[0] == chosen_id]
    assert [a[3] for a in hand] == [{}]  # only the administrator's

    again = await setup.sync()
    assert again.schedules_imported == 0
    assert await setup.assignments() == before

    setup.clock.advance(timedelta(days=1))
    setup.sandbox.state.users[changing].timeman = limits(
        max_start="10:00:00", min_finish="19:00:00"
    )
    changed = await setup.sync()
    assert changed.schedules_imported == 1
    own = [a for a in await setup.assignments() if a[0] == await setup.employee_id(changing)]
    assert [(a[1], a[3]["week"][0]["start"]) for a in own] == [
        (date(2025, 3, 3), "09:15"),  # the sandbox's default limits, kept for the past
        (date(2025, 3, 4), "10:00"),
    ]


def test_limits_are_read_leniently_and_mapped_as_bitrix24_means_them() -> None:
    record = {
        "UF_TIMEMAN": True,
        "UF_TM_FREE": False,
        "UF_TM_MAX_START": "09:15:00",
        "UF_TM_MIN_FINISH": "17:45:00",
        "UF_TM_MIN_DURATION": "08:00:00",
        "UF_TM_ALLOWED_DELTA": "00:15:00",
        "ADMIN": True,
    }
    parsed = parse_limits(record)
    assert parsed == TimemanLimits(True, False, 9 * 60 + 15, 17 * 60 + 45, 8 * 60)
    assert schedule_of(parsed) == (
        "fixed",
        {
            "week": [{"start": "09:15", "end": "17:45", "break": 30}] * 5 + [None, None],
            IMPORTED_FROM: "timeman.settings",
            "week_hours": 40,
            "follow_calendar": True,
        },
    )
    assert parse_limits({**record, "UF_TIMEMAN": "N", "UF_TM_FREE": "Y"}) == TimemanLimits(
        False, True, 9 * 60 + 15, 17 * 60 + 45, 8 * 60
    )
    for broken in ("", "25:00:00", "9.15", None, "aa:bb"):
        assert parse_limits({**record, "UF_TM_MAX_START": broken}) is None
    assert parse_limits(["not", "a", "record"]) is None
