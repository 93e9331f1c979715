"""timebot's web app and a sandbox portal on one real port (the `timebot demo` composition, but
without an in-process worker), with the OAuth server's answers recorded.

The sandbox installs the application over HTTP once the server listens; timebot stores the
portal in the given database and registers its bot. Tests then start `timebot worker`
processes (see `worker_env`) or their own clients against the same database and sandbox.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from tests.support.servers import free_port, serve_asgi
from timebot.config import Settings
from timebot.demo import DemoApp
from timebot.sandbox import Portal, SandboxConfig, create_sandbox_app
from timebot.web.app import create_app


@dataclass
class OAuthAnswers:
    """Wraps an ASGI app and records the status and body of every `/oauth/token` answer."""

    app: Any
    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def errors(self) -> list[str]:
        with self.lock:
            return [str(body.get("error")) for status, body in self.answers if status != 200]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith("/oauth/token"):
            await self.app(scope, receive, send)
            return
        status = 0
        chunks: list[bytes] = []

        async def recording_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, recording_send)
        try:
            body = json.loads(b"".join(chunks) or b"{}")
        except ValueError:
            body = {"error": "not JSON"}
        with self.lock:
            self.answers.append((status, body if isinstance(body, dict) else {}))


@dataclass
class Stack:
    base_url: str
    database_url: str
    portal: Portal
    config: SandboxConfig
    demo: DemoApp
    oauth: OAuthAnswers

    @property
    def container(self) -> Any:
        """The web app's container (its Bitrix24 client and limiter)."""
        return self.demo.timebot_app.state.container

    def worker_env(self, **extra: str) -> dict[str, str]:
        """Environment for a `timebot worker` process against this stack."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBOT_")}
        env.update(
            TIMEBOT_ENVIRONMENT="test",
            TIMEBOT_DATABASE_URL=self.database_url,
            TIMEBOT_PUBLIC_URL=self.base_url,
            TIMEBOT_BITRIX_CLIENT_ID=self.config.client_id,
            TIMEBOT_BITRIX_CLIENT_SECRET=self.config.client_secret,
            TIMEBOT_BITRIX_OAUTH_URL=self.portal.oauth_url,
            TIMEBOT_BITRIX_EVENT_MODE="webhook",
            TIMEBOT_LOG_LEVEL="WARNING",
        )
        env.update(extra)
        return env


async def wait_until(predicate: Callable[[], Any], within: float = 30.0, step: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(step)
    raise AssertionError(f"condition not met within {within} s")


async def wait_installed(stack: Stack, within: float = 30.0) -> None:
    """Wait until timebot has answered the sandbox's ONAPPINSTALL (portal stored, bot set up)."""

    def answered() -> bool:
        done = [d for d in stack.portal.deliveries if d.event == "ONAPPINSTALL"]
        if done and done[-1].status != 200:
            raise AssertionError(f"install failed: {done[-1]}")
        return bool(done)

    await wait_until(answered, within)


@contextmanager
def timebot_with_sandbox(database_url: str, **sandbox: Any) -> Iterator[Stack]:
    """Serve timebot (no worker) + a sandbox portal (config overrides as keywords)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = replace(
        SandboxConfig(),
        base_url=base,
        install_url=f"{base}/bitrix/install",
        handler_url=f"{base}/bitrix/app",
        **sandbox,
    )
    settings = Settings(
        database_url=database_url,
        public_url=base,
        bitrix_client_id=config.client_id,
        bitrix_client_secret=config.client_secret,
        bitrix_oauth_url=f"{base}/oauth/token/",
        bitrix_event_mode="webhook",
    )
    demo = DemoApp(create_app(settings=settings, migrate=True), create_sandbox_app(config), base)
    oauth = OAuthAnswers(demo)
    with serve_asgi(oauth, port=port):
        yield Stack(base, database_url, demo.sandbox_app.state.portal, config, demo, oauth)
