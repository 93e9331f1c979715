"""The weekly statistics job on real SQLite and PostgreSQL: on Monday 9 November 2026 every
active employee with something in the week of 2-8 November (a shortened day, a holiday, a late
day) gets it as a chat message with the «Моя неделя» table and a chart link, the department
head gets the team grid, each exactly once — however often and by how many workers it runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.integration.services.test_timesheet import (
    ACCOUNTING,
    MSK,
    Org,
    People,
    make_org,
    populate,
)
from timebot.bot.config import BotConfig
from timebot.bot.people import person_for, plan_for, portal_calendar
from timebot.domain.clock import FixedClock
from timebot.jobs.weekly import TEAM_ROWS, send_weekly
from timebot.services.links import read_week_chart
from timebot.services.tracking import summarize_days
from timebot.services.weekly import gather_weekly, previous_week_key, week_monday
from timebot.storage.tables import Employee, OutboxMessage, Portal

MONDAY_MORNING = datetime(2026, 11, 9, 9, 0, tzinfo=MSK)
WEEK = "2026-W45"  # 2-8 November
CONFIG = BotConfig(public_url="https://timebot.example", secret_key="s3cret", country="RU")


@pytest.fixture
async def org(database_url: str) -> AsyncIterator[tuple[Org, People, int]]:
    org = await make_org(database_url)
    people = await populate(org)
    # The head of accounting is an employee too (she heads it: nobody above her).
    head = await org.employee("Галина Главбух", [ACCOUNTING], user_id=900)
    try:
        yield org, people, head
    finally:
        await org.db.dispose()


async def outbox(org: Org) -> dict[str, dict[str, Any]]:
    async with org.db.unit_of_work() as uow:
        rows = await uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.portal_id == org.portal_id)
        )
        return {r.dedupe_key or "": r.payload["params"] for r in rows}


def grid(params: dict[str, Any]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for block in params["fields"]["attach"]["BLOCKS"]:
        for row in block.get("GRID", []):
            rows.append((row["NAME"].replace("\u200b", ""), row["VALUE"]))
    return rows


def blocks(params: dict[str, Any], kind: str) -> list[Any]:
    return [b[kind] for b in params["fields"]["attach"]["BLOCKS"] if kind in b]


async def run(org: Org, at: datetime = MONDAY_MORNING, **kw: Any) -> int:
    return await send_weekly(org.db, clock=FixedClock(at), bot_config=CONFIG, **kw)


async def test_everyone_gets_their_week_and_the_head_gets_the_team(
    org: tuple[Org, People, int],
) -> None:
    world, people, head = org
    assert await run(world) == 5
    queued = await outbox(world)
    assert sorted(queued) == sorted(
        [
            f"weekly:{people.anna}:{WEEK}",
            f"weekly:{people.boris}:{WEEK}",
            f"weekly:{people.oleg}:{WEEK}",
            f"weekly:{head}:{WEEK}",
            f"weekly:team:900:{WEEK}",
        ]
    ), "Vera had no shift that week, Lev and Nina left"

    anna = queued[f"weekly:{people.anna}:{WEEK}"]
    assert anna["botId"] == 77
    assert anna["dialogId"] == "101"
    # 2 Nov 8 h, 3 Nov 7 h (shortened), 4 Nov holiday, 5 Nov late by 25 min, 6 Nov 8 h.
    assert anna["fields"]["message"] == (
        "[b]Итоги недели 02.11 – 08.11:[/b] отработано 31 ч из 31 ч (0 мин) · опозданий: 1"
    )
    rows = dict(grid(anna))
    assert rows["Вт 03.11"].startswith("7 ч / 7 ч · 09:00–17:00")
    assert rows["Ср 04.11"] == "выходной"
    assert rows["Чт 05.11"].endswith("опоздание 25 мин")
    assert "Пн 09.11" in rows  # the current week follows, as «Моя неделя» shows it
    image = blocks(anna, "IMAGE")[0][0]["LINK"]
    assert image.startswith("https://timebot.example/charts/week/")
    token = image.removeprefix("https://timebot.example/charts/week/").removesuffix(".png")
    link = read_week_chart("s3cret", token, MONDAY_MORNING)
    assert (link.employee_id, link.week.isoformat()) == (people.anna, "2026-11-09")

    boris = queued[f"weekly:{people.boris}:{WEEK}"]["fields"]["message"]
    assert "35 ч из 31 ч (+4 ч) · опозданий: 0" in boris  # 4 h on the holiday
    galina = queued[f"weekly:{head}:{WEEK}"]["fields"]["message"]
    assert "0 мин из 31 ч (−31 ч)" in galina

    team = queued[f"weekly:team:900:{WEEK}"]
    assert team["dialogId"] == "900"
    assert team["fields"]["message"] == (
        "[b]Команда: итоги недели 02.11 – 08.11:[/b] 2 чел., "
        "отработано 66 ч из 62 ч (+4 ч) · опозданий: 1"
    )
    assert grid(team) == [
        ("Анна Смирнова", "31 ч из 31 ч (0 мин) · опозданий: 1"),
        ("Борис Петров", "35 ч из 31 ч (+4 ч) · опозданий: 0"),
    ]
    colors = [row.get("COLOR_TOKEN") for b in blocks(team, "GRID") for row in b]
    assert colors == ["alert", None]


async def test_it_is_sent_once_however_often_and_by_how_many_it_runs(
    org: tuple[Org, People, int],
) -> None:
    world, _, _ = org
    first = await asyncio.gather(run(world), run(world))
    assert sum(first) == 5
    again = await run(world, MONDAY_MORNING + timedelta(hours=3))
    assert again == 0
    assert len(await outbox(world)) == 5
    # A week later the next week is new.
    assert await run(world, MONDAY_MORNING + timedelta(days=7)) > 0
    keys = await outbox(world)
    assert any(k.endswith(":2026-W46") for k in keys)


async def test_a_portal_can_turn_it_off_and_language_follows_the_person(
    org: tuple[Org, People, int],
) -> None:
    world, people, _ = org
    async with world.db.unit_of_work() as uow:
        await uow.session.execute(
            update(Employee).where(Employee.id == people.oleg).values(language="en")
        )
        await uow.session.execute(
            update(Portal)
            .where(Portal.id == world.portal_id)
            .values(settings={"weekly_stats": False})
        )
        await uow.commit()
    assert await run(world) == 0
    assert await run(world, portal_id=world.portal_id + 1) == 0  # no such portal
    async with world.db.unit_of_work() as uow:
        await uow.session.execute(
            update(Portal).where(Portal.id == world.portal_id).values(settings={})
        )
        await uow.commit()
    assert await run(world, portal_id=world.portal_id) == 5
    oleg = (await outbox(world))[f"weekly:{people.oleg}:{WEEK}"]["fields"]["message"]
    assert oleg == (
        "[b]Week in review 2 Nov – 8 Nov:[/b] worked 9 h of 31 h (−22 h) · late days: 0"
    )


async def test_the_days_match_what_my_week_shows(org: tuple[Org, People, int]) -> None:
    world, people, _ = org
    async with world.db.unit_of_work() as uow:
        portal = await uow.portals.get(world.portal_id)
        assert portal is not None
        calendar = await portal_calendar(
            uow, portal, country="RU", start=date(2026, 11, 1), end=date(2026, 11, 30)
        )
        digest = await gather_weekly(uow, portal, now=MONDAY_MORNING, calendar=calendar)
        bulk = {p.employee_id: p.days for p in digest.people}
        for employee_id in (people.anna, people.boris, people.oleg):
            employee = await uow.session.get(Employee, employee_id)
            assert employee is not None
            person = await person_for(uow, portal, employee)
            first = digest.monday
            plan = await plan_for(
                uow, portal, person, start=first, end=first + timedelta(days=13), country="RU"
            )
            one = await summarize_days(
                uow,
                person,
                plan=plan,
                first=first,
                last=first + timedelta(days=13),
                now=MONDAY_MORNING,
            )
            assert list(bulk[employee_id]) == one, employee_id


async def test_a_big_team_is_split_into_parts(database_url: str) -> None:
    world = await make_org(database_url)
    try:
        await world.department(ACCOUNTING, "Бухгалтерия", head=900)
        await world.employee("Галина Главбух", [ACCOUNTING], user_id=900)
        for i in range(TEAM_ROWS + 3):
            await world.employee(f"Сотрудник {i:02d}", [ACCOUNTING])
        assert await run(world) == TEAM_ROWS + 4 + 2
        queued = await outbox(world)
        first, second = queued[f"weekly:team:900:{WEEK}"], queued[f"weekly:team:900:{WEEK}:2"]
        assert len(grid(first)) == TEAM_ROWS
        assert len(grid(second)) == 3
        assert "(часть 2/2)" in second["fields"]["message"]
    finally:
        await world.db.dispose()


async def test_the_scheduler_can_name_the_week(org: tuple[Org, People, int]) -> None:
    world, people, _ = org
    assert previous_week_key(MONDAY_MORNING) == WEEK
    assert previous_week_key(date(2026, 11, 15)) == "2026-W45"  # Sunday: the week before
    assert week_monday(WEEK) == date(2026, 11, 2)
    # Run late, on Wednesday the 18th, for the week of 2-8 November.
    late = datetime(2026, 11, 18, 12, 0, tzinfo=MSK)
    assert await run(world, late, week=week_monday(WEEK)) == 5
    anna = (await outbox(world))[f"weekly:{people.anna}:{WEEK}"]
    assert anna["fields"]["message"].startswith("[b]Итоги недели 02.11 – 08.11:[/b]")
    assert await run(world, late, week=date(2026, 11, 5)) == 0  # the same week: already queued
