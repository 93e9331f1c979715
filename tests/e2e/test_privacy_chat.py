"""`/me` ("мои данные") end to end in the sandbox portal's chat: a person sees what timebot keeps
about them — profile, counts, the latest location fixes (coordinates only while kept, rounded),
the retention period and whom to ask for deletion — in Russian and English, and never in a
group chat.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.e2e.chat import chat, sync_people, wait_for
from timebot.domain.clock import FixedClock
from timebot.services.retention import RETENTION_SETTING
from timebot.storage import Database
from timebot.storage.tables import Employee, LocationFix, Office, Zone

MONDAY_0905_MSK = datetime(2026, 11, 23, 6, 5, tzinfo=UTC)
NO_REMINDERS = {
    "remind_checkin_after_minutes": None,
    "remind_checkout_after_minutes": None,
    "auto_close_after_minutes": None,
}


async def seed(database_url: str, clock: FixedClock, user_id: int) -> datetime:
    """Directory sync (names, e-mails, departments), an admin, an office with a zone, consent,
    a 30-day retention period and two fixes: a recent one, and an erased old one."""
    portal_id = await sync_people(database_url, clock)
    db = Database.from_url(database_url)
    try:
        now = clock.now()
        recent = now - timedelta(minutes=30)
        async with db.unit_of_work() as uow:
            portal = await uow.portals.lock(portal_id)
            assert portal is not None
            portal.settings = {**(portal.settings or {}), **NO_REMINDERS, RETENTION_SETTING: 30}
            people = {
                e.bitrix_user_id: e
                for e in await uow.session.scalars(
                    select(Employee).where(Employee.portal_id == portal.id)
                )
            }
            people[1].is_admin = True  # Anna, the director
            me = people[user_id]
            me.consented_at = now - timedelta(days=3)
            office = Office(portal_id=portal.id, name="Москва", created_at=now)
            uow.session.add(office)
            await uow.flush()
            zone = Zone(
                portal_id=portal.id,
                office_id=office.id,
                name="Главный вход",
                kind="circle",
                lat=55.7558,
                lon=37.6173,
                radius_m=100.0,
                created_at=now,
            )
            uow.session.add(zone)
            await uow.flush()
            uow.session.add_all(
                [
                    LocationFix(
                        portal_id=portal.id,
                        employee_id=me.id,
                        at=recent,
                        lat=55.75581234,
                        lon=37.61734567,
                        accuracy_m=9.0,
                        ip="192.168.10.5",
                        verdict="inside",
                        zone_id=zone.id,
                        distance_m=87.6,
                        flags=[],
                    ),
                    LocationFix(
                        portal_id=portal.id,
                        employee_id=me.id,
                        at=now - timedelta(days=40),
                        lat=None,
                        lon=None,
                        verdict="outside",
                        zone_id=zone.id,
                        distance_m=1540.0,
                        flags=[],
                        erased_at=now - timedelta(days=10),
                    ),
                ]
            )
            await uow.commit()
        return recent
    finally:
        await db.dispose()


@pytest.mark.parametrize("event_mode", ["webhook", "fetch"])
async def test_a_person_sees_what_is_kept_about_them(database_url: str, event_mode: str) -> None:
    async with chat(database_url, event_mode, MONDAY_0905_MSK) as bot:
        # First contact: nothing recorded yet.
        answer = await bot.says(3, "Мои данные?")
        text = answer.text
        assert text.startswith("[b]Что я храню о вас[/b]")
        assert "Отметок прихода, ухода и перерывов: 0. Геоотметок: 0." in text
        assert "Согласие на обработку геолокации: не давали" in text
        assert "хранятся 90 дн." in text
        assert "обратитесь к администратору портала Битрикс24" in text
        assert "Последние геоотметки" not in text

        assert "Приход отмечен" in (await bot.says(3, "пришла")).text
        recent = await seed(database_url, bot.clock, 3)

        answer = await bot.says(3, "/me")
        text = answer.text
        lines = text.split("[br]")
        assert "Имя: Мария Иванова" in lines
        assert "E-mail: mariya.ivanova@romashka.example" in lines
        assert "Часовой пояс: Europe/Moscow (по умолчанию)" in lines
        assert "Отделы: Отдел продаж" in lines
        consent = bot.clock.now() - timedelta(days=3)
        assert (
            f"Согласие на обработку геолокации: дано [timestamp={int(consent.timestamp())} "
            "format=SHORT_DATE_FORMAT]"
        ) in lines
        assert (
            "Отметок прихода, ухода и перерывов: 1. Геоотметок: 2. "
            "У 1 из них координаты уже удалены."
        ) in lines
        fixes = [line for line in lines if line.startswith("•")]
        assert len(fixes) == 2
        assert fixes[0] == (
            f"• [timestamp={int(recent.timestamp())} format=SHORT_DATE_FORMAT] "
            f"[timestamp={int(recent.timestamp())} format=SHORT_TIME_FORMAT] — "
            "в офисе (зона «Главный вход»); 88 м до границы зоны; координаты 55.7558, 37.6173"
        )
        assert (
            "вне офиса (зона «Главный вход»); 1,5 км до границы зоны; координаты удалены"
            in (fixes[1])
        )
        assert "хранятся 30 дн." in text
        assert "напишите администратору: [user=1]Анна Смирнова[/user]" in text
        assert "192.168.10.5" not in text  # the IP is kept but not worth showing

        # English, by words, after switching the language.
        await bot.says(3, "/lang en")
        text = (await bot.says(3, "my data")).text
        assert text.startswith("[b]What I keep about you[/b]")
        assert "Check-in, check-out and break marks: 1. Location fixes: 2." in text
        assert "at the office (zone “Главный вход”)" in text
        assert "coordinates erased" in text
        assert "kept for 30 days" in text


async def test_asked_in_a_group_chat_the_answer_goes_to_the_private_chat(sqlite_url: str) -> None:
    async with chat(sqlite_url, "webhook", MONDAY_0905_MSK) as bot:
        general = "chat1"
        mention = f"[USER={bot.bot_id}]timebot[/USER] что вы храните?"
        await bot.portal.user_says(3, general, mention)
        # The bot's greeting may land in the group meanwhile: wait for the answers themselves.
        await wait_for(lambda: "Ответил в личном чате." in texts(bot.bot_messages(general)))
        await wait_for(lambda: any("Что я храню" in t for t in texts(bot.bot_messages("3"))))
        assert not any("храню" in t or "E-mail" in t for t in texts(bot.bot_messages(general)))


def texts(messages: list[Any]) -> list[str]:
    return [m.text for m in messages]
