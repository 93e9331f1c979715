"""Per-portal plan limits: after the bot is registered timebot asks `app.info` for the plan,
stores (rate, burst) on the portal row, and every dispatcher meters the portal by them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.servers import free_port, serve_asgi
from tests.support.stack import timebot_with_sandbox, wait_installed
from timebot.bitrix import (
    BitrixClient,
    PortalAuth,
    RateLimiter,
    RestResponse,
    ServerError,
    send_message_params,
)
from timebot.domain.clock import SystemClock
from timebot.gateway.config import GatewayConfig
from timebot.gateway.install import connect_webhook, ensure_bot
from timebot.gateway.outbox import OutboxDispatcher
from timebot.sandbox import Portal as SandboxPortal
from timebot.sandbox import SandboxConfig, create_sandbox_app
from timebot.storage import Database
from timebot.storage.migrate import upgrade

ENTERPRISE = {"license": "ru_ent250", "rate": 5.0, "burst": 250}
CLOCK = SystemClock()
CONFIG = GatewayConfig()


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    await upgrade(database_url)
    db = Database.from_url(database_url)
    yield db
    await db.dispose()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


def start_sandbox(stack: ExitStack, **overrides: Any) -> SandboxPortal:
    port = free_port()
    config = SandboxConfig(base_url=f"http://127.0.0.1:{port}", **overrides)
    app = create_sandbox_app(config)
    stack.enter_context(serve_asgi(app, port=port))
    portal: SandboxPortal = app.state.portal
    return portal


@pytest.fixture
def sandboxes() -> Iterator[Any]:
    with ExitStack() as stack:
        yield lambda **overrides: start_sandbox(stack, **overrides)


@dataclass(frozen=True)
class Row:
    member_id: str
    bot_id: int | None
    rate_limit: float
    rate_burst: int


async def portal_row(database: Database, portal_id: int) -> Row:
    async with database.unit_of_work() as uow:
        portal = await uow.portals.get(portal_id)
        assert portal is not None
        return Row(portal.member_id, portal.bot_id, portal.rate_limit, portal.rate_burst)


class AppInfoDown(BitrixClient):
    """A client whose `app.info` always fails, as if the portal answered 500 every time."""

    async def call(
        self, auth: PortalAuth, method: str, params: Mapping[str, Any] | None = None
    ) -> RestResponse:
        if method == "app.info":
            raise ServerError("INTERNAL_SERVER_ERROR", "app.info is down", 500)
        return await super().call(auth, method, params)


async def test_an_enterprise_webhook_portal_gets_its_plan_limits(
    database: Database, http: httpx.AsyncClient, sandboxes: Any
) -> None:
    sandbox = sandboxes(**ENTERPRISE)
    client = BitrixClient(http, RateLimiter())
    portal_id = await connect_webhook(
        database, sandbox.webhook_url(), "plan-limits-bot", clock=CLOCK, config=CONFIG
    )
    row = await portal_row(database, portal_id)
    assert (row.rate_limit, row.rate_burst) == (2.0, 50)

    bot_id = await ensure_bot(database, client, portal_id, clock=CLOCK, config=CONFIG)

    assert bot_id is not None
    assert [b.id for b in sandbox.bots()] == [bot_id]
    row = await portal_row(database, portal_id)
    assert (row.rate_limit, row.rate_burst) == (5.0, 250)
    assert client.limiter.limits(row.member_id) == (5.0, 250)


async def test_a_default_plan_keeps_two_per_second(
    database: Database, http: httpx.AsyncClient, sandboxes: Any
) -> None:
    sandbox = sandboxes(license="ru_pro100")
    client = BitrixClient(http, RateLimiter(rate=9.0, burst=9))
    portal_id = await connect_webhook(
        database, sandbox.webhook_url(), "plan-limits-bot", clock=CLOCK, config=CONFIG
    )
    await ensure_bot(database, client, portal_id, clock=CLOCK, config=CONFIG)
    row = await portal_row(database, portal_id)
    assert (row.rate_limit, row.rate_burst) == (2.0, 50)
    assert client.limiter.limits(row.member_id) == (2.0, 50)


async def test_bot_setup_survives_a_failing_app_info(
    database: Database, http: httpx.AsyncClient, sandboxes: Any
) -> None:
    sandbox = sandboxes(**ENTERPRISE)
    client = AppInfoDown(http, RateLimiter(), max_retries=0)
    portal_id = await connect_webhook(
        database, sandbox.webhook_url(), "plan-limits-bot", clock=CLOCK, config=CONFIG
    )
    bot_id = await ensure_bot(database, client, portal_id, clock=CLOCK, config=CONFIG)
    assert bot_id is not None
    assert [b.id for b in sandbox.bots()] == [bot_id]
    row = await portal_row(database, portal_id)
    assert row.bot_id == bot_id
    assert (row.rate_limit, row.rate_burst) == (2.0, 50)


async def test_an_oauth_install_stores_the_plan_and_any_dispatcher_applies_it(
    database_url: str, http: httpx.AsyncClient
) -> None:
    with timebot_with_sandbox(database_url, **ENTERPRISE) as stack:
        await wait_installed(stack)
        database = Database.from_url(database_url)
        try:
            async with database.unit_of_work() as uow:
                row = await uow.portals.by_member_id(stack.portal.member_id)
                assert row is not None
                portal_id, bot_id = row.id, row.bot_id
                assert (row.rate_limit, row.rate_burst) == (5.0, 250)
            # The process that installed the portal meters it by the plan already.
            assert stack.container.bitrix.limiter.limits(stack.portal.member_id) == (5.0, 250)

            # Another process (a fresh client at the 2/50 default) learns it from the row.
            assert bot_id is not None
            method, params = send_message_params(
                "v2", bot_id, "3", "план Enterprise", message_id_key="plan-1"
            )
            async with database.unit_of_work() as uow:
                await uow.outbox.enqueue(
                    portal_id=portal_id,
                    kind="message",
                    method=method,
                    payload={"params": params},
                    now=CLOCK.now(),
                    dedupe_key="plan-1",
                )
                await uow.commit()
            fresh = BitrixClient(http, RateLimiter())
            assert fresh.limiter.limits(stack.portal.member_id) == (2.0, 50)
            dispatcher = OutboxDispatcher(database, fresh, CLOCK, worker="plan-test")
            # (the bot's greetings to the group chats it joined are queued too)
            assert await dispatcher.dispatch_once() >= 1
            assert fresh.limiter.limits(stack.portal.member_id) == (5.0, 250)
            texts = [m.text for m in stack.portal.messages("3", bot_id=bot_id)]
            assert texts == ["план Enterprise"]
        finally:
            await database.dispose()
