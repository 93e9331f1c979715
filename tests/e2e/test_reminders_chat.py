"""Reminders end to end, through the sandbox portal: the job queues a reminder, the outbox
delivers it into the person's chat, the person presses its buttons, and a day nobody closes is
closed provisionally at the cut-off and the person is told.

The reminders job is run here as a second worker would run it (same database, the test's clock)
so the test does not wait for the app worker's 30-second tick; the app's own worker runs too, and
the dedupe keys keep the two from sending anything twice.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from tests.e2e.chat import ChatDriver, chat, commands_of, wait_for
from timebot.bot.tracking import duration
from timebot.gateway.config import GatewayConfig
from timebot.jobs.reminders import run_reminders
from timebot.storage import Database
from timebot.storage.tables import Employee, Mark, Portal

MONDAY_0850_MSK = datetime(2026, 11, 23, 5, 50, tzinfo=UTC)
MSK_OFFSET = timedelta(hours=3)


def msk(day: int, hh: int, mm: int = 0) -> datetime:
    """A wall time in Moscow in November 2026, as UTC."""
    return datetime(2026, 11, day, hh, mm, tzinfo=UTC) - MSK_OFFSET


async def run_job(
    bot: ChatDriver, dialog: str, count: int = 1, *, at: datetime | None = None
) -> list[Any]:
    """Move the clock to `at` (if given) and run the reminders job once; wait for `count` new
    bot messages in `dialog`. Messages are counted from before the clock moves: the app's own
    worker runs the same job on its own tick and may be the one that sends them."""
    before = len(bot.bot_messages(dialog))
    if at is not None:
        bot.at(at)
    db = Database.from_url(bot.database_url)
    try:
        await run_reminders(db, clock=bot.clock, config=GatewayConfig())
    finally:
        await db.dispose()
    await wait_for(lambda: len(bot.bot_messages(dialog)) >= before + count)
    return bot.bot_messages(dialog)[before:]


async def with_db(url: str, fn: Any) -> Any:
    db = Database.from_url(url)
    try:
        async with db.unit_of_work() as uow:
            result = await fn(uow)
            await uow.commit()
            return result
    finally:
        await db.dispose()


async def enable_morning_reminder(url: str, minutes: int) -> None:
    async def write(uow: Any) -> None:
        portal = (await uow.session.scalars(select(Portal))).one()
        settings = {**(portal.settings or {}), "remind_checkin_after_minutes": minutes}
        await uow.session.execute(
            update(Portal).where(Portal.id == portal.id).values(settings=settings)
        )

    await with_db(url, write)


async def last_mark(url: str, user_id: int) -> Mark:
    async def read(uow: Any) -> Mark:
        employee = (
            await uow.session.scalars(select(Employee).where(Employee.bitrix_user_id == user_id))
        ).one()
        mark = (
            await uow.session.scalars(
                select(Mark)
                .where(Mark.employee_id == employee.id)
                .order_by(Mark.at.desc(), Mark.id.desc())
                .limit(1)
            )
        ).one()
        uow.session.expunge(mark)
        return mark  # type: ignore[no-any-return]

    return await with_db(url, read)  # type: ignore[no-any-return]


async def test_reminders_buttons_and_the_provisional_close(database_url: str) -> None:
    async with chat(database_url, "webhook", MONDAY_0850_MSK) as bot:
        # The person has talked to the bot before; the admin turns morning reminders on.
        answer = await bot.says(3, "статус")
        assert "Сейчас вы не на работе" in answer.text
        await enable_morning_reminder(database_url, 15)

        # --- Monday morning: nobody has checked in by 09:15 → a reminder with "Пришёл".
        morning = (await run_job(bot, "3", at=msk(23, 9, 15)))[-1]
        assert "отметки о приходе пока нет" in morning.text
        assert commands_of(morning) == ["checkin", "week"]
        answer = await bot.presses(3, "checkin")
        assert "Приход отмечен" in answer.text
        assert "Опоздание: 15 мин" in answer.text

        # --- Monday evening: still checked in at 18:30 → Ещё работаю / Ушёл в 18:00 / Забыл.
        reminder = (await run_job(bot, "3", at=msk(23, 18, 31)))[-1]
        assert "закончился" in reminder.text
        assert commands_of(reminder) == ["stillworking", "leftat", "forgot"]
        assert [b["TEXT"] for b in reminder.keyboard if b.get("COMMAND")] == [
            "Ещё работаю",
            "Ушёл в 18:00",
            "Забыл отметиться",
        ]
        answer = await bot.presses(3, "stillworking")
        assert "Напомню об уходе" in answer.text
        assert f"[timestamp={int(msk(23, 19, 31).timestamp())}" in answer.text  # +60 min

        # An hour after the answer the reminder comes again; this time the person forgot.
        again = (await run_job(bot, "3", at=msk(23, 19, 32)))[-1]
        assert commands_of(again) == ["stillworking", "leftat", "forgot"]
        answer = await bot.presses(3, "forgot")
        assert "Когда вы ушли?" in answer.text
        assert "ушёл в 18:05" in answer.text
        assert commands_of(answer) == ["leftat", "stillworking"]
        answer = await bot.presses(3, "leftat")
        assert "Рабочий день завершён" in answer.text
        assert "Время указано вами" in answer.text
        assert commands_of(answer) == ["checkin", "week"]
        stated = await last_mark(database_url, 3)
        assert stated.kind == "check_out"
        assert stated.at == msk(23, 18, 0)
        assert stated.provisional is True
        assert stated.flags == ["stated_time"]

        # --- Tuesday: checked in, the reminder comes, nobody answers → closed at 22:00.
        bot.at(msk(24, 9, 0))
        await bot.says(3, "пришла")
        reminder = (await run_job(bot, "3", at=msk(24, 18, 30)))[-1]
        assert commands_of(reminder) == ["stillworking", "leftat", "forgot"]
        closed = (await run_job(bot, "3", at=msk(24, 22, 0)))[-1]
        assert "закрыт автоматически" in closed.text
        assert f"Отработано: {duration(timedelta(hours=9), 'ru')}." in closed.text
        assert commands_of(closed) == ["checkin", "week"]
        auto = await last_mark(database_url, 3)
        assert auto.kind == "check_out"
        assert auto.at == msk(24, 18, 0)  # the scheduled end
        assert auto.provisional is True
        assert auto.flags == ["auto_closed"]
        assert auto.source == "auto_close"

        # The job runs again (and the app's worker ticks too): nothing more is sent.
        count = len(bot.bot_messages("3"))
        db = Database.from_url(database_url)
        try:
            stats = await run_reminders(db, clock=bot.clock, config=GatewayConfig())
        finally:
            await db.dispose()
        assert "autoclose" not in stats.done
        assert "checkout" not in stats.done
        await asyncio.sleep(0.5)
        assert len(bot.bot_messages("3")) == count

        # --- Wednesday: the time can also be written in words.
        bot.at(msk(25, 9, 0))
        await bot.says(3, "пришла")
        bot.at(msk(25, 19, 0))
        answer = await bot.says(3, "Ушла в 18:05, забыла отметиться")
        assert "Рабочий день завершён" in answer.text
        assert "Время указано вами" in answer.text
        typed = await last_mark(database_url, 3)
        assert typed.at == msk(25, 18, 5)
        assert typed.flags == ["stated_time"]
        assert typed.provisional is True

        # With no day open, the same words are a correction request for the head instead.
        answer = await bot.says(3, "ушла в 17:50, забыла отметиться")
        assert "исправлени" in answer.text  # the corrections dialogue answered
        assert "Открытого рабочего дня нет" not in answer.text
