"""`timebot demo`: the app, the worker and the sandbox portal in one process on SQLite.

One port serves both: `/rest/`, `/oauth/` and `/sandbox/` go to the sandbox portal, everything
else to timebot. Once the server listens, the sandbox installs the application, timebot
registers its bot, and a person can talk to it at `/sandbox/`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from timebot.config import Settings
from timebot.domain.clock import Clock
from timebot.logs import get_logger
from timebot.sandbox.app import create_sandbox_app
from timebot.sandbox.config import SandboxConfig
from timebot.web.app import create_app

log = get_logger(__name__)

SANDBOX_PREFIXES = ("/rest/", "/oauth/", "/sandbox")


class DemoApp:
    """Routes by path prefix and runs both apps' lifespans."""

    def __init__(self, timebot_app: Any, sandbox_app: Any, base_url: str) -> None:
        self.timebot_app = timebot_app
        self.sandbox_app = sandbox_app
        self.base_url = base_url
        self._installer: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope.get("path", "")
        target: ASGIApp = (
            self.sandbox_app if path.startswith(SANDBOX_PREFIXES) else self.timebot_app
        )
        await target(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _both(self) -> AsyncIterator[None]:
        async with (
            self.sandbox_app.router.lifespan_context(self.sandbox_app),
            self.timebot_app.router.lifespan_context(self.timebot_app),
        ):
            self._installer = asyncio.create_task(self._install_when_listening())
            try:
                yield
            finally:
                self._installer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._installer

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        stack = contextlib.AsyncExitStack()
        try:
            await stack.enter_async_context(self._both())
        except Exception as exc:
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()  # lifespan.shutdown
        await stack.aclose()
        await send({"type": "lifespan.shutdown.complete"})

    async def _install_when_listening(self) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as http:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/health")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        portal = self.sandbox_app.state.portal
        result = await portal.install_app()
        log.info("demo.installed", install=str(result)[:200])
        print(f"\n  timebot demo is ready: open {self.base_url}/sandbox/\n", flush=True)


def build_demo(
    *,
    host: str,
    port: int,
    database_url: str | None = None,
    event_mode: str = "webhook",
    clock: Clock | None = None,
) -> tuple[DemoApp, Settings]:
    """The demo composition; `clock` (tests) drives both timebot and the sandbox portal."""
    base_url = f"http://{host}:{port}"
    sandbox_config = SandboxConfig(
        base_url=base_url,
        install_url=f"{base_url}/bitrix/install",
        handler_url=f"{base_url}/bitrix/app",
    )
    overrides: dict[str, Any] = {
        "public_url": base_url,
        "bitrix_client_id": sandbox_config.client_id,
        "bitrix_client_secret": sandbox_config.client_secret,
        "bitrix_oauth_url": f"{base_url}/oauth/token/",
        "bitrix_event_mode": event_mode,
        "outbox_interval_seconds": 0.2,
        "poll_interval_seconds": 1.0,
    }
    if database_url:
        overrides["database_url"] = database_url
    settings = Settings(**overrides)
    timebot_app = create_app(settings=settings, with_worker=True, migrate=True, clock=clock)
    sandbox_app = create_sandbox_app(sandbox_config, clock=clock)
    return DemoApp(timebot_app, sandbox_app, base_url), settings
