"""A work day kept in the chat, end to end: a person writes and presses buttons in the sandbox
portal, the bot records marks and answers with the keyboard of the new state.

Both event modes (webhook POSTs and fetch polling), on SQLite and PostgreSQL; the clock is the
test's, shared by timebot and the portal, so hours pass instantly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from tests.e2e.chat import chat, commands_of, wait_for
from timebot.storage import Database
from timebot.storage.tables import Employee, Mark

MONDAY_0905_MSK = datetime(2026, 11, 23, 6, 5, tzinfo=UTC)


async def marks_of(database_url: str, user_id: int) -> list[tuple[str, datetime]]:
    db = Database.from_url(database_url)
    try:
        async with db.unit_of_work() as uow:
            employee = (
                await uow.session.scalars(
                    select(Employee).where(Employee.bitrix_user_id == user_id)
                )
            ).one()
            rows = await uow.session.scalars(
                select(Mark).where(Mark.employee_id == employee.id).order_by(Mark.at, Mark.id)
            )
            return [(m.kind, m.at) for m in rows]
    finally:
        await db.dispose()


@pytest.mark.parametrize("event_mode", ["webhook", "fetch"])
async def test_a_whole_day_with_buttons_and_words(database_url: str, event_mode: str) -> None:
    start = MONDAY_0905_MSK
    async with chat(database_url, event_mode, start) as bot:
        answer = await bot.says(3, "Пришёл!")
        assert "Приход отмечен" in answer.text
        assert f"[timestamp={int(start.timestamp())}" in answer.text
        assert "По графику" in answer.text  # the default 09:00–18:00 schedule
        assert "Опоздание" not in answer.text  # 09:05 is within the 10-minute tolerance
        assert commands_of(answer) == ["break", "checkout", "status", "week"]

        bot.at(start + timedelta(hours=3))
        answer = await bot.presses(3, "break")
        assert "Перерыв с" in answer.text
        assert "Отработано: 3 ч." in answer.text
        assert commands_of(answer) == ["back", "checkout", "status"]

        bot.at(start + timedelta(hours=3, minutes=45))
        answer = await bot.says(3, "вернулась с обеда")
        assert "Перерыв длился 45 мин" in answer.text
        assert "Норма будет выполнена" in answer.text

        bot.at(start + timedelta(hours=5))
        answer = await bot.presses(3, "status")
        assert "Работаете с" in answer.text
        assert "Отработано: 4 ч 15 мин" in answer.text

        bot.at(start + timedelta(hours=8, minutes=45))
        answer = await bot.presses(3, "checkout")
        assert "Рабочий день завершён" in answer.text
        assert "Отработано: 8 ч, перерывы: 45 мин" in answer.text
        assert "Ровно норма" in answer.text
        assert commands_of(answer) == ["checkin", "week"]

        # Wrong-state actions: a friendly sentence, the right buttons, nothing recorded.
        answer = await bot.says(3, "ушла")
        assert "Рабочий день не начат" in answer.text
        assert commands_of(answer) == ["checkin", "week"]
        answer = await bot.says(3, "/back")
        assert "возвращаться неоткуда" in answer.text
        answer = await bot.says(3, "на обед")
        assert "только во время рабочего дня" in answer.text

    marks = await marks_of(database_url, 3)
    assert [k for k, _ in marks] == ["check_in", "break_start", "break_end", "check_out"]
    assert [at for _, at in marks] == [
        start,
        start + timedelta(hours=3),
        start + timedelta(hours=3, minutes=45),
        start + timedelta(hours=8, minutes=45),
    ]


async def test_second_check_in_and_late_arrival_are_explained(sqlite_url: str) -> None:
    late = datetime(2026, 11, 24, 6, 40, tzinfo=UTC)  # 09:40 in Moscow
    async with chat(sqlite_url, "webhook", late) as bot:
        answer = await bot.says(2, "/checkin")
        assert "Опоздание: 40 мин" in answer.text
        answer = await bot.says(2, "пришел")
        assert "Вы уже отметились" in answer.text
        assert commands_of(answer) == ["break", "checkout", "status", "week"]
        await bot.presses(2, "break")
        answer = await bot.says(2, "перерыв")
        assert "Вы уже на перерыве" in answer.text
        answer = await bot.says(2, "пришёл")
        assert "Нажмите «Вернулся»" in answer.text
    assert [k for k, _ in await marks_of(sqlite_url, 2)] == ["check_in", "break_start"]


async def test_english_and_language_switch(sqlite_url: str) -> None:
    async with chat(sqlite_url, "webhook", MONDAY_0905_MSK) as bot:
        answer = await bot.says(4, "/lang en")
        assert "Language: English" in answer.text
        answer = await bot.says(4, "I'm in")
        assert "Checked in at" in answer.text
        assert "Schedule:" in answer.text
        answer = await bot.says(4, "break")
        assert "Break from" in answer.text
        answer = await bot.says(4, "back")
        assert "Welcome back" in answer.text
        answer = await bot.says(4, "I'm out")
        assert "Work day ended" in answer.text
        answer = await bot.says(4, "/lang ru")
        assert "Язык: русский" in answer.text
        answer = await bot.says(4, "статус")
        assert "Сейчас вы не на работе" in answer.text


async def test_group_chat_mentions_and_private_answers(sqlite_url: str) -> None:
    async with chat(sqlite_url, "webhook", MONDAY_0905_MSK) as bot:
        general = "chat1"
        await bot.portal.user_says(2, general, "пришёл")  # not addressed to the bot
        mention = f"[USER={bot.bot_id}]timebot[/USER] пришёл"
        answer = await bot.says(2, mention, dialog=general, answers=2)
        acks = [m for m in bot.bot_messages(general) if "отметил" in m.text.lower()]
        assert len(acks) == 1
        assert "[user=2]" in acks[0].text.lower()
        assert not acks[0].keyboard  # buttons stay in the private chat
        private = bot.bot_messages("2")
        assert "Приход отмечен" in private[-1].text
        assert answer is not None
    assert [k for k, _ in await marks_of(sqlite_url, 2)] == ["check_in"]


async def test_my_week_shows_both_weeks_with_a_chart(database_url: str) -> None:
    start = MONDAY_0905_MSK - timedelta(days=7)  # Monday of the previous week, 09:05
    async with chat(database_url, "webhook", start) as bot:
        for day in range(8):  # Mon..Fri last week (5 days), then this Mon; weekends skipped
            morning = start + timedelta(days=day)
            if morning.weekday() >= 5:
                continue
            bot.at(morning + timedelta(minutes=30 if day == 2 else 0))  # late on Wednesday
            await bot.says(5, "пришла")
            bot.at(morning + timedelta(hours=9))
            await bot.says(5, "ушла")
        answer = await bot.says(5, "моя неделя")
        assert "Эта неделя" in answer.text
        assert answer.attach, "the week table comes as an ATTACH"
        wire = str(answer.attach)
        assert "GRID" in wire
        assert "Пн" in wire
        assert "Ср" in wire
        blocks = answer.attach if isinstance(answer.attach, list) else answer.attach["BLOCKS"]
        images = [b["IMAGE"] for b in blocks if "IMAGE" in b]
        assert images, f"no chart in {wire[:300]}"
        image = images[0][0] if isinstance(images[0], list) else images[0]
        url = image["LINK"]
        late_rows = [
            row for b in blocks if "GRID" in b for row in b["GRID"] if row["NAME"].startswith("Ср")
        ]
        assert late_rows
        assert "30" in late_rows[0]["VALUE"]
        async with httpx.AsyncClient() as http:
            png = await http.get(url)
        assert png.status_code == 200
        assert png.content.startswith(b"\x89PNG")


async def test_marks_are_mirrored_into_bitrix24_work_time(sqlite_url: str) -> None:
    start = MONDAY_0905_MSK
    async with chat(sqlite_url, "webhook", start) as bot:
        db = Database.from_url(sqlite_url)
        async with db.unit_of_work() as uow:
            portal = (await uow.portals.active())[0]
            portal.settings = {**(portal.settings or {}), "timeman_mirror": True}
            await uow.commit()
        await db.dispose()
        workdays = bot.portal.state.workdays
        await bot.says(6, "пришёл")
        await wait_for(lambda: 6 in workdays)
        assert workdays[6].finish is None
        assert workdays[6].paused_at is None
        bot.at(start + timedelta(hours=4))
        await bot.says(6, "на обед")
        await wait_for(lambda: workdays[6].paused_at is not None)
        bot.at(start + timedelta(hours=5))
        await bot.says(6, "вернулся")
        await wait_for(lambda: workdays[6].paused_at is None)
        bot.at(start + timedelta(hours=9))
        await bot.says(6, "ушёл")
        await wait_for(lambda: workdays[6].finish is not None)
        day = workdays[6]
        assert day.start == start
        assert day.finish == start + timedelta(hours=9)
        assert day.leaks == timedelta(hours=1)


async def test_a_refused_work_time_call_keeps_our_mark_and_tells_the_admin(
    sqlite_url: str,
) -> None:
    from timebot.sandbox.state import WorkDay as PortalWorkDay

    start = MONDAY_0905_MSK
    async with chat(sqlite_url, "webhook", start) as bot:
        db = Database.from_url(sqlite_url)
        async with db.unit_of_work() as uow:
            portal = (await uow.portals.active())[0]
            portal.settings = {**(portal.settings or {}), "timeman_mirror": True}
            installer = portal.settings.get("installed_by")
            await uow.commit()
        await db.dispose()
        assert installer == 1  # the sandbox's administrator installed the app
        # Bitrix24 still has Friday's day open for user 7: opening a new one is refused.
        friday = start - timedelta(days=3)
        bot.portal.state.workdays[7] = PortalWorkDay(user_id=7, start=friday)
        answer = await bot.says(7, "пришла")
        assert "Приход отмечен" in answer.text
        notices = await wait_for(
            lambda: [m for m in bot.portal.messages("1") if "Учёте рабочего времени" in m.text]
        )
        assert "[user=7]" in notices[0].text
        assert "timeman.open" in notices[0].text
    assert [k for k, _ in await marks_of(sqlite_url, 7)] == ["check_in"]
