"""Many people checking in at the same moment: every event is stored, applied and recorded.

PostgreSQL took `FOR UPDATE` on the portal row after a first contact had inserted its employee
(which key-share locks the portal): two such transactions deadlocked. The portal lock is now
`FOR NO KEY UPDATE`; this test is the morning rush in miniature: 32 first check-ins received at
once (one group-committed batch after another), then applied by two appliers at the same time.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from tests.integration.gateway.wire import MONDAY, message, portal_database
from timebot.bitrix import parse_event
from timebot.bot.app import build_dispatcher
from timebot.domain.clock import FixedClock
from timebot.gateway.config import GatewayConfig
from timebot.gateway.inbox import InboxApplier, InboxWriter
from timebot.gateway.intake import Outcome, PortalCache, receive_event
from timebot.storage import Database
from timebot.storage.tables import Employee, Mark, OutboxMessage


async def test_a_rush_of_first_check_ins_is_all_recorded(database_url: str) -> None:
    db, _ = await portal_database(database_url)
    clock = FixedClock(MONDAY)
    people = range(100, 132)
    appliers_db = [Database.from_url(database_url) for _ in range(2)]
    try:
        portals, writer = PortalCache(db), InboxWriter(db)

        async def check_in(user_id: int) -> Outcome:
            payload = message(user_id, 1000 + user_id, "пришёл")
            return await receive_event(
                parse_event(payload), payload, portals=portals, store=writer.store, now=clock.now()
            )

        outcomes = await asyncio.gather(*(check_in(u) for u in people))
        assert set(outcomes) == {Outcome.ACCEPTED}
        appliers = [
            InboxApplier(d, clock, build_dispatcher(), GatewayConfig(), worker=f"w{i}")
            for i, d in enumerate(appliers_db)
        ]
        await asyncio.gather(*(a.drain() for a in appliers))
        async with db.unit_of_work() as uow:
            count = uow.session.scalar
            assert await uow.events.counts() == {"applied": len(people)}
            assert await count(select(func.count()).select_from(Employee)) == len(people)
            assert await count(select(func.count()).select_from(Mark)) == len(people)
            assert await count(select(func.count()).select_from(OutboxMessage)) == len(people)
    finally:
        for d in appliers_db:
            await d.dispose()
        await db.dispose()
