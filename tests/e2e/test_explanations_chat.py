"""Explain & approve, end to end in the sandbox portal's chat.

Maria (user 3, sales) comes at 09:40 on Monday. On Tuesday morning the digest job queues the
managers' digests; Igor (user 2, head of sales) presses *Запросить объяснение: Мария Иванова*
under his digest, Maria gets the violation in words with quick answers and presses
*Пробки/транспорт*, Igor (and Anna, the portal administrator) get a card, Igor accepts, Maria
is told, Anna's later tap learns who decided, and the next digest no longer counts the
violation. Then Igor types `/explain` for Dmitry's absence; Dmitry presses *Другое…*, writes
his own reason, Igor declines it, and a late answer is refused. The org chart comes from the
portal through the directory sync.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from tests.e2e.chat import ChatDriver, chat, commands_of, sync_people, wait_for
from timebot.domain.clock import FixedClock
from timebot.gateway.config import GatewayConfig
from timebot.jobs.digest import collect_digests, run_digest
from timebot.sandbox.config import SandboxConfig
from timebot.services.digest import DigestRules
from timebot.storage import Database
from timebot.storage.tables import AuditEntry, Employee, Explanation

MONDAY = date(2026, 11, 23)
MONDAY_0940_MSK = datetime(2026, 11, 23, 6, 40, tzinfo=UTC)
TUESDAY_0905_MSK = datetime(2026, 11, 24, 6, 5, tzinfo=UTC)

# The reminders job would close days and nag on its own schedule, and the worker's scheduler
# would queue the digest on its own: the test runs the digest job itself, at a known moment.
QUIET = {
    "remind_checkin_after_minutes": None,
    "remind_checkout_after_minutes": None,
    "auto_close_after_minutes": None,
    "digest_time": "off",
}


async def prepare(database_url: str, clock: FixedClock) -> tuple[int, dict[int, int]]:
    """Sync the org chart and people now, quiet the schedules; (portal id, user → employee id)."""
    portal_id = await sync_people(database_url, clock, QUIET)
    db = Database.from_url(database_url)
    try:
        async with db.unit_of_work() as uow:
            ids = {e.bitrix_user_id: e.id for e in await uow.employees.all(portal_id)}
        return portal_id, ids
    finally:
        await db.dispose()


async def rows(database_url: str, query: Any) -> list[Any]:
    db = Database.from_url(database_url)
    try:
        async with db.unit_of_work() as uow:
            found = list(await uow.session.scalars(query))
            uow.session.expunge_all()
            return found
    finally:
        await db.dispose()


def expect(bot: ChatDriver, dialog: str, matches: Callable[[str], bool]) -> Awaitable[Any]:
    """Wait (when awaited) for a bot message in `dialog`, newer than now, whose text matches."""
    before = len(bot.bot_messages(dialog))

    def found() -> Any:
        return next((m for m in bot.bot_messages(dialog)[before:] if matches(m.text)), None)

    return wait_for(found)


def contains(*parts: str) -> Callable[[str], bool]:
    return lambda text: all(p in text for p in parts)


def buttons(message: Any) -> list[tuple[str, str, str]]:
    return [
        (b["TEXT"], b["COMMAND"], b.get("COMMAND_PARAMS", ""))
        for b in (message.keyboard or [])
        if b.get("COMMAND")
    ]


async def queue_digest(bot: ChatDriver, portal_id: int) -> None:
    """What the scheduler does at 09:00: queue Monday's digests (the worker delivers them)."""
    sandbox = SandboxConfig(
        base_url=bot.base_url,
        install_url=f"{bot.base_url}/bitrix/install",
        handler_url=f"{bot.base_url}/bitrix/app",
    )
    db = Database.from_url(bot.database_url)
    try:
        result = await run_digest(
            db,
            portal_id,
            MONDAY,
            now=bot.clock.now(),
            config=GatewayConfig(client_id=sandbox.client_id),
            email=False,
        )
    finally:
        await db.dispose()
    assert result.messages >= 1, result.detail()


async def digest_lines(database_url: str, portal_id: int, manager: int, now: datetime) -> Any:
    db = Database.from_url(database_url)
    try:
        async with db.unit_of_work() as uow:
            portal = await uow.portals.get(portal_id)
            assert portal is not None
            digests, _ = await collect_digests(
                uow, portal, MONDAY, now=now, country="RU", rules=DigestRules(send_empty=True)
            )
        return next(d for d in digests if d.manager_user_id == manager)
    finally:
        await db.dispose()


