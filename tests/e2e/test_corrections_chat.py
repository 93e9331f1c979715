"""Corrections with approval, end to end in the sandbox portal's chat.

Maria (user 3, sales) checks in and forgets to check out; the next morning she writes "вчера
ушла в 18:10, забыла отметиться". Her head Igor (user 2) gets a card with *Одобрить* /
*Отклонить*; a colleague (user 4) and Maria herself cannot decide it; Igor approves, and the
record gets a new check-out mark pointing at the request while the old marks stay as they
were. Then a second request is rejected and changes nothing. The org chart comes from the
portal through the directory sync.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from tests.e2e.chat import ChatDriver, chat, commands_of, sync_people, wait_for
from timebot.domain.clock import FixedClock
from timebot.storage import Database
from timebot.storage.tables import (
    AuditEntry,
    Correction,
    CorrectionDecision,
    Department,
    Employee,
    Mark,
)

MONDAY_0905_MSK = datetime(2026, 11, 23, 6, 5, tzinfo=UTC)


# The reminders job would close the forgotten day on its own schedule (every 30 s), racing the
# test's requests; its rules are off here (corrections of automatic closes: integration tests).
NO_REMINDERS = {
    "remind_checkin_after_minutes": None,
    "remind_checkout_after_minutes": None,
    "auto_close_after_minutes": None,
}


async def sync_org_chart(database_url: str, clock: FixedClock) -> None:
    """Load departments and heads now (the worker's directory loop would take a minute)."""
    await sync_people(database_url, clock, NO_REMINDERS)
    db = Database.from_url(database_url)
    try:
        async with db.unit_of_work() as uow:
            heads = {
                d.bitrix_id: d.head_user_id for d in await uow.session.scalars(select(Department))
            }
        assert heads[2] == 2  # sales: Igor heads it
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


async def marks_of(database_url: str, user_id: int) -> list[Mark]:
    employee = select(Employee.id).where(Employee.bitrix_user_id == user_id).scalar_subquery()
    return await rows(
        database_url, select(Mark).where(Mark.employee_id == employee).order_by(Mark.id)
    )


def expect(bot: ChatDriver, dialog: str, matches: Callable[[str], bool]) -> Awaitable[Any]:
    """Wait (when awaited) for a bot message in `dialog` newer than now whose text `matches`;
    other messages, such as reminders, may come in between."""
    before = len(bot.bot_messages(dialog))

    def found() -> Any:
        return next((m for m in bot.bot_messages(dialog)[before:] if matches(m.text)), None)

    return wait_for(found)


async def reply_to(bot: ChatDriver, user_id: int, text: str, matches: Callable[[str], bool]) -> Any:
    """`user_id` writes `text` to the bot; their answer that `matches`."""
    answer = expect(bot, str(user_id), matches)
    await bot.portal.user_says(user_id, str(bot.bot_id), text)
    return await answer


def contains(*parts: str) -> Callable[[str], bool]:
    return lambda text: all(p in text for p in parts)


async def test_a_correction_approved_and_one_rejected(database_url: str) -> None:
    start = MONDAY_0905_MSK
    async with chat(database_url, "webhook", start) as bot:
        await sync_org_chart(database_url, bot.clock)
        answer = await bot.says(3, "Пришла")
        assert "Приход отмечен" in answer.text

        # Tuesday 09:00 in Moscow: Monday's day is still open.
        tuesday = start + timedelta(days=1) - timedelta(minutes=5)
        bot.at(tuesday)
        card = expect(bot, "2", contains("Исправление отметки"))
        sent = await reply_to(
            bot, 3, "вчера ушла в 18:10, забыла отметиться", contains("отправлен руководителю")
        )
        corrections = await rows(database_url, select(Correction))
        assert len(corrections) == 1
        first = corrections[0]
        monday_1810 = datetime(2026, 11, 23, 15, 10, tzinfo=UTC)
        assert first.claimed_at == monday_1810
        assert first.kind == "check_out"
        assert first.reason == "забыла отметиться"
        assert f"Запрос №{first.id}" in sent.text
        assert "[user=2]Игорь Петров[/user]" in sent.text
        assert f"[timestamp={int(monday_1810.timestamp())}" in sent.text

        card_message = await card
        assert f"№{first.id}" in card_message.text
        assert "[user=3]Мария Иванова[/user]" in card_message.text
        assert "Причина: забыла отметиться" in card_message.text
        assert commands_of(card_message) == ["approve", "reject"]
        assert {b.get("COMMAND_PARAMS") for b in card_message.keyboard if b.get("COMMAND")} == {
            str(first.id)
        }

        # A colleague cannot decide it, and neither can Maria.
        refused = await reply_to(bot, 4, f"/approve {first.id}", contains("только руководитель"))
        assert f"№{first.id}" in refused.text
        await reply_to(bot, 3, f"/approve {first.id}", contains("Свои исправления одобрять нельзя"))
        assert await rows(database_url, select(CorrectionDecision)) == []
        before = {m.id: (m.kind, m.at, m.recorded_at) for m in await marks_of(database_url, 3)}
        assert "check_in" in [k for k, _, _ in before.values()]

        # Igor approves from his card; Maria hears about it.
        bot.at(tuesday + timedelta(minutes=10))
        told = expect(bot, "3", contains(f"№{first.id} одобрено"))
        done = await bot.presses(2, "approve", str(first.id))
        assert "одобрено" in done.text
        assert "Отметка записана" in done.text
        told_message = await told
        assert "[user=2]Игорь Петров[/user]" in told_message.text
        assert commands_of(told_message) == ["checkin", "week"]  # the day is closed now

        # A second tap says who decided.
        again = await bot.presses(2, "reject", str(first.id))
        assert "уже рассмотрен: одобрено" in again.text

        marks = await marks_of(database_url, 3)
        for mark in marks:
            if mark.id in before:
                assert (mark.kind, mark.at, mark.recorded_at) == before[mark.id]  # untouched
        added = [m for m in marks if m.id not in before]
        assert len(added) == 1
        new = added[0]
        assert (new.kind, new.at, new.source) == ("check_out", monday_1810, "correction")
        assert new.correction_id == first.id
        assert new.recorded_at == tuesday + timedelta(minutes=10)
        assert new.supersedes_mark_id is None  # a missing mark was added
        decisions = await rows(database_url, select(CorrectionDecision))
        assert [(d.decision, d.decided_by, d.resulting_mark_id) for d in decisions] == [
            ("approved", 2, new.id)
        ]
        audit = await rows(
            database_url,
            select(AuditEntry).where(AuditEntry.entity == "correction").order_by(AuditEntry.id),
        )
        assert [(a.action, a.actor, a.entity_id) for a in audit] == [
            ("correction.requested", "user:3", str(first.id)),
            ("correction.approved", "user:2", str(first.id)),
        ]

        # Tuesday: the check-in works again (Monday is closed), 40 minutes late.
        bot.at(tuesday + timedelta(minutes=40))
        await reply_to(bot, 3, "пришла", contains("Приход отмечен", "Опоздание: 40 мин"))
        sent = await reply_to(
            bot, 3, "пришла в 9:00 — была у клиента", contains("отправлен руководителю")
        )
        second = (await rows(database_url, select(Correction).order_by(Correction.id)))[-1]
        assert second.id != first.id
        assert second.target_mark_id == marks_of_kind(await marks_of(database_url, 3), "check_in")
        assert "перенести приход" in sent.text

        told = expect(bot, "3", contains(f"№{second.id} отклонено"))
        done = await bot.presses(2, "reject", str(second.id))
        assert "отклонено" in done.text
        assert "Отметки не изменились" in (await told).text
        after = await marks_of(database_url, 3)
        assert len(after) == len(marks) + 1  # only Tuesday's own check-in
        assert all(m.correction_id != second.id for m in after)
        decisions = await rows(database_url, select(CorrectionDecision))
        assert sorted((d.correction_id, d.decision) for d in decisions) == [
            (first.id, "approved"),
            (second.id, "rejected"),
        ]
        audit = await rows(
            database_url, select(AuditEntry.action).where(AuditEntry.entity_id == str(second.id))
        )
        assert sorted(audit) == ["correction.rejected", "correction.requested"]


def marks_of_kind(marks: list[Mark], kind: str) -> int:
    """The id of the newest mark of `kind`."""
    return [m.id for m in marks if m.kind == kind][-1]


async def test_a_missing_reason_is_asked_for_in_fetch_mode(sqlite_url: str) -> None:
    start = MONDAY_0905_MSK
    async with chat(sqlite_url, "fetch", start) as bot:
        await sync_org_chart(sqlite_url, bot.clock)
        await bot.says(4, "пришёл")
        bot.at(start + timedelta(hours=5))  # 14:05: lunch was at 13:00, nobody pressed "Перерыв"
        asked = await bot.says(4, "ушёл на обед в 13:00")
        assert "Напишите причину" in asked.text
        answer = await bot.says(4, "отмена")
        assert "отменён" in answer.text
        asked = await bot.says(4, "ушёл на обед в 13:00")
        assert "Напишите причину" in asked.text
        assert await rows(sqlite_url, select(Correction)) == []
        # «забыл отметиться» is a reminders phrase too: the waiting dialog takes it first.
        card = expect(bot, "2", contains("Исправление отметки"))
        sent = await reply_to(bot, 4, "забыл отметиться", contains("отправлен руководителю"))
        assert "Причина: забыл отметиться" in sent.text
        correction = (await rows(sqlite_url, select(Correction)))[0]
        assert (correction.kind, correction.reason) == ("break_start", "забыл отметиться")
        assert "Дмитрий Кузнецов" in (await card).text

        told = expect(bot, "4", contains("одобрено"))
        await bot.presses(2, "approve", str(correction.id))
        # Approved: he has been on a break since 13:00, and his buttons say so.
        assert commands_of(await told) == ["back", "checkout", "status"]
        answer = await bot.says(4, "статус")
        assert "На перерыве" in answer.text

        # Anything else after the request is plain chat again.
        answer = await bot.says(4, "как дела")
        assert "Не понял" in answer.text
