"""Directory sync against the sandbox portal over real HTTP: employees, departments, heads and
time zones mirrored from `user.get` / `department.get`, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.integration.gateway.webhook import WebhookSetup, running_sandbox, webhook_setup
from timebot.bitrix import BitrixError, EventUser
from timebot.gateway.directory import (
    DIRECTORY_SYNC_FAILED_AT,
    DIRECTORY_SYNCED_AT,
    _apply,
    ensure_employee,
    parse_user,
    request_directory_sync,
    sync_directory,
    sync_due,
)
from timebot.sandbox import Portal as SandboxPortal
from timebot.sandbox.state import User
from timebot.storage.repositories.people import DepartmentRepository, EmployeeRepository
from timebot.storage.tables import AuditEntry, Department, Employee, Portal

START = datetime(2025, 3, 3, 6, 0, tzinfo=UTC)


class Setup(WebhookSetup):
    async def sync(self) -> Any:
        return await sync_directory(self.database, self.client, self.portal_id, clock=self.clock)

    async def employees(self) -> dict[int, Employee]:
        async with self.database.unit_of_work() as uow:
            rows = await EmployeeRepository(uow.session).all(self.portal_id)
            # Leaving the unit of work rolls back and expires the rows: detach them loaded.
            uow.session.expunge_all()
        return {e.bitrix_user_id: e for e in rows}

    async def heads_of(self, bitrix_user_id: int) -> list[int]:
        async with self.database.unit_of_work() as uow:
            employee = await EmployeeRepository(uow.session).by_bitrix_id(
                self.portal_id, bitrix_user_id
            )
            assert employee is not None
            return await DepartmentRepository(uow.session).heads_of(self.portal_id, employee)

    async def snapshot(self, *, with_sync_times: bool = True) -> dict[str, Any]:
        """Every row the sync may touch, as plain data."""
        async with self.database.unit_of_work() as uow:
            employees = (await uow.session.execute(select(Employee))).scalars().all()
            departments = (await uow.session.execute(select(Department))).scalars().all()
            portal = await uow.portals.get(self.portal_id)
            assert portal is not None
            audits = await uow.session.scalar(select(func.count(AuditEntry.id)))
            skip = set() if with_sync_times else {"synced_at"}

            def plain(row: Any) -> dict[str, Any]:
                return {
                    c.key: getattr(row, c.key)
                    for c in row.__mapper__.column_attrs
                    if c.key not in skip
                }

            return {
                "employees": sorted((plain(e) for e in employees), key=lambda r: r["id"]),
                "departments": sorted((plain(d) for d in departments), key=lambda r: r["id"]),
                "settings": dict(portal.settings) if with_sync_times else None,
                "audits": audits if with_sync_times else None,
            }


@pytest.fixture
def sandbox() -> Iterator[SandboxPortal]:
    with running_sandbox() as portal:
        yield portal


@pytest.fixture
async def setup(database_url: str, sandbox: SandboxPortal) -> AsyncIterator[Setup]:
    async with webhook_setup(Setup, database_url, sandbox, "directory-test", START) as setup:
        yield setup


async def test_sync_mirrors_people_departments_and_time_zones(setup: Setup) -> None:
    sandbox = setup.sandbox
    sandbox.state.users[10].time_zone = "Mars/Olympus"  # not an IANA zone: portal default
    sandbox.reset_stats()
    result = await setup.sync()

    people = sandbox.state.employees()
    assert result.employees == len(people)
    assert result.created == len(people)
    assert result.departments == len(sandbox.state.departments)
    assert (result.updated, result.deactivated) == (0, 0)
    # Both lists fit on one page each: one HTTP request, a batch of two commands.
    assert sandbox.stats.requests == 1
    assert sandbox.stats.batch_commands == 2

    employees = await setup.employees()
    assert set(employees) == {u.id for u in people}
    for user in people:
        row = employees[user.id]
        assert row.active
        assert row.name == user.full_name
        assert (row.first_name, row.last_name, row.email) == (
            user.first_name,
            user.last_name,
            user.email,
        )
        assert row.department_ids == user.departments
        assert row.synced_at == START
        assert row.created_at == START
        expected_zone = None if user.id == 10 or not user.time_zone else user.time_zone
        assert row.timezone == expected_zone
    assert employees[9].timezone == "Asia/Yekaterinburg"
    assert employees[3].timezone is None  # "" = the portal's zone

    async with setup.database.unit_of_work() as uow:
        departments = await DepartmentRepository(uow.session).all(setup.portal_id)
        portal = await uow.portals.get(setup.portal_id)
        assert portal is not None
        assert portal.settings[DIRECTORY_SYNCED_AT] == START.isoformat()
        audit = (
            (
                await uow.session.execute(
                    select(AuditEntry).where(AuditEntry.action == "directory.synced")
                )
            )
            .scalars()
            .one()
        )
        assert audit.details["created"] == len(people)
        mirrored = {(d.bitrix_id, d.name, d.parent_bitrix_id, d.head_user_id) for d in departments}
    assert mirrored == {
        (d.id, d.name, d.parent, d.head) for d in sandbox.state.departments.values()
    }

    # Managers: the department's head; a head reports to the parent department's head.
    assert await setup.heads_of(3) == [2]  # sales manager → head of sales
    assert await setup.heads_of(2) == [1]  # head of sales → head of the company
    assert await setup.heads_of(7) == [6]  # developer → head of backend
    assert await setup.heads_of(6) == [5]  # head of backend → head of development
    assert await setup.heads_of(10) == [9]
    assert await setup.heads_of(1) == []  # the head of the root has no manager


async def test_heads_walk_up_past_the_same_person_and_cover_every_department(
    setup: Setup,
) -> None:
    state = setup.sandbox.state
    state.departments[4].head = 5  # the CTO heads development and backend
    state.users[5].departments = [4]
    state.users[8].departments = [4, 2]  # a developer who also works for sales
    state.users[3].departments = [2, 5]
    await setup.sync()
    assert await setup.heads_of(5) == [1]  # backend (self) → development (self) → company
    assert await setup.heads_of(7) == [5]
    assert await setup.heads_of(8) == [5, 2]
    assert await setup.heads_of(3) == [2, 9]
    state.users[2].departments = [2, 1]  # heads sales, works in the root: only the CEO, once
    await setup.sync()
    assert await setup.heads_of(2) == [1]


async def test_second_sync_changes_nothing(setup: Setup) -> None:
    await setup.sync()
    before = await setup.snapshot(with_sync_times=False)
    setup.clock.advance(timedelta(hours=1))
    again = await setup.sync()
    assert not again.changed
    assert (again.created, again.updated, again.deactivated, again.departments_changed) == (
        0,
        0,
        0,
        0,
    )
    assert await setup.snapshot(with_sync_times=False) == before
    employees = await setup.employees()
    assert {e.synced_at for e in employees.values()} == {START + timedelta(hours=1)}


async def test_dismissed_and_removed_people_become_inactive_and_come_back(setup: Setup) -> None:
    await setup.sync()
    state = setup.sandbox.state
    state.users[4].active = False  # dismissed
    removed = state.users.pop(11)  # gone from the answer entirely
    state.users[7].last_name = "Лебедева-Козлова"
    state.departments[3].name = "Разработка ПО"
    del state.departments[5]
    state.users[9].departments = [1]
    state.users[10].departments = [1]
    setup.clock.advance(timedelta(days=1))
    result = await setup.sync()
    assert (result.deactivated, result.updated, result.created) == (2, 3, 0)
    assert result.departments_changed == 2
    employees = await setup.employees()
    assert not employees[4].active
    assert not employees[11].active
    assert employees[4].synced_at == START + timedelta(days=1)
    assert employees[7].name == "Ольга Лебедева-Козлова"
    assert sum(e.active for e in employees.values()) == len(state.employees()) - 1
    async with setup.database.unit_of_work() as uow:
        repo = EmployeeRepository(uow.session)
        active = await repo.active(setup.portal_id)
        assert {e.bitrix_user_id for e in active} == {u.id for u in state.employees() if u.active}
        departments = await DepartmentRepository(uow.session).all(setup.portal_id)
        assert {d.bitrix_id for d in departments} == {1, 2, 3, 4}
    assert await setup.heads_of(10) == [1]

    state.users[4].active = True
    state.users[11] = removed
    back = await setup.sync()
    assert (back.updated, back.deactivated) == (2, 0)
    employees = await setup.employees()
    assert employees[4].active
    assert employees[11].active


async def test_many_people_are_read_page_by_page_in_batches(setup: Setup) -> None:
    state = setup.sandbox.state
    for uid in range(100, 230):  # 11 + 130 people: three pages of user.get
        state.users[uid] = User(id=uid, first_name="Сотрудник", last_name=str(uid), departments=[3])
    setup.sandbox.reset_stats()
    result = await setup.sync()
    assert result.created == len(state.employees()) == 141
    # First pages of both lists in one batch, the other two user pages in a second one.
    assert setup.sandbox.stats.requests == 2
    assert setup.sandbox.stats.batch_commands == 4
    employees = await setup.employees()
    assert employees[229].name == "Сотрудник 229"
    assert employees[229].department_ids == [3]
    assert await setup.heads_of(150) == [5]


async def test_a_portal_failure_changes_nothing_and_raises(setup: Setup) -> None:
    await setup.sync()
    before = await setup.snapshot()
    state = setup.sandbox.state
    state.users[4].active = False
    state.users[3].first_name = "Мария-Луиза"
    setup.sandbox.set_faults(outage_seconds=60)
    setup.clock.advance(timedelta(days=1))
    with pytest.raises(BitrixError):
        await setup.sync()
    assert await setup.snapshot() == before

    # The second page fails after the first arrived: still nothing written.
    setup.sandbox.set_faults(outage_seconds=0)
    for uid in range(100, 160):
        state.users[uid] = User(id=uid, first_name="Новый", last_name=str(uid), departments=[2])
    original_batch = setup.client.batch
    calls = 0

    async def failing_second_batch(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            setup.sandbox.set_faults(outage_seconds=60)
        return await original_batch(*args, **kwargs)

    setup.client.batch = failing_second_batch  # type: ignore[method-assign]
    with pytest.raises(BitrixError):
        await setup.sync()
    assert calls == 2
    assert await setup.snapshot() == before

    setup.sandbox.set_faults(outage_seconds=0)
    setup.client.batch = original_batch  # type: ignore[method-assign]
    result = await setup.sync()
    assert (result.created, result.deactivated) == (60, 1)


async def test_sync_due_honours_the_interval_and_backs_off_after_a_failure(
    setup: Setup,
) -> None:
    kwargs: dict[str, Any] = {"clock": setup.clock, "every": timedelta(days=1)}
    assert await sync_due(setup.database, setup.client, **kwargs) == 1
    assert len(await setup.employees()) == len(setup.sandbox.state.employees())
    setup.clock.advance(timedelta(hours=23))
    assert await sync_due(setup.database, setup.client, **kwargs) == 0
    setup.clock.advance(timedelta(hours=1))
    setup.sandbox.state.users[6].active = False
    assert await sync_due(setup.database, setup.client, **kwargs) == 1
    assert not (await setup.employees())[6].active

    # A failing portal is not hammered: it waits `retry_after` (1 h) before the next try.
    setup.clock.advance(timedelta(days=1))
    setup.sandbox.set_faults(outage_seconds=60)
    assert await sync_due(setup.database, setup.client, **kwargs) == 0
    async with setup.database.unit_of_work() as uow:
        portal = await uow.portals.get(setup.portal_id)
        assert portal is not None
        assert portal.settings[DIRECTORY_SYNC_FAILED_AT] == setup.clock.now().isoformat()
    setup.sandbox.set_faults(outage_seconds=0)
    setup.sandbox.reset_stats()
    setup.clock.advance(timedelta(minutes=30))
    assert await sync_due(setup.database, setup.client, **kwargs) == 0
    assert setup.sandbox.stats.requests == 0
    setup.clock.advance(timedelta(minutes=30))
    assert await sync_due(setup.database, setup.client, **kwargs) == 1
    async with setup.database.unit_of_work() as uow:
        portal = await uow.portals.get(setup.portal_id)
        assert portal is not None
        assert DIRECTORY_SYNC_FAILED_AT not in portal.settings
        assert portal.settings[DIRECTORY_SYNCED_AT] == setup.clock.now().isoformat()

    # Uninstalled portals are left alone.
    async with setup.database.unit_of_work() as uow:
        portal = await uow.portals.get(setup.portal_id)
        assert portal is not None
        portal.status = "uninstalled"
        await uow.commit()
    setup.clock.advance(timedelta(days=2))
    assert await sync_due(setup.database, setup.client, **kwargs) == 0


async def request_sync(setup: Setup) -> None:
    async with setup.database.unit_of_work() as uow:
        portal = await uow.portals.get(setup.portal_id)
        assert portal is not None
        request_directory_sync(portal)
        await uow.commit()


async def test_a_requested_sync_runs_early_once_and_survives_a_race(setup: Setup) -> None:
    kwargs: dict[str, Any] = {"clock": setup.clock, "every": timedelta(days=1)}
    assert await sync_due(setup.database, setup.client, **kwargs) == 1
    setup.clock.advance(timedelta(minutes=5))
    assert await sync_due(setup.database, setup.client, **kwargs) == 0
    await request_sync(setup)  # a new face wrote to the bot
    setup.sandbox.state.users[5].time_zone = "Asia/Yekaterinburg"
    assert await sync_due(setup.database, setup.client, **kwargs) == 1
    assert (await setup.employees())[5].timezone == "Asia/Yekaterinburg"
    assert await sync_due(setup.database, setup.client, **kwargs) == 0

    # A request made while a sync is reading Bitrix24 is not swallowed by that sync.
    original_batch = setup.client.batch

    async def request_meanwhile(*args: Any, **kwargs: Any) -> Any:
        answer = await original_batch(*args, **kwargs)
        await request_sync(setup)
        return answer

    setup.client.batch = request_meanwhile  # type: ignore[method-assign]
    await request_sync(setup)
    assert await sync_due(setup.database, setup.client, **kwargs) == 1
    setup.client.batch = original_batch  # type: ignore[method-assign]
    assert await sync_due(setup.database, setup.client, **kwargs) == 1
    assert await sync_due(setup.database, setup.client, **kwargs) == 0


async def test_ensure_employee_creates_the_row_once(setup: Setup) -> None:
    user = EventUser(
        id=7, name="Ольга Лебедева", first_name="Ольга", last_name="Лебедева", departments=(4,)
    )
    async with setup.database.unit_of_work() as uow:
        portal = await uow.portals.get(setup.portal_id)
        assert portal is not None
        first = await ensure_employee(uow, portal, user, now=START, language="ru")
        assert first.created
        await uow.commit()
    async with setup.database.unit_of_work() as uow:
        portal = await uow.portals.get(setup.portal_id)
        assert portal is not None
        again = await ensure_employee(uow, portal, user, now=START + timedelta(minutes=1))
        assert not again.created
        assert again.employee.id == first.employee.id
        await uow.commit()
    row = (await setup.employees())[7]
    assert (row.name, row.department_ids, row.language) == ("Ольга Лебедева", [4], "ru")
    assert (row.created_at, row.synced_at, row.email) == (START, None, None)
    assert (row.active, row.all_offices, row.is_admin) == (True, True, False)

    # The directory sync then completes the row instead of creating another one.
    result = await setup.sync()
    assert result.created == len(setup.sandbox.state.employees()) - 1
    assert result.updated == 1
    row = (await setup.employees())[7]
    assert row.id == first.employee.id
    assert row.email == setup.sandbox.state.users[7].email
    assert row.language == "ru"  # the person's own choice survives the sync


async def test_concurrent_first_contacts_create_one_row(setup: Setup) -> None:
    user = EventUser(id=3, first_name="Мария", last_name="Иванова")

    async def contact(minute: int) -> bool:
        async with setup.database.unit_of_work() as uow:
            portal = await uow.portals.get(setup.portal_id)
            assert portal is not None
            ensured = await ensure_employee(
                uow, portal, user, now=START + timedelta(minutes=minute)
            )
            await asyncio.sleep(0.05)  # hold the transaction open while the other one runs
            await uow.commit()
            return ensured.created

    created = await asyncio.gather(*(contact(m) for m in range(4)))
    assert sorted(created) == [False, False, False, True]
    employees = await setup.employees()
    assert list(employees) == [3]
    assert employees[3].name == "Мария Иванова"


def test_a_missing_time_zone_keeps_the_known_one() -> None:
    record = {"ID": "5", "NAME": "Елена", "LAST_NAME": "Соколова", "UF_DEPARTMENT": ["3", 3]}
    user = parse_user(record)
    assert user is not None
    assert not user.has_timezone
    assert user.department_ids == (3,)
    row = Employee(
        bitrix_user_id=5,
        name="Елена Соколова",
        first_name="Елена",
        last_name="Соколова",
        email=None,
        timezone="Asia/Yekaterinburg",
        department_ids=[3],
        active=True,
    )
    assert not _apply(row, user)
    assert row.timezone == "Asia/Yekaterinburg"
    cleared = parse_user({**record, "TIME_ZONE": ""})
    assert cleared is not None
    assert cleared.has_timezone
    assert _apply(row, cleared)
    assert row.timezone is None
    zoned = parse_user({**record, "TIME_ZONE": "Europe/Samara", "ACTIVE": "N"})
    assert zoned is not None
    assert zoned.timezone == "Europe/Samara"
    assert not zoned.active


async def test_the_portal_row_is_unknown_or_inactive(setup: Setup) -> None:
    async with setup.database.unit_of_work() as uow:
        portal = await uow.portals.get(setup.portal_id)
        assert isinstance(portal, Portal)
        portal.status = "uninstalled"
        await uow.commit()
    before = await setup.snapshot()
    with pytest.raises(Exception, match="not active"):
        await setup.sync()
    assert await setup.snapshot() == before
