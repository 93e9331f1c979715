"""The outbox takes the portal's turn before it fills the request: replies queued while a worker
waits for the rate limit go out in the same batch, not one turn later."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack

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
RATE = 1.0  # one request a second, no burst: a worker that just sent waits a second
BURST = 1


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
        app = create_sandbox_app(SandboxConfig(base_url=f"http://127.0.0.1:{port}"))
        stack.enter_context(serve_asgi(app, port=port))
        yield app.state.portal


async def queue(database: Database, portal_id: int, users: list[int], text: str) -> None:
    async with database.unit_of_work() as uow:
        portal = await uow.portals.get(portal_id)
        assert portal is not None
        replies = [Reply(str(user), f"{text} {user}") for user in users]
        await enqueue_replies(uow, portal, replies, now=CLOCK.now(), config=CONFIG)
        await uow.commit()


async def test_replies_queued_while_waiting_for_the_turn_go_in_the_same_request(
    database: Database, sandbox: SandboxPortal
) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        setup = BitrixClient(http, RateLimiter())
        portal_id = await connect_webhook(
            database, sandbox.webhook_url(), "turn-bot", clock=CLOCK, config=CONFIG
        )
        await ensure_bot(database, setup, portal_id, clock=CLOCK, config=CONFIG)
        async with database.unit_of_work() as uow:
            portal = await uow.portals.lock(portal_id)
            assert portal is not None
            portal.rate_limit, portal.rate_burst = RATE, BURST
            member_id = portal.member_id
            await uow.commit()
        people = [u.id for u in sandbox.state.employees()][:4]

        client = BitrixClient(http, RateLimiter(RATE, BURST))
        dispatcher = OutboxDispatcher(database, client, CLOCK, worker="turn")
        await client.limiter.acquire(member_id)  # a request just went: the next waits 1 s
        await queue(database, portal_id, people[:1], "first")
        requests_before = sandbox.stats.requests
        sending = asyncio.create_task(dispatcher.dispatch_once())
        await asyncio.sleep(0.3)  # the worker has claimed the first reply and waits its turn
        await queue(database, portal_id, people[1:], "later")
        handled = await sending

    assert handled == 4
    assert sandbox.stats.requests - requests_before == 1  # one batch carried all four
    async with database.unit_of_work() as uow:
        rows = (await uow.session.execute(select(OutboxMessage.status))).scalars().all()
    assert rows == ["sent"] * 4
    for user in people:
        assert len([m for m in sandbox.messages(str(user)) if str(user) in m.text]) == 1
