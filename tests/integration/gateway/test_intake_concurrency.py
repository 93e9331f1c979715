"""Many people checking in at the same moment: every event is accepted and recorded.

PostgreSQL took `FOR UPDATE` on the portal row after a first contact had inserted its employee
(which key-share locks the portal): two such transactions deadlocked. The portal lock is now
`FOR NO KEY UPDATE`; this test is the morning rush in miniature.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select

from tests.support.rows import migrated_with, portal_row
from timebot.bitrix import BotMessageAdded, EventAuth, EventUser
from timebot.bot.app import build_dispatcher
from timebot.domain.clock import FixedClock
from timebot.gateway.config import GatewayConfig
from timebot.gateway.intake import Outcome, accept_event
from timebot.storage.tables import Employee, Mark, OutboxMessage

NOW = datetime(2026, 11, 23, 6, 5, tzinfo=UTC)
TOKEN = "app-token-1"
BOT = 77


def checkin_from(user_id: int) -> BotMessageAdded:
    return BotMessageAdded(
        event_name="ONIMBOTV2MESSAGEADD",
        auth=EventAuth(member_id="m1", application_token=TOKEN),
        ts=NOW,
        dedupe_key=f"msg:{1000 + user_id}",
        generation="v2",
        bot_id=BOT,
        dialog_id=str(user_id),
        chat_id=user_id,
        chat_type="private",
        user=EventUser(id=user_id, name=f"User {user_id}"),
        message_id=1000 + user_id,
        author_id=user_id,
        text="пришёл",
    )


async def test_a_rush_of_first_check_ins_is_all_recorded(database_url: str) -> None:
    db, _ = await migrated_with(
        database_url, portal_row(application_token=TOKEN, bot_id=BOT, member_id="m1")
    )
    try:
        dispatcher = build_dispatcher()
        config = GatewayConfig()
        clock = FixedClock(NOW)
        people = range(100, 132)
        outcomes = await asyncio.gather(
            *(
                accept_event(db, checkin_from(u), clock=clock, dispatcher=dispatcher, config=config)
                for u in people
            )
        )
        assert set(outcomes) == {Outcome.ACCEPTED}
        async with db.unit_of_work() as uow:
            count = uow.session.scalar
            assert await count(select(func.count()).select_from(Employee)) == len(people)
            assert await count(select(func.count()).select_from(Mark)) == len(people)
            assert await count(select(func.count()).select_from(OutboxMessage)) == len(people)
    finally:
        await db.dispose()
