"""Fixtures: the sandbox portal over real HTTP, a recorder for pushed events, and timebot's
Bitrix24 client pointed at the sandbox."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest

from tests.support.servers import free_port, serve_asgi
from timebot.sandbox import Portal, SandboxConfig, create_sandbox_app

StartSandbox = Callable[..., Portal]


@pytest.fixture
def start_sandbox() -> Iterator[StartSandbox]:
    """Start sandbox portals (config overrides as keyword arguments); all stop after the test."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> Portal:
            port = free_port()
            config = replace(SandboxConfig(), base_url=f"http://127.0.0.1:{port}", **overrides)
            app = create_sandbox_app(config)
            stack.enter_context(serve_asgi(app, port=port))
            return app.state.portal  # type: ignore[no-any-return]

        yield start


@dataclass
class Recorder:
    """An event handler URL that records every POSTed body."""

    base_url: str = ""
    bodies: dict[str, list[bytes]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base_url + path

    def received(self, path: str) -> list[bytes]:
        with self.lock:
            return list(self.bodies.get(path, []))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self.lock:
            self.bodies.setdefault(scope["path"], []).append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    handler = Recorder()
    with serve_asgi(handler) as base:
        handler.base_url = base
        yield handler


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client