async def test_explained_from_the_digest_accepted_and_one_declined(database_url: str) -> None:
    async with chat(database_url, "webhook", MONDAY_0940_MSK) as bot:
        portal_id, ids = await prepare(database_url, bot.clock)
        maria, dmitry = ids[3], ids[4]

        # Monday: Maria comes at 09:40, lunches 13:00–14:00, leaves at 18:45.
        assert "Приход отмечен" in (await bot.says(3, "Пришла")).text
        for at, command in (("13:00", "/break"), ("14:00", "/back"), ("18:45", "/checkout")):
            h, m = map(int, at.split(":"))
            bot.at(datetime(2026, 11, 23, h - 3, m, tzinfo=UTC))
            await bot.says(3, command)

        # Tuesday 09:05: the digest reaches Igor with a button per person.
        bot.at(TUESDAY_0905_MSK)
        digest = expect(bot, "2", contains("Нарушения за Пн 23.11.2026"))
        await queue_digest(bot, portal_id)
        digest_message = await digest
        params = f"{maria}:2026-11-23:late_start"
        assert ("Запросить объяснение: Мария Иванова", "explain", params) in buttons(digest_message)

        # Igor presses it; Maria is asked with quick answers.
        question = expect(bot, "3", contains("просит объяснить"))
        sent = await bot.presses(2, "explain", params)
        assert "Запрос отправлен" in sent.text
        assert "[user=3]Мария Иванова[/user]" in sent.text
        asked = await question
        assert "Руководитель ([user=2]Игорь Петров[/user]) просит объяснить" in asked.text
        assert "опоздание 23.11 (пришли в 09:40, допуск до 09:10)" in asked.text
        [row] = await rows(database_url, select(Explanation))
        assert (row.employee_id, row.local_date, row.violation_kind, row.status) == (
            maria,
            MONDAY,
            "late_start",
            "requested",
        )
        assert [b[0] for b in buttons(asked)] == [
            "Пробки/транспорт",
            "Болел(а)",
            "Работал(а) удалённо",
            "Был(а) у клиента/на встрече",
            "Согласовано с руководителем",
            "Другое…",
        ]
        assert {b[2] for b in buttons(asked)} == {
            f"{row.id}:{code}"
            for code in ("traffic", "sick", "remote", "client", "agreed", "other")
        }
        # Asking again (typed; a second tap on the same button is the same event) asks nobody
        # twice.
        again = await bot.says(2, f"/explain {params}")
        assert "Запрос уже отправлен" in again.text
        assert len(await rows(database_url, select(Explanation))) == 1
        # A colleague may not ask.
        refused = await bot.says(4, f"/explain {params}")
        assert "может только руководитель" in refused.text

        # Maria answers with one tap; Igor and Anna (the administrator) get the card.
        bot.at(TUESDAY_0905_MSK + timedelta(minutes=3))
        card = expect(bot, "2", contains(f"Объяснение №{row.id}"))
        anna_card = expect(bot, "1", contains(f"Объяснение №{row.id}"))
        thanks = await bot.presses(3, "reason", f"{row.id}:traffic")
        assert "Спасибо! Ответ «Пробки/транспорт» отправлен руководителю" in thanks.text
        card_message = await card
        assert "[user=3]Мария Иванова[/user] — опоздание 23.11 (пришёл в 09:40" in card_message.text
        assert "Причина: Пробки/транспорт" in card_message.text
        assert buttons(card_message) == [
            ("Принять", "accept", str(row.id)),
            ("Не принимать", "decline", str(row.id)),
        ]
        assert commands_of(await anna_card) == ["accept", "decline"]

        # Igor accepts; Maria is told; Anna's later tap learns who decided.
        bot.at(TUESDAY_0905_MSK + timedelta(minutes=10))
        told = expect(bot, "3", contains("Ваше объяснение принято"))
        done = await bot.presses(2, "accept", str(row.id))
        assert f"Объяснение №{row.id} принято" in done.text
        told_message = await told
        assert "[user=2]Игорь Петров[/user]" in told_message.text
        assert "опоздание 23.11" in told_message.text
        late_tap = await bot.presses(1, "decline", str(row.id))
        assert "уже рассмотрено: принято ([user=2]Игорь Петров[/user])" in late_tap.text
        [row] = await rows(database_url, select(Explanation))
        assert (row.status, row.reason, row.decided_by) == ("accepted", "Пробки/транспорт", 2)
        assert row.decided_at == TUESDAY_0905_MSK + timedelta(minutes=10)
        audit = await rows(
            database_url,
            select(AuditEntry).where(AuditEntry.entity == "explanation").order_by(AuditEntry.id),
        )
        assert [(a.action, a.actor, a.entity_id) for a in audit] == [
            ("explanation.requested", "user:2", str(row.id)),
            ("explanation.answered", "user:3", str(row.id)),
            ("explanation.accepted", "user:2", str(row.id)),
        ]
        # The digest no longer counts Maria's late start.
        after = await digest_lines(database_url, portal_id, 2, bot.clock.now())
        assert all(line.employee_id != maria for line in after.lines)
        assert after.excused >= 1

        # Igor types the command for Dmitry's absence; Dmitry writes his own reason.
        question = expect(bot, "4", contains("просит объяснить"))
        sent = await bot.says(2, f"/explain {dmitry}:2026-11-23:absent")
        assert "Запрос отправлен" in sent.text
        assert "отсутствие 23.11" in (await question).text
        second = next(r for r in await rows(database_url, select(Explanation)) if r.id != row.id)
        asked_words = await bot.presses(4, "reason", f"{second.id}:other")
        assert "Напишите причину" in asked_words.text
        card = expect(bot, "2", contains(f"Объяснение №{second.id}"))
        thanks = await bot.says(4, "Был на конференции партнёров")
        assert "«Был на конференции партнёров»" in thanks.text
        assert "Причина: Был на конференции партнёров" in (await card).text

        told = expect(bot, "4", contains("Ваше объяснение не принято"))
        done = await bot.presses(2, "decline", str(second.id))
        assert f"Объяснение №{second.id} не принято" in done.text
        assert "«Был на конференции партнёров»" in (await told).text
        # A late answer after the decision is refused politely.
        late = await bot.presses(4, "reason", f"{second.id}:sick")
        assert "уже есть решение: не принято ([user=2]Игорь Петров[/user])" in late.text
        [_, second] = await rows(database_url, select(Explanation).order_by(Explanation.id))
        assert (second.employee_id, second.violation_kind, second.status) == (
            dmitry,
            "absent",
            "rejected",
        )
        assert (second.reason, second.decided_by) == ("Был на конференции партнёров", 2)
        # Plain chat works again after the free-text answer.
        assert "Не понял" in (await bot.says(4, "как дела")).text
        employees = await rows(database_url, select(Employee).where(Employee.id == dmitry))
        assert employees[0].bitrix_user_id == 4
