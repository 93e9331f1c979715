"""Composition root: the one place that reads settings and picks concrete classes.

Everything else receives what it needs from the `Container` built here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from timebot.bitrix import BitrixClient, RateLimiter
from timebot.bot.app import build_dispatcher
from timebot.bot.config import BotConfig
from timebot.bot.router import Dispatcher
from timebot.config import Settings, get_settings
from timebot.domain.clock import Clock, SystemClock
from timebot.gateway.config import GatewayConfig
from timebot.gateway.tokens import DatabaseTokenRefresher
from timebot.logs import configure_logging
from timebot.metrics import count_mark
from timebot.storage.committed_marks import on_committed_mark
from timebot.storage.database import Database
from timebot.storage.repositories.rate_buckets import RateBucketStore


@dataclass
class Container:
    """Process-wide collaborators, built once and closed on shutdown."""

    settings: Settings
    database: Database
    clock: Clock
    http: httpx.AsyncClient
    bitrix: BitrixClient
    gateway: GatewayConfig
    dispatcher: Dispatcher
    _closed: bool = field(default=False, repr=False)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.http.aclose()
        await self.database.dispose()


def gateway_config(settings: Settings) -> GatewayConfig:
    secret = settings.bitrix_client_secret
    return GatewayConfig(
        client_id=settings.bitrix_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        oauth_url=settings.bitrix_oauth_url,
        public_url=settings.public_url,
        event_mode=settings.bitrix_event_mode,
        default_language=settings.default_language,
        default_timezone=settings.default_timezone,
        outbox_max_attempts=settings.outbox_max_attempts,
        inbox_lease_seconds=settings.inbox_lease_seconds,
        inbox_max_attempts=settings.inbox_max_attempts,
        bot=BotConfig(
            public_url=settings.public_url,
            secret_key=settings.secret_key.get_secret_value(),
        ),
    )


def build_container(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    configure_logs: bool = True,
) -> Container:
    """Build the process's collaborators from settings (read lazily when not given)."""
    settings = settings or get_settings()
    if configure_logs:
        configure_logging(level=settings.log_level, json=settings.json_logs)
    clock = clock or SystemClock()
    database = Database.from_url(settings.database_url)
    on_committed_mark(count_mark)  # timebot_marks_total, once per process
    # One HTTP client per process, shared by every portal; Bitrix24 asks ≤ 60 s per request.
    http = httpx.AsyncClient(
        timeout=httpx.Timeout(60.0, connect=10.0),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        headers={"User-Agent": "timebot"},
    )
    gateway = gateway_config(settings)
    refresher = DatabaseTokenRefresher(
        database,
        http,
        oauth_url=gateway.oauth_url,
        client_id=gateway.client_id,
        client_secret=gateway.client_secret,
        clock=clock,
    )
    # One bucket per portal for every process on this database, as Bitrix24 meters the portal;
    # timed by the wall clock (the portal drains in real time, whatever `clock` says). One
    # request of the burst is left for the jitter between our count and the portal's.
    limiter = RateLimiter(store=RateBucketStore(database, clock=SystemClock()), headroom=1)
    bitrix = BitrixClient(http, limiter, refresher=refresher, clock=clock)
    return Container(
        settings=settings,
        database=database,
        clock=clock,
        http=http,
        bitrix=bitrix,
        gateway=gateway,
        dispatcher=build_dispatcher(),
    )


async def prepare_database(container: Container, *, force: bool = False) -> None:
    """Apply migrations automatically for SQLite (the embedded default), or when forced.

    PostgreSQL deployments run `timebot migrate` explicitly; concurrent starts are still safe
    (migrations take an advisory lock).
    """
    from timebot.storage.migrate import upgrade

    if force or container.settings.is_sqlite:
        await upgrade(container.settings.database_url)


async def connect_configured_webhook(container: Container) -> int | None:
    """Single-portal mode from settings: store the incoming webhook + bot token if given."""
    s = container.settings
    if not (s.bitrix_webhook_url and s.bitrix_bot_token):
        return None
    from timebot.gateway.install import connect_webhook

    return await connect_webhook(
        container.database,
        s.bitrix_webhook_url,
        s.bitrix_bot_token.get_secret_value(),
        clock=container.clock,
        config=container.gateway,
    )
