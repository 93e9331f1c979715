"""A sandbox portal on a loopback port and our database connected to it by an inbound webhook:
what the gateway's sync tests (directory, networks, working-time limits) start from."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import httpx

from tests.support.servers import free_port, serve_asgi
from timebot.bitrix import BitrixClient, RateLimiter
from timebot.domain.clock import FixedClock
from timebot.gateway.config import GatewayConfig
from timebot.gateway.install import connect_webhook
from timebot.sandbox import Portal as SandboxPortal
from timebot.sandbox import SandboxConfig, create_sandbox_app
from timebot.storage import Database
from timebot.storage.migrate import upgrade


@dataclass
class WebhookSetup:
    """The database, a client for the portal, the portal, our portal row's id, the clock."""

    database: Database
    client: BitrixClient
    sandbox: SandboxPortal
    portal_id: int
    clock: FixedClock


SetupT = TypeVar("SetupT", bound=WebhookSetup)


@contextmanager
def running_sandbox() -> Iterator[SandboxPortal]:
    """A sandbox portal served on a free loopback port."""
    with ExitStack() as stack:
        port = free_port()
        app = create_sandbox_app(SandboxConfig(base_url=f"http://127.0.0.1:{port}", burst=200))
        stack.enter_context(serve_asgi(app, port=port))
        portal: SandboxPortal = app.state.portal
        yield portal


@asynccontextmanager
async def webhook_setup(
    kind: type[SetupT], database_url: str, sandbox: SandboxPortal, member: str, start: datetime
) -> AsyncIterator[SetupT]:
    """A migrated database with `sandbox` connected as portal `member`, the clock at `start`."""
    await upgrade(database_url)
    database = Database.from_url(database_url)
    clock = FixedClock(start)
    portal_id = await connect_webhook(
        database, sandbox.webhook_url(), member, clock=clock, config=GatewayConfig()
    )
    async with httpx.AsyncClient(timeout=30) as http:
        # No retries: a failure must surface at once (the outage tests rely on it).
        client = BitrixClient(http, RateLimiter(rate=100, burst=200), max_retries=0)
        try:
            yield kind(database, client, sandbox, portal_id, clock)
        finally:
            await database.dispose()
