"""The outbox lease holds while a send is slower than the lease itself.

Found by the fault tests: with a lease shorter than one REST call (a slow portal, or the
client's retries during an outage), a second worker claimed the same rows while the first was
still sending them, both sent, and the first one's settle was refused, so the rows bounced
between workers and every bounce was one more copy in the chat. The dispatcher now renews the
lease while it works; only a worker that stops renewing (it died) loses its rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from tests.support.servers import free_port, serve_asgi
from timebot.bitrix import BitrixClient, RateLimiter
from timebot.bot.replies import Reply
from timebot.domain.clock import SystemClock
from timebot.gateway.config import GatewayConfig
from timebot.gateway.install import connect_webhook, ensure_bot
from timebot.gateway.outbox import OutboxDispatcher
from timebot.gateway.replies import enqueue_replies
from timebot.sandbox import Portal as SandboxPortal
from timebot.sandbox import SandboxConfig, create_sandbox_app
from timebot.storage import Database
from timebot.storage.migrate import upgrade
from timebot.storage.tables import OutboxMessage

CLOCK = SystemClock()
CONFIG = GatewayConfig()
LEASE = timedelta(seconds=0.4)
LATENCY = 1.2  # every REST call takes three leases


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    await upgrade(database_url)
    db = Database.from_url(database_url)
    yield db
    await db.dispose()


@pytest.fixture
def sandbox() -> Iterator[SandboxPortal]:
    with ExitStack() as stack:
        port = free_port()
        config = SandboxConfig(base_url=f"http://127.0.0.1:{port}")
        app = create_sandbox_app(config)
        stack.enter_context(serve_asgi(app, port=port))
        yield app.state.portal


async def test_a_send_slower_than_the_lease_is_not_taken_over(
    database: Database, sandbox: SandboxPortal
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        setup = BitrixClient(http, RateLimiter())
        portal_id = await connect_webhook(
            database, sandbox.webhook_url(), "lease-bot", clock=CLOCK, config=CONFIG
        )
        await ensure_bot(database, setup, portal_id, clock=CLOCK, config=CONFIG)
        people = [u.id for u in sandbox.state.employees()][:3]
        async with database.unit_of_work() as uow:
            portal = await uow.portals.get(portal_id)
            assert portal is not None
            replies = [Reply(str(user), f"lease check for {user}") for user in people]
            await enqueue_replies(uow, portal, replies, now=CLOCK.now(), config=CONFIG)
            await uow.commit()
        sandbox.faults.update(latency=LATENCY)

        workers = [
            OutboxDispatcher(
                database,
                BitrixClient(http, RateLimiter()),
                CLOCK,
                worker=f"lease-{n}",
                lease=LEASE,
            )
            for n in range(2)
        ]

        async def run(dispatcher: OutboxDispatcher) -> None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 20
            while loop.time() < deadline:
                async with database.unit_of_work() as uow:
                    rows = (await uow.session.scalars(select(OutboxMessage))).all()
                    if all(r.status != "pending" for r in rows):
                        return
                await dispatcher.dispatch_once()
                await asyncio.sleep(0.05)

        await asyncio.gather(*(run(w) for w in workers))

    async with database.unit_of_work() as uow:
        query = select(OutboxMessage.status, OutboxMessage.attempts)
        rows = (await uow.session.execute(query)).all()
    assert [tuple(r) for r in rows] == [("sent", 1)] * len(people)
    for user in people:
        texts = [m.text for m in sandbox.messages(str(user)) if "lease check" in m.text]
        assert texts == [f"lease check for {user}"], (user, texts)
